"""Checks -> Great Expectations (GX Core 1.x) expectations, plus the Spark work some need.

Two steps per table, so the DataFrame can be cached in between:
    1. `with_derived_columns` adds the columns GX then checks: one boolean per
       `Integrity` check (a left join on the reference's distinct keys; null
       where the key is null or `where` is false, so those rows do not count),
       and, for a `Freshness` check with a log table, the log's latest value
       (a one-row aggregate, broadcast);
    2. `to_expectations` builds the GX expectations. `RowCountChange` runs one
       small aggregate here (the row counts of the last batches: a few rows
       reach the driver, never the data).
"""

from __future__ import annotations

import datetime as dt
import math
from functools import reduce

import great_expectations.expectations as gxe
from great_expectations.expectations.metadata_types import FailureSeverity
from great_expectations.expectations.row_conditions import Column as GXColumn
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipelines.quality.checks import (
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
    TableSuite,
    Unique,
)

__all__ = ["with_derived_columns", "to_expectations"]


def _missing(df: DataFrame, columns) -> list[str]:
    return [c for c in columns if c not in df.columns]


def _with_latest_logged(df: DataFrame, check: Freshness, table: str,
                        tables: dict[str, DataFrame], skipped: list[str]) -> DataFrame:
    log_df = tables.get(check.log_table)
    if log_df is None or check.column not in log_df.columns:
        skipped.append(f"{table}: freshness: {check.log_table} not available, "
                       f"used the table's own {check.column}")
        return df
    if check.log_where:
        log_df = log_df.where(F.expr(check.log_where))
    latest = log_df.agg(F.max(check.column).alias(check.latest_column))
    return df.crossJoin(F.broadcast(latest))


def _all_not_null(columns) -> F.Column:
    return reduce(lambda a, b: a & b, [F.col(c).isNotNull() for c in columns])


def _with_integrity_flag(df: DataFrame, check: Integrity, table: str,
                         tables: dict[str, DataFrame], skipped: list[str]) -> DataFrame:
    ref = tables.get(check.ref_table)
    if ref is None:
        skipped.append(f"{table}: {check.describe()}: reference table not available")
        return df
    gone = _missing(df, check.columns) + _missing(ref, check.ref_columns)
    if gone:
        skipped.append(f"{table}: {check.describe()}: missing column(s) {gone}")
        return df
    # Distinct reference keys keep the left join from multiplying rows.
    hit = f"_{check.flag_column}_hit"
    known = (ref.select(*[F.col(r).alias(c) for c, r in zip(check.columns, check.ref_columns)])
             .where(_all_not_null(check.columns)).distinct().withColumn(hit, F.lit(True)))
    counts = _all_not_null(check.columns)
    if check.where:
        counts = counts & F.coalesce(F.expr(check.where), F.lit(False))
    return (df.join(known, on=list(check.columns), how="left")
            .withColumn(check.flag_column, F.when(counts, F.coalesce(F.col(hit), F.lit(False))))
            .drop(hit))


def with_derived_columns(df: DataFrame, suite: TableSuite,
                         tables: dict[str, DataFrame]) -> tuple[DataFrame, list[str]]:
    """Add the integrity flags and logged freshness columns; return notes on checks skipped."""
    skipped: list[str] = []
    for check in suite.checks:
        if isinstance(check, Integrity):
            df = _with_integrity_flag(df, check, suite.table, tables, skipped)
        elif isinstance(check, Freshness) and check.log_table:
            df = _with_latest_logged(df, check, suite.table, tables, skipped)
    return df, skipped


def _latest_batches(df: DataFrame, column: str, limit: int) -> list[tuple[object, int]]:
    rows = (df.where(F.col(column).isNotNull()).groupBy(column).count()
            .orderBy(F.col(column).desc()).limit(limit).collect())
    return [(r[column], r["count"]) for r in rows]


def _row_count_change(check: RowCountChange, df: DataFrame, table: str,
                      skipped: list[str]) -> list[gxe.Expectation]:
    column, factor = check.batch_column, check.max_factor
    if column not in df.columns:
        skipped.append(f"{table}: row-count change: no column {column!r}")
        return []
    needed = 3 if check.ignore_first_batch else 2
    batches = _latest_batches(df, column, needed)
    if len(batches) < needed:
        first = " after the first (back-fill)" if check.ignore_first_batch else ""
        skipped.append(f"{table}: row-count change: fewer than 2 batches{first}")
        return []
    (latest, _), (previous, previous_rows) = batches[:2]
    if previous_rows < check.min_rows:
        skipped.append(f"{table}: row-count change: previous batch has {previous_rows} < {check.min_rows} rows")
        return []
    latest_text = latest.isoformat() if isinstance(latest, dt.date) else str(latest)
    low, high = math.ceil(previous_rows / factor), math.floor(previous_rows * factor)
    return [gxe.ExpectTableRowCountToBeBetween(
        min_value=low, max_value=high, row_condition=GXColumn(column) == latest_text, severity=check.severity,
        description=(f"rows of {column} = {latest_text} between {low} and {high}: within a factor of "
                     f"{factor:g} of the previous batch ({column} = {previous}, {previous_rows} rows)"))]


