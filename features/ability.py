"""Ability to pay (履约能力/资产状况): deposits, registered assets and income.

- Deposits: balances at the last quarter-end strictly before filing, by
  account type, and the same quarter-end a year earlier for the trend.
- Assets: owned at filing means acquired before the filing date and not
  disposed of before it.
- Income proxy: incoming large transactions (the banks report >= 5,000 CNY).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from features.pit import AS_OF, KEY, as_of_join, held_at, money, ratio, within

__all__ = ["ACCOUNT_TYPES", "ASSET_TYPES", "deposits", "assets", "income", "owned_accounts", "last_quarter_end"]

ACCOUNT_TYPES = ("savings", "current", "wealth_management", "securities")
ASSET_TYPES = ("real_estate", "vehicle", "equity")


def last_quarter_end(as_of: str = AS_OF):
    """The last quarter-end strictly before `as_of` (a filing on 1 April sees 31 March)."""
    return F.date_sub(F.trunc(F.col(as_of), "quarter"), 1)


def owned_accounts(accounts: DataFrame) -> DataFrame:
    return accounts.select("account_id", F.col("owner_key").alias("person_key"), "account_type",
                           "opened_on", "closed_on")


def deposits(spine: DataFrame, accounts: DataFrame, balances: DataFrame) -> DataFrame:
    q0 = last_quarter_end()
    q4 = F.last_day(F.add_months(q0, -12))
    rows = balances.select("account_id", F.col("as_of").alias("balance_on"), money("balance").alias("balance")) \
        .join(owned_accounts(accounts).select("account_id", "person_key", "account_type"), "account_id")
    seen = as_of_join(spine, rows, "balance_on").where((F.col("balance_on") == q0) | (F.col("balance_on") == q4))
    at_q0 = F.col("balance_on") == q0

    def balance_of(account_type: str) -> Column:
        return F.sum(F.when(at_q0 & (F.col("account_type") == account_type), F.col("balance")))

    # Spelled out (as ACCOUNT_TYPES orders them) so that a feature's name finds its code.
    by_type = {
        "deposit_savings": balance_of("savings"),
        "deposit_current": balance_of("current"),
        "deposit_wealth_management": balance_of("wealth_management"),
        "deposit_securities": balance_of("securities"),
    }
    out = seen.groupBy(*KEY).agg(
        *(expr.alias(name) for name, expr in by_type.items()),
        F.sum(F.when(at_q0, F.col("balance"))).alias("deposit_total"),
        F.sum(F.when(~at_q0, F.col("balance"))).alias("deposit_total_4q_ago"),
    )
    # No balance on record four quarter-ends back (the bank's history is shorter) is unknown, not zero:
    # otherwise the whole current balance would pass for a year's growth.
    known = F.col("deposit_total_4q_ago").isNotNull()
    return out.select(
        *KEY, *by_type, "deposit_total", "deposit_total_4q_ago",
        F.when(known, F.coalesce("deposit_total", F.lit(0.0)) - F.col("deposit_total_4q_ago"))
        .alias("deposit_change_4q"),
        F.when(known, ratio(F.coalesce("deposit_total", F.lit(0.0)), F.col("deposit_total_4q_ago"), floor=1000.0))
        .alias("deposit_ratio_4q"),
    )


def accounts_held(spine: DataFrame, accounts: DataFrame) -> DataFrame:
    """Accounts open at filing, banks used, and accounts closed shortly before it."""
    seen = as_of_join(spine, owned_accounts(accounts).join(
        accounts.select("account_id", "bank_code"), "account_id"), "opened_on")
    closed = F.col("closed_on").isNotNull()
    return seen.groupBy(*KEY).agg(
        F.count(F.when(held_at("opened_on", "closed_on"), 1)).cast("int").alias("accounts_open"),
        F.countDistinct(F.when(held_at("opened_on", "closed_on"), F.col("bank_code"))).cast("int")
        .alias("banks_open"),
        F.count(F.when(closed & within("closed_on", days=90), 1)).cast("int").alias("accounts_closed_90d"),
        F.count(F.when(closed & within("closed_on", months=12), 1)).cast("int").alias("accounts_closed_12m"),
    )


def assets(spine: DataFrame, asset_records: DataFrame) -> DataFrame:
    """Registered assets owned at filing, by type: count and declared value."""
    rows = asset_records.select(F.col("owner_key").alias("person_key"), "asset_type", "acquired_on",
                                "disposed_on", money("declared_value").alias("value"))
    owned = as_of_join(spine, rows, "acquired_on").where(held_at("acquired_on", "disposed_on"))

    def count_of(asset_type: str) -> Column:
        return F.count(F.when(F.col("asset_type") == asset_type, 1)).cast("int")

    def value_of(asset_type: str) -> Column:
        return F.sum(F.when(F.col("asset_type") == asset_type, F.col("value")))

    # Spelled out (as ASSET_TYPES orders them) so that a feature's name finds its code.
    return owned.groupBy(*KEY).agg(
        count_of("real_estate").alias("real_estate_count"), value_of("real_estate").alias("real_estate_value"),
        count_of("vehicle").alias("vehicle_count"), value_of("vehicle").alias("vehicle_value"),
        count_of("equity").alias("equity_count"), value_of("equity").alias("equity_value"),
        F.sum("value").alias("assets_value"),
    )


def income(spine: DataFrame, accounts: DataFrame, transactions: DataFrame) -> DataFrame:
    """Large incoming and outgoing flows over the year before filing."""
    rows = transactions.select("account_id", F.to_date("booked_at").alias("booked_on"), "direction",
                               money("amount").alias("amount")) \
        .join(owned_accounts(accounts).select("account_id", "person_key"), "account_id")
    seen = as_of_join(spine, rows, "booked_on").where(within("booked_on", months=12))
    inflow = F.col("direction") == "in"
    return seen.groupBy(*KEY).agg(
        F.sum(F.when(inflow, F.col("amount"))).alias("income_12m"),
        F.sum(F.when(inflow & within("booked_on", months=3), F.col("amount"))).alias("income_3m"),
        F.count(F.when(inflow, 1)).cast("int").alias("income_transactions_12m"),
        F.sum(F.when(~inflow, F.col("amount"))).alias("outflow_12m"),
    )
