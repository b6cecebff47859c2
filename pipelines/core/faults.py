"""Crash injection for the crash-safety tests: kill the job at a named point of a Delta write.

`ZHIXING_FAULT=<layer>/<table>:<when>[@<n>]` makes the job kill its whole process group (the
driver's Python, its JVM and the Python workers) with SIGKILL the n-th time (default the first)
it writes that table:

    before   the write has not started;
    during   the write's Spark job is running: some tasks may have written data files, no
             Delta commit has happened (the kill comes from inside a task);
    after    the write has committed, before the job's next step.

Nothing else reads the variable, and when it is unset a write pays one dictionary lookup. The
tests start each job in a session of its own (`start_new_session=True`), so the kill takes the
job and nothing else. `tests/helpers/crash.py` drives it.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

__all__ = ["ENV", "reached", "during"]

ENV = "ZHIXING_FAULT"
WHEN = ("before", "during", "after")
_seen: Counter = Counter()


def _target() -> tuple[str, int] | None:
    spec = os.environ.get(ENV)
    if not spec:
        return None
    point, _, nth = spec.partition("@")
    return point, int(nth or 1)


def table_of(uri: str) -> str:
    """`<layer>/<table>` of a table URI: the name a fault point uses."""
    return "/".join(uri.rstrip("/").split("/")[-2:])


def _kill(group: int | None = None) -> None:
    """SIGKILL the job's process group (`group`, from a worker), then this process's own: PySpark's
    worker daemon runs in a group of its own."""
    if group is not None:
        os.killpg(group, signal.SIGKILL)
    os.killpg(os.getpgrp(), signal.SIGKILL)
    time.sleep(60)          # never returns: the signal is on its way


def reached(uri: str, when: str) -> bool:
    """Count a `before`/`after` point of a write of `uri`; kill the job if it is the chosen one.
    Returns whether a `during` fault is armed for this write (the caller then wraps its input)."""
    target = _target()
    if target is None:
        return False
    point = f"{table_of(uri)}:{when}"
    _seen[point] += 1
    if point == target[0] and _seen[point] == target[1]:
        if when == "during":
            return True
        _kill()
    return False


def during(uri: str, df):
    """`df`, or, when a `during` fault is armed for this write, `df` passed through a step that kills
    the job from inside the first task after letting the other tasks run for a moment."""
    if not reached(uri, "during"):
        return df
    group = os.getpgrp()

    def kill_in_task(batches):
        from pyspark import TaskContext

        if TaskContext.get().partitionId() == 0:
            time.sleep(2.0)          # the other partitions' tasks write their files meanwhile
            _kill(group)
        yield from batches

    return df.mapInArrow(kill_in_task, df.schema)
