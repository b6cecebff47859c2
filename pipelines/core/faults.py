"""Crash injection for the crash-safety tests: kill the job at a named point.

`ZHIXING_FAULT=<point>[@<n>]` makes the job kill its whole process group (the driver's Python,
its JVM and the Python workers) with SIGKILL the n-th time (default the first) it reaches that
point. The points:

    <layer>/<table>:before   a Delta write of the table has not started;
    <layer>/<table>:during   the write's Spark job is running: some tasks may have written data
                             files, no Delta commit has happened (the kill comes from inside a task);
    <layer>/<table>:after    the write has committed, before the job's next step;
    file/<name>:during       a file (a clerk's CSV or XLSX, summary.md) is half written under its
                             temporary name, not yet moved into place (pipelines/exports/sheet.py);
    file/<name>:after        the file has been moved into place, before the next one;
    registry:<step>          between two calls to the model registry (models/registry.py).

Nothing else reads the variable, and when it is unset a point pays one dictionary lookup. The
tests start each job in a session of its own (`start_new_session=True`), so the kill takes the
job and nothing else. `tests/helpers/crash.py` drives it.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

__all__ = ["ENV", "armed", "point", "kill", "reached", "during"]

ENV = "ZHIXING_FAULT"
WHEN = ("before", "during", "after")
_seen: Counter = Counter()


def _target() -> tuple[str, int] | None:
    spec = os.environ.get(ENV)
    if not spec:
        return None
    name, _, nth = spec.partition("@")
    return name, int(nth or 1)


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


def armed(name: str) -> bool:
    """Count a pass through the point `name`; whether it is the one `ZHIXING_FAULT` chose.

    For a caller that must prepare the crash before it happens (half a file written, say) and
    then calls `kill()`; `point` is the usual form."""
    target = _target()
    if target is None:
        return False
    _seen[name] += 1
    return name == target[0] and _seen[name] == target[1]


def kill() -> None:
    """Kill the job now (its whole process group)."""
    _kill()


def point(name: str) -> None:
    """A named fault point: the job dies here when `ZHIXING_FAULT` chose it."""
    if armed(name):
        _kill()


def reached(uri: str, when: str) -> bool:
    """Count a `before`/`after` point of a write of `uri`; kill the job if it is the chosen one.
    Returns whether a `during` fault is armed for this write (the caller then wraps its input)."""
    if not armed(f"{table_of(uri)}:{when}"):
        return False
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
