"""What landed in quarantine, by dataset and reason: for people, not machines."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.core import catalog, storage
from pipelines.core.config import Settings
from pipelines.core.contract import load_contract

__all__ = ["quarantine_counts", "quarantine_text"]


def quarantine_counts(spark: SparkSession, settings: Settings) -> list[tuple[str, str, int]]:
    """(dataset, reason_code, rows) over every quarantine table that exists."""
    counts = []
    for dataset in load_contract().values():
        uri = settings.table(catalog.QUARANTINE[dataset.table_name])
        if not storage.delta_exists(spark, uri):
            continue
        rows = storage.read_delta(spark, uri).groupBy("reason_code").agg(F.count(F.lit(1)).alias("n")).collect()
        counts += [(dataset.name, r.reason_code, r.n) for r in rows]
    return sorted(counts)


def quarantine_text(spark: SparkSession, settings: Settings) -> str:
    lines = [f"{'dataset':<24}{'reason':<20}{'rows':>6}"]
    lines += [f"{name:<24}{reason:<20}{n:>6}" for name, reason, n in quarantine_counts(spark, settings)]
    return "\n".join(lines)
