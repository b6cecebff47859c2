"""What a quality gate found, in a form a job can print, test and act on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FailedExpectation", "TableOutcome", "GateReport", "GateFailed"]


@dataclass(frozen=True)
class FailedExpectation:
    table: str
    expectation: str                  # GX type, e.g. "expect_column_values_to_not_be_null"
    columns: tuple[str, ...]
    severity: str                     # critical | warning
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    observed_value: Any = None
    detail: str = ""                  # the check's note, or the error GX raised

    @property
    def label(self) -> str:
        """`table expectation(columns)`, as named in messages and logs."""
        return f"{self.table} {self.expectation}({', '.join(self.columns)})"

    def describe(self) -> str:
        if self.unexpected_count is not None:
            found = f"{self.unexpected_count} unexpected"
            if self.unexpected_percent is not None:
                found += f" ({self.unexpected_percent:.1f}% of non-null)"
        elif self.observed_value is not None:
            found = f"observed {self.observed_value}"
        else:
            found = "no result"
        return f"{self.severity.upper():<8} {self.label}: {found}" + (f"; {self.detail}" if self.detail else "")


@dataclass(frozen=True)
class TableOutcome:
    table: str
    rows: int
    expectations: int
    failures: int
    seconds: float


@dataclass
class GateReport:
    layer: str
    run_date: dt.date
    tables: list[TableOutcome] = field(default_factory=list)
    failures: list[FailedExpectation] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    docs_url: str | None = None
    seconds: float = 0.0

    @property
    def critical_failures(self) -> list[FailedExpectation]:
        return [f for f in self.failures if f.severity == "critical"]

    @property
    def warnings(self) -> list[FailedExpectation]:
        return [f for f in self.failures if f.severity != "critical"]

    @property
    def success(self) -> bool:
        """True when no critical expectation failed (warnings do not count)."""
        return not self.critical_failures

    def failed(self, table: str | None = None, expectation: str | None = None,
               column: str | None = None) -> list[FailedExpectation]:
        """The failures matching every given filter; handy in tests and alerts."""
        return [f for f in self.failures
                if (table is None or f.table == table)
                and (expectation is None or f.expectation == expectation)
                and (column is None or column in f.columns)]

    def raise_if_failed(self) -> None:
        if not self.success:
            raise GateFailed(self)

    def to_text(self) -> str:
        """The summary a job prints: one line per table, then each failure."""
        status = "PASSED" if self.success else "FAILED"
        lines = [f"quality gate {self.layer} run_date={self.run_date}: {status} "
                 f"({len(self.critical_failures)} critical, {len(self.warnings)} warning) in {self.seconds:.1f}s"]
        header = f"{'table':<34}{'rows':>10}{'expect.':>9}{'failed':>8}{'seconds':>9}"
        lines += [header, "-" * len(header)]
        lines += [f"{t.table:<34}{t.rows:>10}{t.expectations:>9}{t.failures:>8}{t.seconds:>9.1f}" for t in self.tables]
        if self.failures:
            lines.append("failed expectations:")
            lines += [f"  {f.describe()}"[:400] for f in sorted(self.failures, key=lambda f: (f.severity, f.table))]
        if self.skipped:
            lines.append("not checked:")
            lines += [f"  {note}" for note in self.skipped]
        if self.docs_url:
            lines.append(f"Data Docs: {self.docs_url}")
        return "\n".join(lines)


class GateFailed(RuntimeError):
    """A critical expectation failed; nothing downstream should be written."""

    def __init__(self, report: GateReport):
        self.report = report
        names = "; ".join(f.label for f in report.critical_failures)
        docs = f" (Data Docs: {report.docs_url})" if report.docs_url else ""
        super().__init__(f"quality gate {report.layer} failed: {len(report.critical_failures)} critical "
                         f"expectation(s) failed: {names}{docs}")
