"""Contact leads for serving documents, as pure transforms: phones, regions, last activity as of T.

Nothing dated after T is used. `pipelines/exports/whereabouts.py` reads the
sources (phones from the raw layer, under contract section 5) and writes the files.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

__all__ = ["LEAD_COLUMNS", "phone_leads", "region_leads", "activity_leads", "contact_leads"]

LEAD_COLUMNS = ["person_key", "lead_type", "rank", "content", "sources", "seen_on", "confidence"]


def _seen_by_t(column: str, run_date: dt.date) -> Column:
    return F.to_date(F.col(column)) <= F.lit(run_date)


def phone_leads(keys: DataFrame, sightings: DataFrame, run_date: dt.date, limit: int) -> DataFrame:
    """The `limit` most recent phones of each person, one row per number.

    `sightings`: (person_key, phone, seen_at, source, confidence), a row per record that showed
    the number. A number seen in several sources keeps its latest date, every source, and the
    highest confidence.
    """
    seen = sightings.where(F.col("phone").isNotNull() & _seen_by_t("seen_at", run_date)) \
        .join(keys, "person_key", "left_semi")
    per_phone = seen.groupBy("person_key", "phone").agg(
        F.max(F.to_date("seen_at")).alias("seen_on"), F.max("confidence").alias("confidence"),
        F.array_sort(F.collect_set("source")).alias("sources"))
    order = Window.partitionBy("person_key").orderBy(F.desc("seen_on"), F.desc("confidence"), "phone")
    return per_phone.withColumn("rank", F.row_number().over(order)).where(F.col("rank") <= limit).select(
        "person_key", F.lit("phone").alias("lead_type"), "rank", F.col("phone").alias("content"), "sources", "seen_on",
        "confidence")


def region_leads(keys: DataFrame, orders: DataFrame, registry: DataFrame, run_date: dt.date, days: int) -> DataFrame:
    """The most frequent shipping region over `days` up to T, and the household region at T.

    `orders`: linked orders (person_key, ship_region, ordered_at, match_confidence).
    `registry`: person versions (person_key, hukou_region, valid_from).
    """
    recent = orders.where(F.col("ship_region").isNotNull() & _seen_by_t("ordered_at", run_date)
                          & (F.to_date("ordered_at") > F.lit(run_date - dt.timedelta(days=days)))) \
        .join(keys, "person_key", "left_semi")
    per_region = recent.groupBy("person_key", "ship_region").agg(
        F.count("*").alias("n"), F.max(F.to_date("ordered_at")).alias("seen_on"),
        F.max("match_confidence").alias("confidence"))
    totals = recent.groupBy("person_key").agg(F.count("*").alias("total"))
    top = Window.partitionBy("person_key").orderBy(F.desc("n"), F.desc("seen_on"), "ship_region")
    ship = per_region.join(totals, "person_key").withColumn("_top", F.row_number().over(top)).where("_top = 1") \
        .select("person_key", F.lit("ship_region").alias("lead_type"), F.lit(1).alias("rank"),
                F.concat(F.col("ship_region"), F.lit(f"（近{days}天 "), F.col("total").cast("string"), F.lit(" 单中 "),
                         F.col("n").cast("string"), F.lit(" 单寄往此地）")).alias("content"),
                F.array(F.lit("ecommerce/orders")).alias("sources"), "seen_on", "confidence")
    latest = Window.partitionBy("person_key").orderBy(F.desc("valid_from"))
    hukou = registry.where(F.col("hukou_region").isNotNull() & _seen_by_t("valid_from", run_date)) \
        .join(keys, "person_key", "left_semi") \
        .withColumn("_last", F.row_number().over(latest)).where("_last = 1") \
        .select("person_key", F.lit("hukou_region").alias("lead_type"), F.lit(1).alias("rank"),
                F.col("hukou_region").alias("content"), F.array(F.lit("population/persons")).alias("sources"),
                F.to_date("valid_from").alias("seen_on"), F.lit(1.0).alias("confidence"))
    return ship.unionByName(hukou)


def activity_leads(keys: DataFrame, activities: DataFrame, run_date: dt.date) -> DataFrame:
    """The last activity seen: `activities` is (person_key, seen_at, what, source, confidence)."""
    seen = activities.where(_seen_by_t("seen_at", run_date)).join(keys, "person_key", "left_semi")
    latest = Window.partitionBy("person_key").orderBy(F.desc("seen_at"), F.desc("confidence"), "what")
    return seen.withColumn("_last", F.row_number().over(latest)).where("_last = 1").select(
        "person_key", F.lit("last_activity").alias("lead_type"), F.lit(1).alias("rank"), F.col("what").alias("content"),
        F.array("source").alias("sources"), F.to_date("seen_at").alias("seen_on"), "confidence")


def contact_leads(keys: DataFrame, *, phones: DataFrame, orders: DataFrame, registry: DataFrame,
                  activities: DataFrame, run_date: dt.date, limit: int, region_days: int) -> DataFrame:
    """Every contact lead of the persons in `keys` (person_key), in `LEAD_COLUMNS`."""
    return phone_leads(keys, phones, run_date, limit) \
        .unionByName(region_leads(keys, orders, registry, run_date, region_days)) \
        .unionByName(activity_leads(keys, activities, run_date)).select(*LEAD_COLUMNS)
