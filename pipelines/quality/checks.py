"""What a table must satisfy, declared as small typed checks.

A `TableSuite` names a lake table and lists its checks; each check carries a
severity: `critical` stops the pipeline, `warning` is reported and recorded
but lets it continue. Checks are plain values (no Great Expectations import
here) so suites can be built, compared and tested without starting anything;
`pipelines.quality.expectations` turns them into GX expectations at run time.

Three checks need facts that only exist at run time, so they cannot be static
GX expectations:
    Integrity       a Spark join against another table adds a boolean column,
                    and GX checks the share of true values (`mostly`);
    Freshness       the oldest acceptable latest value depends on the run date;
    RowCountChange  the acceptable row count of the latest batch depends on the
                    previous batch's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pyspark.sql import types as T

__all__ = [
    "Severity", "Check", "Columns", "NotNull", "Unique", "Between", "InSet", "Matches",
    "Integrity", "Freshness", "RowCountChange", "Custom", "TableSuite",
]

Severity = Literal["critical", "warning"]
_SEVERITIES = ("critical", "warning")


def _names(columns: str | Sequence[str], what: str) -> tuple[str, ...]:
    names = (columns,) if isinstance(columns, str) else tuple(columns)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"{what}: needs one or more column names, got {columns!r}")
    return names


def _share(value: float, what: str) -> None:
    if not 0 < value <= 1:
        raise ValueError(f"{what}: a share must be in (0, 1], got {value!r}")


@dataclass(frozen=True, kw_only=True)
class Check:
    """Base of all checks: only the severity is shared."""

    severity: Severity = "critical"

    def __post_init__(self) -> None:
        if self.severity not in _SEVERITIES:
            raise ValueError(f"{type(self).__name__}: severity must be one of {_SEVERITIES}, "
                             f"got {self.severity!r}")


@dataclass(frozen=True)
class Columns(Check):
    """These columns exist; where a Spark type name is given (`"DateType"`), with that type.

    `exact=True` also forbids columns that are not listed.
    """

    types: Mapping[str, str | None]
    exact: bool = False

    @classmethod
    def of(cls, schema: T.StructType, **kwargs: Any) -> Columns:
        """All columns of a schema constant, with their types."""
        return cls({f.name: type(f.dataType).__name__ for f in schema.fields}, **kwargs)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.types:
            raise ValueError("Columns: needs at least one column")


@dataclass(frozen=True)
class NotNull(Check):
    """No nulls in each of these columns (or at most 1 - `mostly` of rows)."""

    columns: str | tuple[str, ...]
    mostly: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "columns", _names(self.columns, "NotNull"))
        _share(self.mostly, "NotNull.mostly")


@dataclass(frozen=True)
class Unique(Check):
    """The columns together identify a row (rows with all of them null are ignored)."""

    columns: str | tuple[str, ...]

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "columns", _names(self.columns, "Unique"))


@dataclass(frozen=True)
class Between(Check):
    """Non-null values lie within [min, max]; `strict_*` makes a bound exclusive."""

    column: str
    min: float | None = None
    max: float | None = None
    strict_min: bool = False
    strict_max: bool = False
    mostly: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.min is None and self.max is None:
            raise ValueError(f"Between({self.column!r}): give min, max or both")
        _share(self.mostly, "Between.mostly")


@dataclass(frozen=True)
class InSet(Check):
    """Non-null values are members of `values`. Pair with NotNull where nulls are wrong."""

    column: str
    values: tuple[Any, ...]
    mostly: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "values", tuple(self.values))
        if not self.values:
            raise ValueError(f"InSet({self.column!r}): needs at least one value")
        _share(self.mostly, "InSet.mostly")


@dataclass(frozen=True)
class Matches(Check):
    """Non-null values match the regular expression `pattern` (Java syntax on Spark: anchor it yourself)."""

    column: str
    pattern: str
    mostly: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.pattern:
            raise ValueError(f"Matches({self.column!r}): needs a pattern")
        _share(self.mostly, "Matches.mostly")


@dataclass(frozen=True)
class Integrity(Check):
    """At least `at_least` of the rows' (non-null) `columns` are found in `ref_table`.

    `ref_columns` default to the same names. `where` (Spark SQL) limits the rows
    that count, e.g. `"role = 'respondent'"`; other rows are ignored.
    """

    columns: str | tuple[str, ...]
    ref_table: str
    ref_columns: str | tuple[str, ...] | None = None
    at_least: float = 1.0
    where: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "columns", _names(self.columns, "Integrity"))
        refs = self.columns if self.ref_columns is None else _names(self.ref_columns, "Integrity.ref_columns")
        if len(refs) != len(self.columns):
            raise ValueError(f"Integrity: {self.columns} and ref_columns {refs} differ in length")
        object.__setattr__(self, "ref_columns", refs)
        _share(self.at_least, "Integrity.at_least")

    @property
    def flag_column(self) -> str:
        """The boolean column the Spark join adds: true when the row's key is known."""
        return f"has_{'_'.join(self.columns)}_in_{self.ref_table}"

    def describe(self) -> str:
        scope = f" where {self.where}" if self.where else ""
        return (f"at least {self.at_least:.1%} of rows{scope} have ({', '.join(self.columns)}) "
                f"in {self.ref_table} ({', '.join(self.ref_columns)})")


