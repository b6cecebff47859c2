"""The one stage timer: every stage logs one line, `stage=<name> rows=<n> seconds=<s>`, then its own fields.

    with stage("gold.debtor_profile", log) as timed:
        profile = ...
        timed.rows = profile.count()
        timed.fields["new_cases"] = n            # appended as new_cases=n
    timed.seconds                                # after the block

A stage also logs `stage=<name> started`, so a slow stage shows in the log
while it runs. The nightly table (`pipelines.flows.nightly`) is made of these.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Stage", "stage", "stage_line"]


@dataclass
class Stage:
    name: str
    rows: int | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def stage_line(name: str, rows: int | None, seconds: float, fields: dict[str, Any] | None = None) -> str:
    """`stage=<name> rows=<n> seconds=<s> k=v ...`: rows is `-` when a stage counts none."""
    extra = "".join(f" {k}={v}" for k, v in (fields or {}).items())
    return f"stage={name} rows={'-' if rows is None else rows} seconds={seconds:.1f}{extra}"


@contextmanager
def stage(name: str, logger: logging.Logger, **fields: Any) -> Iterator[Stage]:
    """Time the block as stage `name`; log its line when it ends, also when it fails (with `failed=...`)."""
    timed = Stage(name, fields=dict(fields))
    logger.info("stage=%s started", name)
    try:
        yield timed
    except BaseException as exc:
        timed.seconds = timed.elapsed()
        logger.info("%s", stage_line(name, timed.rows, timed.seconds, {**timed.fields, "failed": type(exc).__name__}))
        raise
    timed.seconds = timed.elapsed()
    logger.info("%s", stage_line(name, timed.rows, timed.seconds, timed.fields))
