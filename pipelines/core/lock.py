"""One writer at a time: the lake's run lock.

Every job that writes to the lake takes the lock for its whole run. A second
job started while the first runs fails at once with exit code 7 and a message
naming the holder (job, run date, process, host, start time); it has written
nothing. The lock is an exclusive `flock` on `<locks>/lake.lock`, which the
operating system releases when its holder ends for any reason, SIGKILL
included, so a crashed night never leaves a stale lock behind and the re-run
simply proceeds.

Where the lock lives: `paths.locks`, by default `<lake>/_locks` for a local
lake. A lake on HDFS or S3 has no local folder: set `paths.locks` to a folder
every driver host mounts (NFSv4 carries `flock`), or let the scheduler
serialise runs (Airflow `max_active_runs=1`); without either, the job warns
that concurrent runs are not prevented.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["LakeBusy", "lake_lock", "LOCK_FILE"]

log = logging.getLogger(__name__)

LOCK_FILE = "lake.lock"


class LakeBusy(RuntimeError):
    """Another job holds the lake's run lock."""


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another process (it has not said which yet)"
    return (f"{info.get('job', '?')} for run date {info.get('run_date', '?')} "
            f"(pid {info.get('pid', '?')} on {info.get('host', '?')}, since {info.get('started_at', '?')})")


@contextmanager
def lake_lock(lock_dir: str | Path | None, job: str, run_date: dt.date | None = None) -> Iterator[Path | None]:
    """Hold the lake's run lock for the block; raise `LakeBusy` at once if another job holds it.

    `lock_dir` None means no lock (a lake with no local folder and no `paths.locks`): logged as a warning.
    """
    if lock_dir is None:
        log.warning("no lock folder for this lake (set paths.locks): concurrent runs of %s are not prevented", job)
        yield None
        return
    folder = Path(lock_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LakeBusy(f"the lake is busy: {_holder(path)} holds {path}. This {job} run stopped before writing "
                           "anything; run it again when that one has finished (a holder that died has already "
                           "released the lock).") from None
        info = {"job": job, "run_date": run_date.isoformat() if run_date else None, "pid": os.getpid(),
                "host": socket.gethostname(), "started_at": dt.datetime.now().isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
        log.info("run lock taken: %s (%s)", path, info["job"])
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