@dataclass(frozen=True)
class Freshness(Check):
    """The latest value of `column` is no older than `max_age_days` before the run date.

    With `log_table`, the latest value is taken from that table's `column`
    (rows matching `log_where`) instead: a source that delivered an empty
    batch is fresh, though the table has no row of it. Without the log table
    at run time, the table's own column is used, and the report says so.
    """

    column: str = "batch_dt"
    max_age_days: int = 1
    log_table: str | None = None
    log_where: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_age_days < 0:
            raise ValueError(f"Freshness.max_age_days must be >= 0, got {self.max_age_days}")

    @property
    def latest_column(self) -> str:
        """The column carrying the log's latest value onto every row, when `log_table` is set."""
        return f"latest_{self.column}_in_{self.log_table}"


@dataclass(frozen=True)
class RowCountChange(Check):
    """The latest batch has between previous/`max_factor` and previous*`max_factor` rows.

    Skipped (and reported as not checked) while there is nothing to compare:
    a single batch; with `ignore_first_batch`, fewer than two batches after
    the first (a source's first batch is its historical back-fill, so
    comparing a nightly delta with it says nothing); or a previous batch of
    fewer than `min_rows` rows, where a factor is mostly noise.
    """

    batch_column: str = "batch_dt"
    max_factor: float = 3.0
    ignore_first_batch: bool = False
    min_rows: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_factor < 1:
            raise ValueError(f"RowCountChange.max_factor must be >= 1, got {self.max_factor}")


@dataclass(frozen=True)
class Custom(Check):
    """Any GX expectation not covered above; the check's severity replaces its own."""

    expectation: Any  # a great_expectations.expectations.Expectation


@dataclass(frozen=True)
class TableSuite:
    """The checks of one lake table, e.g. `TableSuite("finance_balances", [...])`."""

    table: str
    checks: tuple[Check, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "checks", tuple(self.checks))
        wrong = [c for c in self.checks if not isinstance(c, Check)]
        if wrong:
            raise TypeError(f"TableSuite({self.table!r}): not checks: {wrong!r}")

    @property
    def tables_needed(self) -> tuple[str, ...]:
        """This table and every table its integrity and freshness checks refer to."""
        refs = [c.ref_table for c in self.checks if isinstance(c, Integrity)]
        logs = [c.log_table for c in self.checks if isinstance(c, Freshness) and c.log_table]
        return tuple(dict.fromkeys([self.table, *refs, *logs]))
