"""Behaviour (行为偏好): e-commerce spending before filing.

Orders reach a person only through entity resolution, so the strength of the
links behind the orders used is a feature too: a model can learn to trust
spending less when the links are weaker. It is the number of identifiers that
agreed (the phone held at the order's time, the name, the masked ID), not the
match probability: the probability moves a little with every person and
record added later (term frequencies), which would make a case's features
depend on data from after its filing. The agreement of a record with its
person does not.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from features.credit import overdue_months
from features.pit import AS_OF, KEY, as_of_join, money, within

__all__ = ["CATEGORIES", "link_evidence", "spending"]

CATEGORIES = ("daily", "food", "electronics", "luxury", "travel", "education", "entertainment", "other")


def link_evidence(entity_links: DataFrame, source: str, id_column: str) -> DataFrame:
    """(id_column, link_evidence): how many identifiers agreed between a linked record and its person."""
    def agreed(column: str):
        return F.coalesce(F.col(column).cast("int"), F.lit(0))
    return entity_links.where(F.col("source") == source).select(
        F.col("record_id").alias(id_column),
        (agreed("has_phone_at_time") + agreed("is_name_match") + agreed("is_masked_id_match")).alias("link_evidence"))


def spending(spine: DataFrame, orders: DataFrame, loan_snapshots: DataFrame, entity_links: DataFrame) -> DataFrame:
    rows = orders.where(F.col("person_key").isNotNull()).select(
        "order_id", "person_key", F.to_date("ordered_at").alias("ordered_on"), money("amount").alias("amount"),
        "category").join(link_evidence(entity_links, "ecommerce/orders", "order_id"), "order_id", "left")
    seen = as_of_join(spine, rows, "ordered_on").where(within("ordered_on", months=12))
    # An order is placed "while overdue" if the month-end snapshot before it showed an overdue loan;
    # that snapshot precedes the order, which precedes filing.
    overdue = overdue_months(loan_snapshots).select(
        F.col("person_key").alias("overdue_key"), "month_end", F.lit(True).alias("while_overdue"))
    seen = seen.join(overdue, (F.col("person_key") == F.col("overdue_key"))
                     & (F.col("month_end") == F.last_day(F.add_months("ordered_on", -1))), "left")
    in_3m = within("ordered_on", months=3)

    def spend_on(category: str, window: Column | None = None) -> Column:
        """Spend on one category over the 12 months, or only over `window` within them."""
        is_c = F.col("category") == category
        return F.sum(F.when(is_c if window is None else is_c & window, F.col("amount")))

    # Spelled out (as CATEGORIES orders them) so that a feature's name finds its code.
    by_category = [
        spend_on("daily").alias("spend_daily_12m"), spend_on("daily", in_3m).alias("spend_daily_3m"),
        spend_on("food").alias("spend_food_12m"), spend_on("food", in_3m).alias("spend_food_3m"),
        spend_on("electronics").alias("spend_electronics_12m"),
        spend_on("electronics", in_3m).alias("spend_electronics_3m"),
        spend_on("luxury").alias("spend_luxury_12m"), spend_on("luxury", in_3m).alias("spend_luxury_3m"),
        spend_on("travel").alias("spend_travel_12m"), spend_on("travel", in_3m).alias("spend_travel_3m"),
        spend_on("education").alias("spend_education_12m"),
        spend_on("education", in_3m).alias("spend_education_3m"),
        spend_on("entertainment").alias("spend_entertainment_12m"),
        spend_on("entertainment", in_3m).alias("spend_entertainment_3m"),
        spend_on("other").alias("spend_other_12m"), spend_on("other", in_3m).alias("spend_other_3m"),
    ]
    out = seen.groupBy(*KEY).agg(
        F.sum("amount").alias("spend_12m"),
        F.sum(F.when(in_3m, F.col("amount"))).alias("spend_3m"),
        F.count("*").cast("int").alias("orders_12m"),
        *by_category,
        F.sum(F.when(F.col("while_overdue"), F.col("amount"))).alias("spend_while_overdue_12m"),
        F.datediff(F.col(AS_OF), F.max("ordered_on")).alias("days_since_last_order"),
        F.avg("link_evidence").alias("orders_link_evidence"),
    )
    return out.select(
        "*",
        (F.coalesce("spend_luxury_12m", F.lit(0.0)) / F.col("spend_12m")).alias("luxury_share_12m"),
        (F.coalesce("spend_travel_12m", F.lit(0.0)) / F.col("spend_12m")).alias("travel_share_12m"),
    )
