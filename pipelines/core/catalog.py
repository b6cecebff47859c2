"""Every lake table, declared once: its layer, name, key and partitioning.

Code refers to these entries, never to a table's name as a string, so that a
table is renamed here and nowhere else (as Kedro's `catalog.yml` does). Where a
table lives is `Settings.table(entry)`: `<lake>/<layer>/<name>`, part of the
interface that other engines (DuckDB, delta-rs) read.

The per-dataset tables of bronze and silver follow the contract: one bronze
table and one quarantine per dataset, and one silver table per dataset, all
named after `Dataset.table_name`. Silver's keys are the contract's after the
renames of `pipelines/silver/spec.py`, which owns them.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.core.contract import load_contract

__all__ = [
    "Table", "LAYERS", "BRONZE", "QUARANTINE", "SILVER", "INGEST_LOG", "CONFORM_LOG", "ENTITY_LINKS",
    "DEBTOR_PROFILE", "CASE_FEATURES", "CASE_SCORES", "ASSET_WATCH", "DRIFT", "RUNS", "ALL", "lookup",
]

LAYERS = ("bronze", "silver", "gold", "monitor")


@dataclass(frozen=True)
class Table:
    layer: str
    name: str
    key: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.layer not in LAYERS:
            raise ValueError(f"table {self.name}: unknown layer {self.layer!r} (have {LAYERS})")

    @property
    def path(self) -> str:
        """`layer/name`, as logs, the run audit and the docs name a table."""
        return f"{self.layer}/{self.name}"


_DATASETS = list(load_contract().values())

# A bronze table keeps every delivery: a key is unique within its batch.
BRONZE: dict[str, Table] = {ds.table_name: Table("bronze", ds.table_name, ("batch_dt", *ds.key), ("batch_dt",))
                            for ds in _DATASETS}
QUARANTINE: dict[str, Table] = {ds.table_name: Table("bronze", f"{ds.table_name}_quarantine", (), ("batch_dt",))
                                for ds in _DATASETS}
INGEST_LOG = Table("bronze", "ingest_log", ("dataset", "batch_dt", "source_file"))

SILVER: dict[str, Table] = {ds.table_name: Table("silver", ds.table_name) for ds in _DATASETS}
CONFORM_LOG = Table("silver", "conform_log", ("table", "batch_dt"))
ENTITY_LINKS = Table("silver", "entity_links", ("source", "record_id"))

DEBTOR_PROFILE = Table("gold", "debtor_profile", ("case_no", "person_key"))
CASE_FEATURES = Table("gold", "case_features", ("case_no",))
CASE_SCORES = Table("gold", "case_scores", ("case_no",))
ASSET_WATCH = Table("gold", "asset_watch", ("run_date", "case_no"))

DRIFT = Table("monitor", "drift", ("run_date", "scope", "feature"))
RUNS = Table("monitor", "runs", ("run_id",))

ALL: tuple[Table, ...] = (*BRONZE.values(), *QUARANTINE.values(), INGEST_LOG, *SILVER.values(), CONFORM_LOG,
                          ENTITY_LINKS, DEBTOR_PROFILE, CASE_FEATURES, CASE_SCORES, ASSET_WATCH, DRIFT, RUNS)

_BY_PATH = {table.path: table for table in ALL}


def lookup(layer: str, name: str) -> Table:
    """The entry of `layer/name`, for the few places that hold a name as data (suites, the analysts' workspace)."""
    try:
        return _BY_PATH[f"{layer}/{name}"]
    except KeyError:
        raise KeyError(f"no table {layer}/{name} in the catalog (pipelines/core/catalog.py)") from None
