"""Evasion signals: assets and money moved away shortly before filing.

Who received them is read from kin at filing (`features.social.kin`): a
spouse or ex-spouse, a relative, or another person. Divorces and account
closures before filing are in `identity.marital` and `ability.accounts_held`.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from features.ability import owned_accounts
from features.pit import KEY, as_of_join, money, within

__all__ = ["disposals", "transfers_out"]


def _with_kin(seen: DataFrame, kin_at_filing: DataFrame, counterparty: str) -> DataFrame:
    kin = kin_at_filing.withColumnRenamed("kin_key", counterparty)
    return seen.join(kin, [*KEY, counterparty], "left")


def disposals(spine: DataFrame, asset_records: DataFrame, kin_at_filing: DataFrame) -> DataFrame:
    rows = asset_records.where(F.col("disposed_on").isNotNull()).select(
        F.col("owner_key").alias("person_key"), "disposed_on", "disposed_to_key",
        money("declared_value").alias("value"))
    seen = _with_kin(as_of_join(spine, rows, "disposed_on").where(within("disposed_on", months=12)),
                     kin_at_filing, "disposed_to_key")
    to_person = F.col("disposed_to_key").isNotNull()

    def value_to(condition):
        return F.sum(F.when(condition, F.col("value")))

    return seen.groupBy(*KEY).agg(
        F.count(F.when(within("disposed_on", months=6), 1)).cast("int").alias("assets_disposed_6m"),
        F.count("*").cast("int").alias("assets_disposed_12m"),
        F.sum("value").alias("disposed_value_12m"),
        value_to(F.col("kin") == "spouse_or_ex").alias("disposed_to_spouse_value_12m"),
        value_to(F.col("kin") == "relative").alias("disposed_to_relative_value_12m"),
        value_to(to_person & F.col("kin").isNull()).alias("disposed_to_other_person_value_12m"),
    )


def transfers_out(spine: DataFrame, accounts: DataFrame, transactions: DataFrame,
                  kin_at_filing: DataFrame) -> DataFrame:
    """Large outgoing transfers to persons in the 90 days before filing."""
    rows = transactions.where((F.col("direction") == "out") & F.col("counterparty_key").isNotNull()).select(
        "account_id", F.to_date("booked_at").alias("booked_on"), "counterparty_key",
        money("amount").alias("amount")) \
        .join(owned_accounts(accounts).select("account_id", "person_key"), "account_id")
    seen = _with_kin(as_of_join(spine, rows, "booked_on").where(within("booked_on", days=90)),
                     kin_at_filing, "counterparty_key")
    return seen.groupBy(*KEY).agg(
        F.sum("amount").alias("transfers_to_persons_90d"),
        F.count("*").cast("int").alias("transfers_to_persons_count_90d"),
        F.sum(F.when(F.col("kin").isNotNull(), F.col("amount"))).alias("transfers_to_kin_90d"),
    )
