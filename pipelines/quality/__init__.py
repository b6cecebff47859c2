"""Data-quality gates: validate a layer's tables with Great Expectations, stop on critical failures.

    report = run_gate(spark, "bronze", tables, run_date, context_dir, suites=bronze_suites())
    print(report.to_text())
    report.raise_if_failed()          # GateFailed names the failed critical expectations

Suites are declared with the typed checks of `pipelines.quality.checks`;
each layer declares its own (`pipelines/<layer>/suites.py`); `pipelines.flows.gates` names them.
"""

import os

# Must be set before Great Expectations is imported: no usage statistics leave
# a court network. An operator's explicit setting wins.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from pipelines.quality.checks import (  # noqa: E402
    Between,
    Check,
    Columns,
    Custom,
    Freshness,
    InSet,
    Integrity,
    Matches,
    NotNull,
    RowCountChange,
    Severity,
    TableSuite,
    Unique,
)
from pipelines.quality.gate import run_gate  # noqa: E402
from pipelines.quality.report import FailedExpectation, GateFailed, GateReport, TableOutcome  # noqa: E402

__all__ = [
    "run_gate", "GateReport", "GateFailed", "FailedExpectation", "TableOutcome",
    "TableSuite", "Check", "Severity", "Columns", "NotNull", "Unique", "Between", "InSet", "Matches",
    "Integrity", "Freshness", "RowCountChange", "Custom",
]
