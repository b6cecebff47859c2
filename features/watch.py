"""The terminated-case asset watch (终本案件财产监控): pure transforms, silver in, leads out.

A case closed `terminated_no_assets` (终本) with its debt unpaid is not over: the
court re-queries the debtor's assets and resumes enforcement when they reappear.
For each such case this module compares what each respondent holds *now*, at the
run date T, with what they held at the closure, and keeps every difference as a
lead with its evidence (what, when, how much, which source and record):

- `deposit_leads`: an account whose balance grew since the closure, or that was
  opened after it. "At closure" is the last quarter-end balance before the
  closure day; "now" is the latest one on or before T, and must be dated after
  the closure (a stale balance says nothing about now). With no balance on
  record before the closure, the balance at closure counts as 0: the closure
  itself found nothing to seize.
- `asset_leads`: real estate, vehicles and equity acquired on or after the
  closure day and still held at T.
- `transfer_leads`: large incoming transfers booked since the closure (within
  `lookback_days` of T).
- `spending_leads`: luxury and travel orders since the closure, through entity
  resolution (each carries its match confidence). A 终本 debtor is normally
  under a consumption ban, so this is also evidence of a breach.
- `spouse_leads`: a marriage registered after the closure, and the new
  spouse's assets held at T. What was acquired during the marriage may be
  joint property; what the spouse brought into it is not the debtor's.

Point in time: every record is used only if its event time is on or before T,
and an end (a disposal, an account closure, a divorce) counts only if it lies
on or before T. Nothing dated after T is read, whatever the lake holds.

`rank_cases` adds up what each lead could recover (`recovery` rates: deposits
in full, a share of registered values, nothing for spending) against what is
still owed, and ranks the cases per court. A case without leads does not
appear: an empty debtor stays silent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from features.identity import marital_events
from features.labels import NO_ASSETS
from features.pit import money
from features.text import yuan

__all__ = ["lookup", "LEAD_KINDS", "LEAD_COLUMNS", "watched_cases", "watch_spine", "deposit_leads", "asset_leads",
           "transfer_leads", "spending_leads", "spouse_leads", "all_leads", "rank_cases"]

# kind -> how a clerk reads it
LEAD_KINDS = {
    "deposit_growth": "存款增加",
    "deposit_new": "新开账户存款",
    "asset_acquired": "新增登记财产",
    "transfer_in": "大额转入",
    "spending": "高消费",
    "spouse_asset": "新配偶名下财产",
}
LEAD_COLUMNS = ["case_no", "person_key", "kind", "kind_zh", "event_on", "amount", "recoverable", "source",
                "record_id", "confidence", "detail"]
ASSET_ZH = {"real_estate": "不动产", "vehicle": "车辆", "equity": "股权"}
ACCOUNT_ZH = {"savings": "储蓄", "current": "活期", "wealth_management": "理财", "securities": "证券"}
SPENDING_CATEGORIES = ("luxury", "travel")

_T = "run_date"


def lookup(mapping: Mapping, column: str | Column, default: Column | None = None) -> Column:
    """`mapping[column]` as a Spark expression; `default` (else the value itself) where the key is absent."""
    column = F.col(column) if isinstance(column, str) else column
    return F.coalesce(F.create_map(*(F.lit(x) for kv in mapping.items() for x in kv))[column],
                      column if default is None else default)


def _zh(mapping: Mapping[str, str], column: str) -> Column:
    return lookup(mapping, column)


def _held_at_t(start: str, end: str) -> Column:
    """Began on or before T and had not ended by T (an end after T is not known yet)."""
    return (F.col(start) <= F.col(_T)) & (F.col(end).isNull() | (F.col(end) > F.col(_T)))


def _since_closure(event: Column, lookback_days: int) -> Column:
    """On or after the closure day, within `lookback_days` of T, and not after T."""
    return (event >= F.col("closed_on")) & (event >= F.date_sub(F.col(_T), lookback_days)) & (event <= F.col(_T))


def watched_cases(cases: DataFrame, closures: DataFrame, run_date: dt.date) -> DataFrame:
    """(case_no, court_code, filed_on, closed_on, claim_amount, amount_recovered, outstanding): every case
    closed `terminated_no_assets` on or before T whose claim is not fully recovered."""
    closed = closures.where(F.col("closure").isin(*NO_ASSETS) & (F.col("closed_on") <= F.lit(run_date)))
    return cases.where(F.col("filed_on") <= F.lit(run_date)).join(closed.select(
        "case_no", "closed_on", money("amount_recovered").alias("amount_recovered")), "case_no") \
        .select("case_no", "court_code", "filed_on", "closed_on", money("claim_amount").alias("claim_amount"),
                "amount_recovered",
                F.greatest(money("claim_amount") - F.col("amount_recovered"), F.lit(0.0)).alias("outstanding")) \
        .where(F.col("outstanding") > 0)


def watch_spine(watched: DataFrame, parties: DataFrame, run_date: dt.date) -> DataFrame:
    """(case_no, person_key, closed_on, run_date): one row per respondent of a watched case."""
    resp = parties.where((F.col("role") == "respondent") & F.col("party_key").isNotNull()) \
        .select("case_no", F.col("party_key").alias("person_key")).distinct()
    return watched.select("case_no", "closed_on").join(resp, "case_no") \
        .withColumn(_T, F.lit(run_date))


def _lead(kind: str, event_on: Column, amount: Column, recoverable: Column, source: str, record_id: Column,
          confidence: Column, detail: Column) -> list[Column]:
    return [F.col("case_no"), F.col("person_key"), F.lit(kind).alias("kind"), F.lit(LEAD_KINDS[kind]).alias("kind_zh"),
            event_on.alias("event_on"), amount.cast("double").alias("amount"),
            recoverable.cast("double").alias("recoverable"), F.lit(source).alias("source"),
            record_id.cast("string").alias("record_id"), confidence.cast("double").alias("confidence"),
            detail.alias("detail")]


def deposit_leads(spine: DataFrame, accounts: DataFrame, balances: DataFrame, min_increase: float) -> DataFrame:
    """Accounts whose balance now exceeds the balance at closure by `min_increase` or more."""
    owned = accounts.select("account_id", F.col("owner_key").alias("person_key"), "bank_code", "account_type",
                            "opened_on", F.col("closed_on").alias("account_closed_on"))
    seen = spine.join(owned, "person_key").where(F.col("opened_on") <= F.col(_T)) \
        .join(balances.select("account_id", F.col("as_of").alias("balance_on"), money("balance").alias("balance")),
              "account_id") \
        .where(F.col("balance_on") <= F.col(_T))
    key = ["case_no", "person_key", "account_id"]
    latest = seen.groupBy(*key).agg(
        F.max_by(F.struct("balance_on", "balance"), "balance_on").alias("now"),
        F.max_by(F.when(F.col("balance_on") < F.col("closed_on"), F.struct("balance_on", "balance")),
                 F.when(F.col("balance_on") < F.col("closed_on"), F.col("balance_on"))).alias("then"),
        F.first("closed_on").alias("closed_on"), F.first(_T).alias(_T), F.first("bank_code").alias("bank_code"),
        F.first("account_type").alias("account_type"), F.first("opened_on").alias("opened_on"),
        F.first("account_closed_on").alias("account_closed_on"))
    rows = latest.where(F.col("account_closed_on").isNull() | (F.col("account_closed_on") > F.col(_T))) \
        .withColumn("then_balance", F.coalesce(F.col("then.balance"), F.lit(0.0))) \
        .withColumn("increase", F.col("now.balance") - F.col("then_balance")) \
        .where((F.col("now.balance_on") > F.col("closed_on")) & (F.col("increase") >= F.lit(float(min_increase))))
    is_new = F.col("opened_on") >= F.col("closed_on")
    label = F.concat(F.col("bank_code"), F.lit(" "), _zh(ACCOUNT_ZH, "account_type"), F.lit("账户 "), F.col("account_id"))
    detail = F.when(is_new, F.concat(label, F.lit("（终本后"), F.col("opened_on").cast("string"), F.lit("开户）余额"),
                                     yuan(F.col("now.balance")), F.lit("（"), F.col("now.balance_on").cast("string"),
                                     F.lit("）"))) \
        .otherwise(F.concat(label, F.lit(" 余额"), yuan(F.col("now.balance")), F.lit("（"),
                            F.col("now.balance_on").cast("string"), F.lit("），终本时"), yuan(F.col("then_balance"))))
    new_rows = rows.where(is_new).select(*_lead("deposit_new", F.col("now.balance_on"), F.col("now.balance"),
                                                F.col("increase"), "finance/balances", F.col("account_id"),
                                                F.lit(None), detail))
    grown = rows.where(~is_new).select(*_lead("deposit_growth", F.col("now.balance_on"), F.col("now.balance"),
                                              F.col("increase"), "finance/balances", F.col("account_id"),
                                              F.lit(None), detail))
    return new_rows.unionByName(grown)


def asset_leads(spine: DataFrame, assets: DataFrame, recovery: Mapping[str, float]) -> DataFrame:
    """Registered assets acquired on or after the closure day and still held at T."""
    rows = spine.join(assets.select(F.col("owner_key").alias("person_key"), "asset_id", "asset_type", "region",
                                    "acquired_on", "disposed_on", money("declared_value").alias("value")),
                      "person_key") \
        .where(_held_at_t("acquired_on", "disposed_on") & (F.col("acquired_on") >= F.col("closed_on")))
    rate = lookup(recovery, "asset_type", F.lit(0.0))
    detail = F.concat(_zh(ASSET_ZH, "asset_type"), F.lit(" "), F.col("asset_id"), F.lit("（登记地"), F.col("region"),
                      F.lit("），"), F.col("acquired_on").cast("string"), F.lit("取得，申报价值"), yuan(F.col("value")))
    return rows.select(*_lead("asset_acquired", F.col("acquired_on"), F.col("value"), F.col("value") * rate,
                              "finance/assets", F.col("asset_id"), F.lit(None), detail))


def transfer_leads(spine: DataFrame, accounts: DataFrame, balances: DataFrame, transactions: DataFrame,
                   large: float, lookback_days: int, rate: float) -> DataFrame:
    """Incoming transfers of `large` CNY or more since the closure.

    Money booked before the account's latest balance (on or before T) is already
    in that balance, so only a transfer after it counts towards recovery (at `rate`).
    """
    owned = accounts.select("account_id", F.col("owner_key").alias("person_key"), "bank_code")
    last_balance = spine.select("person_key", _T).distinct().join(owned, "person_key") \
        .join(balances.select("account_id", F.col("as_of").alias("balance_on")), "account_id") \
        .where(F.col("balance_on") <= F.col(_T)).groupBy("account_id", _T).agg(F.max("balance_on").alias("last_balance_on"))
    rows = spine.join(owned, "person_key") \
        .join(transactions.where(F.col("direction") == "in").select(
            "account_id", "txn_id", F.to_date("booked_at").alias("booked_on"), money("amount").alias("amount"), "channel"),
            "account_id") \
        .where(_since_closure(F.col("booked_on"), lookback_days) & (F.col("amount") >= F.lit(float(large)))) \
        .join(last_balance, ["account_id", _T], "left")
    after_balance = F.col("last_balance_on").isNull() | (F.col("booked_on") > F.col("last_balance_on"))
    detail = F.concat(F.col("booked_on").cast("string"), F.lit(" 转入"), yuan(F.col("amount")), F.lit("（"),
                      F.col("bank_code"), F.lit(" 账户 "), F.col("account_id"), F.lit("，交易号 "), F.col("txn_id"), F.lit("）"))
    return rows.select(*_lead("transfer_in", F.col("booked_on"), F.col("amount"),
                              F.when(after_balance, F.col("amount") * F.lit(float(rate))).otherwise(F.lit(0.0)),
                              "finance/transactions", F.col("txn_id"), F.lit(None), detail))


def spending_leads(spine: DataFrame, orders: DataFrame, min_total: float, lookback_days: int) -> DataFrame:
    """Luxury and travel spending since the closure, one lead per respondent when it adds up to `min_total`."""
    rows = spine.join(orders.where(F.col("person_key").isNotNull() & F.col("category").isin(*SPENDING_CATEGORIES))
                      .select("person_key", "order_id", F.to_date("ordered_at").alias("ordered_on"),
                              money("amount").alias("amount"), "category", "match_confidence"), "person_key") \
        .where(_since_closure(F.col("ordered_on"), lookback_days))
    per_person = rows.groupBy("case_no", "person_key").agg(
        F.sum("amount").alias("total"), F.count("*").alias("orders"), F.max("ordered_on").alias("last_on"),
        F.max_by("order_id", F.struct("ordered_on", "order_id")).alias("last_order"),
        F.min("match_confidence").alias("confidence"),
        F.sum(F.when(F.col("category") == "luxury", F.col("amount"))).alias("luxury"),
        F.sum(F.when(F.col("category") == "travel", F.col("amount"))).alias("travel")) \
        .where(F.col("total") >= F.lit(float(min_total)))
    detail = F.concat(F.lit("终本后奢侈品、旅游消费 "), F.col("orders").cast("string"), F.lit(" 笔共"), yuan(F.col("total")),
                      F.lit("（奢侈品"), yuan(F.coalesce("luxury", F.lit(0.0))), F.lit("，旅游"),
                      yuan(F.coalesce("travel", F.lit(0.0))), F.lit("；最近 "), F.col("last_on").cast("string"),
                      F.lit("，订单 "), F.col("last_order"), F.lit("；关联置信度"),
                      F.format_string("%.2f", F.col("confidence")), F.lit("），或违反限制消费令"))
    return per_person.select(*_lead("spending", F.col("last_on"), F.col("total"), F.lit(0.0), "ecommerce/orders",
                                    F.col("last_order"), F.col("confidence"), detail))


def spouse_leads(spine: DataFrame, registrations: DataFrame, assets: DataFrame, recovery: Mapping[str, float],
                 spouse_share: float) -> DataFrame:
    """Assets held at T by a spouse married after the closure (and not divorced from by T)."""
    events = marital_events(registrations)
    married = spine.join(events.where(F.col("kind") == "marriage"), "person_key") \
        .where((F.col("registered_on") >= F.col("closed_on")) & (F.col("registered_on") <= F.col(_T)))
    divorces = events.where(F.col("kind") == "divorce").select(
        "person_key", "partner_key", F.col("registered_on").alias("divorced_on"))
    still = married.join(divorces, ["person_key", "partner_key"], "left") \
        .withColumn("_ended", F.col("divorced_on").isNotNull() & (F.col("divorced_on") >= F.col("registered_on"))
                    & (F.col("divorced_on") <= F.col(_T))) \
        .groupBy("case_no", "person_key", "partner_key", "registered_on", _T).agg(F.max("_ended").alias("_ended")) \
        .where(~F.col("_ended"))
    held = still.join(assets.select(F.col("owner_key").alias("partner_key"), "asset_id", "asset_type", "region",
                                    "acquired_on", "disposed_on", money("declared_value").alias("value")),
                      "partner_key") \
        .where(_held_at_t("acquired_on", "disposed_on"))
    rate = lookup(recovery, "asset_type", F.lit(0.0))
    joint = F.col("acquired_on") >= F.col("registered_on")
    detail = F.concat(F.col("registered_on").cast("string"), F.lit(" 登记结婚；配偶名下"), _zh(ASSET_ZH, "asset_type"),
                      F.lit(" "), F.col("asset_id"), F.lit("，申报价值"), yuan(F.col("value")), F.lit("，"),
                      F.col("acquired_on").cast("string"),
                      F.when(joint, F.lit("取得（婚后，或为夫妻共同财产）")).otherwise(F.lit("取得（婚前个人财产）")))
    return held.select(*_lead("spouse_asset", F.col("acquired_on"), F.col("value"),
                              F.when(joint, F.col("value") * rate * F.lit(float(spouse_share))).otherwise(F.lit(0.0)),
                              "finance/assets", F.col("asset_id"), F.lit(None), detail))


def all_leads(spine: DataFrame, *, accounts: DataFrame, balances: DataFrame, transactions: DataFrame,
              assets: DataFrame, orders: DataFrame, registrations: DataFrame, settings) -> DataFrame:
    """Every lead of every watched respondent, in `LEAD_COLUMNS`. `settings` is the `watch` config section."""
    rates = settings.recovery
    asset_rates = {"real_estate": rates.real_estate, "vehicle": rates.vehicle, "equity": rates.equity}
    parts = [
        deposit_leads(spine, accounts, balances, settings.min_deposit_increase),
        asset_leads(spine, assets, asset_rates),
        transfer_leads(spine, accounts, balances, transactions, settings.large_transfer, settings.lookback_days,
                       rates.transfer_in),
        spending_leads(spine, orders, settings.min_spending, settings.lookback_days),
        spouse_leads(spine, registrations, assets, asset_rates, rates.spouse_share),
    ]
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    return out.select(*LEAD_COLUMNS)


def rank_cases(watched: DataFrame, leads: DataFrame, respondents: DataFrame, run_date: dt.date) -> DataFrame:
    """One row per watched case with leads: the leads (most recoverable, then latest, first), the recoverable
    estimate capped at what is owed, its share of the debt, and the case's rank in its court."""
    lead = F.struct(F.col("recoverable"), F.col("event_on"), F.col("kind"), F.col("record_id"), F.col("person_key"),
                    F.col("kind_zh"), F.col("amount"), F.col("source"), F.col("confidence"), F.col("detail"))
    per_case = leads.groupBy("case_no").agg(
        F.reverse(F.array_sort(F.collect_list(lead))).alias("_leads"),
        F.sum("recoverable").alias("recoverable_total"),
        F.countDistinct("person_key").alias("respondents_with_leads"))
    n_resp = respondents.groupBy("case_no").agg(F.countDistinct("person_key").cast("int").alias("respondents"))
    fields = ["person_key", "kind", "kind_zh", "event_on", "amount", "recoverable", "source", "record_id",
              "confidence", "detail"]
    ranked = watched.join(per_case, "case_no").join(n_resp, "case_no", "left") \
        .withColumn("recoverable_estimate", F.least(F.col("recoverable_total"), F.col("outstanding"))) \
        .withColumn("recovery_ratio", F.col("recoverable_estimate") / F.col("outstanding"))
    order = Window.partitionBy("court_code").orderBy(F.desc("recovery_ratio"), F.desc("recoverable_estimate"),
                                                     F.desc(F.size("_leads")), "case_no")
    return ranked.select(
        F.lit(run_date).alias("run_date"), "court_code", "case_no", "filed_on", "closed_on", "claim_amount",
        "amount_recovered", "outstanding", "recoverable_estimate", "recovery_ratio",
        F.row_number().over(order).cast("int").alias("rank_in_court"),
        F.coalesce("respondents", F.lit(0)).alias("respondents"),
        F.col("respondents_with_leads").cast("int").alias("respondents_with_leads"),
        F.size("_leads").cast("int").alias("leads_count"),
        F.transform("_leads", lambda x: F.struct(*(x[f].alias(f) for f in fields))).alias("leads"))
