"""Bronze's quality suites, generated from the data contract.

Bronze has already quarantined rows that break the contract, so a failing
bronze expectation means the ingest itself is wrong, or a source stopped,
shrank or lost its references: all critical by default.

Keys: a bronze table keeps every delivery, and a later batch may re-deliver a
key (the newer one wins downstream), so keys are unique only within a batch,
i.e. on (batch_dt, *key).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pipelines.bronze.ingest import LINEAGE_COLUMNS
from pipelines.core.contract import Dataset, load_contract
from pipelines.quality.checks import (
    Between,
    Check,
    Columns,
    Freshness,
    InSet,
    Integrity,
    NotNull,
    RowCountChange,
    TableSuite,
    Unique,
)

__all__ = ["BRONZE_INTEGRITY", "bronze_suite", "bronze_suites"]

# Lineage columns whose type the ingest fixes; the others are not worth pinning.
_LINEAGE_TYPES = {"batch_dt": "DateType", "ingested_at": "TimestampType", "row_hash": "LongType"}

# Cross-source references at bronze: the share of rows whose key the other
# source knows. Below 100% because deliveries of related sources may be a night apart.
BRONZE_INTEGRITY: Mapping[str, Sequence[Integrity]] = {
    "finance_balances": (Integrity("account_id", "finance_accounts", at_least=0.95),),
    "finance_transactions": (Integrity("account_id", "finance_accounts", at_least=0.95),),
    "court_parties": (Integrity("case_no", "court_cases", at_least=0.99),),
    "court_closures": (Integrity("case_no", "court_cases", at_least=0.99),),
}


def bronze_suite(dataset: Dataset, *, freshness_days: int = 3, row_count_factor: float = 10.0,
                 row_count_min_rows: int = 100, integrity: Sequence[Check] = ()) -> TableSuite:
    """The suite of one bronze table: its contract, plus freshness, volume and `integrity`."""
    types = {name: _LINEAGE_TYPES.get(name) for name in LINEAGE_COLUMNS}
    types |= {c.name: type(c.spark_type).__name__ for c in dataset.columns}
    types["extra_columns"] = "MapType"
    checks: list[Check] = [
        Columns(types),
        NotNull(("batch_dt", *dataset.required_columns)),
        Unique(("batch_dt", *dataset.key)),
    ]
    for column in dataset.columns:
        if column.min is not None:
            checks.append(Between(column.name, min=column.min))
        if column.gt is not None:
            checks.append(Between(column.name, min=column.gt, strict_min=True))
        if column.values:
            checks.append(InSet(column.name, column.values))
    checks += [
        # The ingest log knows batches that loaded no rows; the table does not.
        Freshness("batch_dt", max_age_days=freshness_days, log_table="ingest_log",
                  log_where=f"dataset = '{dataset.name}' AND status = 'loaded'"),
        RowCountChange("batch_dt", max_factor=row_count_factor, ignore_first_batch=True,
                       min_rows=row_count_min_rows),
        *integrity,
    ]
    return TableSuite(dataset.table_name, checks)


def bronze_suites(*, freshness_days: int = 3, row_count_factor: float = 10.0, row_count_min_rows: int = 100,
                  integrity: Mapping[str, Sequence[Check]] = BRONZE_INTEGRITY) -> list[TableSuite]:
    """One suite per contract dataset, in contract order.

    Defaults suit nightly deliveries: a source may miss a weekend
    (`freshness_days=3`), and a nightly delta may swing, but not tenfold.
    """
    return [bronze_suite(ds, freshness_days=freshness_days, row_count_factor=row_count_factor,
                         row_count_min_rows=row_count_min_rows, integrity=integrity.get(ds.table_name, ()))
            for ds in load_contract().values()]

