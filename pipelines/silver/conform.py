"""Bronze rows -> silver rows: pure transforms (DataFrames in, DataFrames out).

* Personal columns are dropped; ID columns become keys (HMAC, see privacy.py).
* A record delivered again with the same key replaces the earlier one: the
  later batch wins, then the later file and row within a batch.
* Person versions become SCD2 history, ordered by `updated_at` (event time),
  never by arrival, so an out-of-order delivery lands in its right place.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from pipelines.silver.spec import SilverTable

__all__ = ["LINEAGE", "conform_records", "latest_delivery", "scd2_versions"]

LINEAGE = ["source_batch_dt", "source_file", "source_row", "source_row_hash"]


def conform_records(bronze: DataFrame, table: SilverTable, pseudonymise: Callable[[Column], Column]) -> DataFrame:
    """Contract columns with IDs replaced by keys, personal columns dropped, lineage kept.

    Persons keep their phone as `_phone` for one more step: SCD2 needs it to
    flag phone changes, then drops it.
    """
    columns = []
    for name in table.dataset.column_names:
        if name in table.renames:
            columns.append(pseudonymise(F.col(name)).alias(table.renames[name]))
        elif name not in table.dropped:
            columns.append(F.col(name))
    derived = {
        "population/persons": [F.col("phone").isNotNull().alias("has_phone"), F.col("phone").alias("_phone")],
        "social/accounts": [F.col("real_name").isNotNull().alias("is_real_name")],
    }.get(table.dataset.name, [])
    lineage = [F.col("batch_dt").alias("source_batch_dt"), "source_file", "source_row",
               F.col("row_hash").alias("source_row_hash")]
    return bronze.select(*columns, *derived, *lineage)


def latest_delivery(records: DataFrame, key: tuple[str, ...], batch_column: str = "source_batch_dt") -> DataFrame:
    """One row per key: the latest delivery wins.

    `batch_column` is `source_batch_dt` on conformed records and `batch_dt` on bronze rows.
    """
    newest_first = Window.partitionBy(*key).orderBy(
        F.desc(batch_column), F.desc("source_file"), F.desc("source_row"))
    return records.withColumn("_rank", F.row_number().over(newest_first)).where("_rank = 1").drop("_rank")


def _changed(column: str, window: Window) -> Column:
    previous = F.lag(column).over(window)
    is_first = F.row_number().over(window) == 1
    return F.when(is_first, F.lit(False)).otherwise(~previous.eqNullSafe(F.col(column)))


def scd2_versions(persons: DataFrame) -> DataFrame:
    """SCD2 history: one row per person version with `valid_from`/`valid_to`.

    `valid_from` is the version's `updated_at`; `valid_to` is the next
    version's, null for the current one. Change flags say what the version changed.
    """
    by_time = Window.partitionBy("person_key").orderBy("updated_at")
    return (persons
            .withColumn("version_no", F.row_number().over(by_time))
            .withColumn("valid_to", F.lead("updated_at").over(by_time))
            .withColumn("is_current", F.col("valid_to").isNull())
            .withColumn("is_phone_change", _changed("_phone", by_time))
            .withColumn("is_region_change", _changed("hukou_region", by_time))
            .withColumnRenamed("updated_at", "valid_from")
            .drop("_phone"))
