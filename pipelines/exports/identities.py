"""Who the respondents are, for the clerks: names and masked IDs read back from the raw layer.

Contract section 5: raw IDs and names stay in bronze. The court files are the one place
they appear, the ID masked here, in Spark, before anything reaches the driver.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from features.profile import respondent_order
from pipelines.bronze.rules import normalise_id
from pipelines.core import catalog, storage
from pipelines.core.config import Settings
from pipelines.silver.conform import latest_delivery

__all__ = ["display_masked_id", "respondents_of", "respondent_identities"]


def display_masked_id(id_number: Column) -> Column:
    """First 6 and last 4 characters, the rest as '*' (contract section 5)."""
    value = normalise_id(id_number)
    hidden = F.greatest(F.length(value) - F.lit(10), F.lit(0))
    return F.concat(F.substring(value, 1, 6), F.repeat(F.lit("*"), hidden), F.substring(value, -4, 4))


def respondents_of(cases: DataFrame, parties: DataFrame) -> DataFrame:
    """(case_no, respondent_names, masked_ids): bronze party rows, latest delivery, in delivery order."""
    rows = parties.where(F.col("role") == "respondent").join(cases.select("case_no").distinct(), "case_no") \
        .withColumn("_id", normalise_id(F.col("id_number")))
    latest = latest_delivery(rows, ("case_no", "role", "_id"), batch_column="batch_dt")
    ordered = F.array_sort(F.collect_list(F.struct(
        F.col("batch_dt").alias("b"), F.col("source_file").alias("f"), F.col("source_row").alias("r"),
        F.col("name").alias("name"), display_masked_id(F.col("_id")).alias("masked"))))
    return latest.groupBy("case_no").agg(ordered.alias("_r")).select(
        "case_no", F.col("_r.name").alias("respondent_names"), F.col("_r.masked").alias("masked_ids"))


def respondent_identities(spark: SparkSession, settings: Settings, cases: DataFrame) -> DataFrame:
    """(case_no, person_key, respondent_no, name, masked_id) of the cases' respondents.

    Silver's party row gives the key (and gold's respondent order); its lineage leads to the
    bronze row that holds the name and the ID, which is masked here, in Spark.
    """
    silver = storage.read_delta(spark, settings.table(catalog.SILVER["court_parties"])) \
        .where((F.col("role") == "respondent") & F.col("party_key").isNotNull()) \
        .join(cases.select("case_no").distinct(), "case_no")
    bronze = storage.read_delta(spark, settings.table(catalog.BRONZE["court_parties"])).select(
        F.col("batch_dt").alias("source_batch_dt"), "source_file", "source_row", "name",
        display_masked_id(F.col("id_number")).alias("masked_id"))
    order = respondent_order()
    return silver.join(bronze, ["source_batch_dt", "source_file", "source_row"], "left").select(
        "case_no", F.col("party_key").alias("person_key"), F.row_number().over(order).alias("respondent_no"),
        "name", "masked_id")
