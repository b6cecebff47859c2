"""Every quality gate, named once: the layer it reads and the suites it runs.

Each layer declares its own suites (`pipelines/<layer>/suites.py`); this is the
one registry the nightly run and `jobs/check_quality.py` both read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipelines.bronze.suites import bronze_suites
from pipelines.gold.suites import gold_suites, watch_suites
from pipelines.quality import TableSuite
from pipelines.silver.suites import silver_suites

__all__ = ["Gate", "GATES"]


@dataclass(frozen=True)
class Gate:
    layer: str
    suites: Callable[[], list[TableSuite]]


GATES: dict[str, Gate] = {
    "bronze": Gate("bronze", bronze_suites),
    "silver": Gate("silver", silver_suites),
    "gold": Gate("gold", gold_suites),
    "watch": Gate("gold", watch_suites),     # gold/asset_watch, checked for the run date only
}
