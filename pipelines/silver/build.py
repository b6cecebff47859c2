"""Bronze -> silver, incrementally or as a full rebuild that gives identical tables.

Incremental: the bronze batches that the conform log has not seen (with their
current ingest fingerprint) are pending. For each dataset, the recompute units
they touch (a person for SCD2, a case for parties and listings, otherwise the
record key), plus the units that silver rows from those batches belong to (a
corrected re-delivery may have dropped records), are rebuilt from all of
bronze and merged in. Entity links are recomputed in full on every run: a new
person version can change who owned an old order's phone at the time.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipelines.core import catalog, storage
from pipelines.core.config import Settings
from pipelines.core.privacy import pseudonymiser, resolve_secret
from pipelines.core.timing import stage
from pipelines.silver.conform import conform_records, latest_delivery, scd2_versions
from pipelines.silver.spec import SilverTable, silver_tables

__all__ = ["ConformReport", "conform", "pending_batches", "finish_records", "merge_key"]

log = logging.getLogger(__name__)

CONFORM_LOG_SCHEMA = T.StructType([
    T.StructField("run_id", T.StringType()),
    T.StructField("dataset", T.StringType()),
    T.StructField("batch_dt", T.DateType()),
    T.StructField("fingerprint", T.StringType()),
    T.StructField("mode", T.StringType()),
    T.StructField("conformed_at", T.TimestampType()),
])


@dataclass
class ConformReport:
    run_id: str
    mode: str
    tables: dict[str, int] = field(default_factory=dict)       # table -> rows after the run
    batches: dict[str, list[dt.date]] = field(default_factory=dict)
    seconds: float = 0.0

    def to_text(self) -> str:
        lines = [f"silver conform ({self.mode}), run {self.run_id}: {self.seconds:.1f}s",
                 f"{'table':<28}{'rows':>10}  batches conformed"]
        for name, rows in sorted(self.tables.items()):
            dts = ", ".join(d.isoformat() for d in self.batches.get(name, []))
            lines.append(f"{name:<28}{rows:>10}  {dts}")
        return "\n".join(lines)


def merge_key(table: SilverTable) -> list[str]:
    """The silver row key: SCD2 versions are keyed by `valid_from`."""
    return [("valid_from" if k == "updated_at" and table.is_scd2 else k) for k in table.key]


def finish_records(records: DataFrame, table: SilverTable) -> DataFrame:
    """Conformed records of whole units -> final silver rows."""
    rows = latest_delivery(records, table.key)
    if table.is_scd2:
        rows = scd2_versions(rows)
    if table.dataset.name in ("ecommerce/orders", "social/accounts"):
        # Filled by entity resolution, which runs after every conform.
        rows = rows.withColumn("person_key", F.lit(None).cast("string")) \
                   .withColumn("match_confidence", F.lit(None).cast("double"))
    return rows


def pending_batches(spark: SparkSession, settings: Settings) -> dict[str, dict[dt.date, str]]:
    """Per dataset, the loaded bronze batches (and fingerprints) silver has not seen."""
    ingest_uri = settings.table(catalog.INGEST_LOG)
    if not storage.delta_exists(spark, ingest_uri):
        return {}
    newest = Window.partitionBy("dataset", "batch_dt").orderBy(F.desc("finished_at"))
    loaded = (storage.read_delta(spark, ingest_uri).where("status = 'loaded'")
              .withColumn("_rank", F.row_number().over(newest)).where("_rank = 1")
              .select("dataset", "batch_dt", "fingerprint"))
    conform_uri = settings.table(catalog.CONFORM_LOG)
    if storage.delta_exists(spark, conform_uri):
        seen = storage.read_delta(spark, conform_uri).select("dataset", "batch_dt", "fingerprint")
        loaded = loaded.join(seen, ["dataset", "batch_dt", "fingerprint"], "left_anti")
    pending: dict[str, dict[dt.date, str]] = {}
    for row in loaded.collect():
        pending.setdefault(row.dataset, {})[row.batch_dt] = row.fingerprint
    return pending


def _units_are_raw(table: SilverTable) -> bool:
    """True when the unit columns exist in bronze unchanged (no pseudonymised key)."""
    return not set(table.unit) & set(table.renames.values())


def _recompute(spark: SparkSession, settings: Settings, table: SilverTable, bronze: DataFrame,
               batch_dts: list[dt.date], pseudonymise: Callable[[Column], Column]) -> None:
    silver_uri = settings.table(catalog.SILVER[table.name])
    unit = list(table.unit)
    new_units = conform_records(bronze.where(F.col("batch_dt").isin(batch_dts)), table, pseudonymise).select(*unit)
    affected = new_units
    if storage.delta_exists(spark, silver_uri):
        stale_units = storage.read_delta(spark, silver_uri).where(
            F.col("source_batch_dt").isin(batch_dts)).select(*unit)
        affected = affected.unionByName(stale_units)
    affected = affected.distinct().cache()
    if _units_are_raw(table):
        # Narrow bronze before hashing anything: cheap even for huge tables.
        records = conform_records(bronze.join(F.broadcast(affected), unit, "left_semi"), table, pseudonymise)
    else:
        records = conform_records(bronze, table, pseudonymise).join(affected, unit, "left_semi")
    storage.replace_units(spark, silver_uri, finish_records(records, table), affected, unit, merge_key(table))
    affected.unpersist()


def _write_conform_log(spark: SparkSession, settings: Settings, run_id: str, mode: str,
                       done: dict[str, dict[dt.date, str]]) -> None:
    now = dt.datetime.now()
    rows = [(run_id, name, batch_dt, fp, mode, now) for name, batches in done.items()
            for batch_dt, fp in batches.items()]
    if rows:
        storage.append(spark.createDataFrame(rows, CONFORM_LOG_SCHEMA), settings.table(catalog.CONFORM_LOG))


def conform(spark: SparkSession, settings: Settings, full_rebuild: bool = False,
            link: Callable[..., None] | None = None) -> ConformReport:
    """Bring silver up to date with bronze. `link` runs entity resolution afterwards."""
    started = time.monotonic()
    pseudonymise = pseudonymiser(resolve_secret(settings))
    report = ConformReport(run_id=uuid.uuid4().hex[:12], mode="full" if full_rebuild else "incremental")
    pending = pending_batches(spark, settings)
    if full_rebuild:
        pending = _all_loaded(spark, settings)

    def conform_table(name: str, table: SilverTable) -> None:
        bronze_uri = settings.table(catalog.BRONZE[table.name])
        batches = pending.get(name, {})
        if not storage.delta_exists(spark, bronze_uri) or not (batches or full_rebuild):
            return
        with stage(f"conform.{table.name}", log, batches=len(batches)) as timed:
            bronze = storage.read_delta(spark, bronze_uri)
            silver_uri = settings.table(catalog.SILVER[table.name])
            if full_rebuild:
                storage.overwrite(finish_records(conform_records(bronze, table, pseudonymise), table), silver_uri)
            else:
                _recompute(spark, settings, table, bronze, sorted(batches), pseudonymise)
            timed.rows = storage.read_delta(spark, silver_uri).count()
            report.tables[table.name], report.batches[table.name] = timed.rows, sorted(batches)

    # Tables are independent until entity resolution: a few at once keep the cores busy while
    # another waits on a Delta commit (as ingest does).
    with ThreadPoolExecutor(max_workers=settings.ingest.parallel_datasets) as pool:
        list(pool.map(lambda item: conform_table(*item), silver_tables().items()))
    if link is not None:
        link(spark, settings, pseudonymise)
    _write_conform_log(spark, settings, report.run_id, report.mode, pending)
    report.seconds = time.monotonic() - started
    return report


def _all_loaded(spark: SparkSession, settings: Settings) -> dict[str, dict[dt.date, str]]:
    conform_uri = settings.table(catalog.CONFORM_LOG)
    if storage.delta_exists(spark, conform_uri):
        # Forget what was conformed: a rebuild starts from bronze alone.
        storage.overwrite(spark.createDataFrame([], CONFORM_LOG_SCHEMA), conform_uri)
    return pending_batches(spark, settings)