def _as_bound(value: dt.date, df: DataFrame, column: str) -> dt.date | dt.datetime:
    # GX compares the observed max with the bound in Python, and a datetime
    # cannot be compared with a date.
    if isinstance(df.schema[column].dataType, (T.TimestampType, T.TimestampNTZType)):
        return dt.datetime.combine(value, dt.time.min)
    return value


def _one(check: Check, df: DataFrame, table: str, run_date: dt.date,
         skipped: list[str], suite_checks: tuple[Check, ...] = (), whole: DataFrame | None = None) -> list[gxe.Expectation]:
    sev = {"severity": check.severity}
    match check:
        case Columns(types=types, exact=exact):
            typed = [gxe.ExpectColumnValuesToBeOfType(column=name, type_=type_name, **sev)
                     for name, type_name in types.items() if type_name and name in df.columns]
            # The integrity flags the gate added to `df` are not part of the table.
            flags = [c.flag_column for c in suite_checks if isinstance(c, Integrity) and c.flag_column in df.columns]
            return [gxe.ExpectTableColumnsToMatchSet(column_set=[*types, *flags], exact_match=exact, **sev), *typed]
        case NotNull(columns=columns, mostly=mostly):
            return [gxe.ExpectColumnValuesToNotBeNull(column=c, mostly=mostly, **sev) for c in columns]
        case Unique(columns=(column,)):
            return [gxe.ExpectColumnValuesToBeUnique(column=column, **sev)]
        case Unique(columns=columns):
            return [gxe.ExpectCompoundColumnsToBeUnique(column_list=list(columns), **sev)]
        case Between():
            return [gxe.ExpectColumnValuesToBeBetween(
                column=check.column, min_value=check.min, max_value=check.max, strict_min=check.strict_min,
                strict_max=check.strict_max, mostly=check.mostly, **sev)]
        case InSet(column=column, values=values, mostly=mostly):
            return [gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(values), mostly=mostly, **sev)]
        case Matches(column=column, pattern=pattern, mostly=mostly):
            return [gxe.ExpectColumnValuesToMatchRegex(column=column, regex=pattern, mostly=mostly, **sev)]
        case Integrity():
            if check.flag_column not in df.columns:
                return []          # with_derived_columns has noted why
            return [gxe.ExpectColumnValuesToBeInSet(column=check.flag_column, value_set=[True],
                                                    mostly=check.at_least, description=check.describe(), **sev)]
        case Freshness(column=column, max_age_days=days):
            oldest = run_date - dt.timedelta(days=days)
            source = column
            if check.log_table and check.latest_column in df.columns:
                column = check.latest_column
                source = f"{source} in {check.log_table}" + (f" where {check.log_where}" if check.log_where else "")
            bound = _as_bound(oldest, df, column) if column in df.columns else oldest
            return [gxe.ExpectColumnMaxToBeBetween(
                column=column, min_value=bound, **sev,
                description=f"latest {source} on or after {oldest}: run date {run_date} minus {days} day(s)")]
        case RowCountChange():
            # The previous batch's size comes from the whole table, even when the gate checks tonight's rows.
            return _row_count_change(check, df if whole is None else whole, table, skipped)
        case Custom(expectation=expectation):
            # A copy without id: the same object may be declared again in the next run's suite.
            return [expectation.copy(update={"severity": FailureSeverity(check.severity), "id": None})]
    raise TypeError(f"{table}: unknown check {check!r}")


def to_expectations(suite: TableSuite, df: DataFrame, run_date: dt.date,
                    whole: DataFrame | None = None) -> tuple[list[gxe.Expectation], list[str]]:
    """The GX expectations of a suite over `df`, which already carries the derived columns.

    `whole` is the entire table when `df` holds only part of it (a scoped nightly gate).
    """
    skipped: list[str] = []
    expectations = [e for check in suite.checks
                    for e in _one(check, df, suite.table, run_date, skipped, tuple(suite.checks), whole)]
    return expectations, skipped
