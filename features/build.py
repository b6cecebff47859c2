"""Silver -> gold: point-in-time debtor profiles and labelled case features.

- `debtor_profile`: one row per respondent per case, person-level features as
  of the case's filing date.
- `case_features`: one row per case; the respondents' features combined as the
  dictionary's `agg` says, the case's own features, and the label evaluated at
  the run date T.

A run with date T covers the cases filed on or before T. The nightly run
builds features only for cases not yet in gold and re-evaluates every label
at T (labels move as closures arrive; features never do, since they use only
records from before filing). `full_rebuild` recomputes the whole history, as a
retraining run does.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, fields

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from features.ability import accounts_held, assets, deposits, income
from features.behaviour import spending
from features.catalogue import Feature, load_dictionary
from features.credit import dishonest, loans, prior_cases
from features.evasion import disposals, transfers_out
from features.identity import identity, marital
from features.labels import LABEL_COLUMNS, labels
from features.pit import AS_OF, KEY, money, ratio
from features.social import contacts, kin, own_accounts, social
from pipelines import storage
from pipelines.config import Settings

__all__ = ["Silver", "GoldReport", "GoldError", "respondents", "person_features", "debtor_profile",
           "case_features", "build_gold", "PROFILE_KEY"]

log = logging.getLogger(__name__)

PROFILE_KEY = ["case_no", "person_key"]


class GoldError(RuntimeError):
    pass


@dataclass(frozen=True)
class Silver:
    """The silver tables gold reads, passed in so tests can use tiny inline frames."""

    persons: DataFrame
    registrations: DataFrame
    accounts: DataFrame
    balances: DataFrame
    transactions: DataFrame
    loans: DataFrame
    assets: DataFrame
    orders: DataFrame
    social_accounts: DataFrame
    links: DataFrame
    cases: DataFrame
    parties: DataFrame
    closures: DataFrame
    dishonest: DataFrame
    entity_links: DataFrame

    TABLES = {
        "persons": "population_persons", "registrations": "marriage_registrations",
        "accounts": "finance_accounts", "balances": "finance_balances",
        "transactions": "finance_transactions", "loans": "finance_loans", "assets": "finance_assets",
        "orders": "ecommerce_orders", "social_accounts": "social_accounts", "links": "social_links",
        "cases": "court_cases", "parties": "court_parties", "closures": "court_closures",
        "dishonest": "court_dishonest", "entity_links": "entity_links",
    }

    @classmethod
    def read(cls, spark: SparkSession, settings: Settings) -> Silver:
        return cls(**{f.name: storage.read_delta(spark, settings.table("silver", cls.TABLES[f.name]))
                      for f in fields(cls)})


@dataclass
class GoldReport:
    mode: str
    run_date: dt.date
    new_cases: int = 0
    profiles: int = 0
    cases_total: int = 0
    label_status: dict[str, int] | None = None
    seconds: float = 0.0

    def to_text(self) -> str:
        status = ", ".join(f"{k} {v}" for k, v in sorted((self.label_status or {}).items()))
        return (f"gold ({self.mode}) as of {self.run_date}: {self.new_cases} cases built "
                f"({self.profiles} respondent profiles) in {self.seconds:.1f}s; "
                f"{self.cases_total} cases in gold; labels: {status}")


def respondents(cases: DataFrame, parties: DataFrame) -> DataFrame:
    """(case_no, person_key, as_of, respondent_no): respondent 1 is the first listed."""
    order = Window.partitionBy("case_no").orderBy("source_batch_dt", "source_file", "source_row", "party_key")
    rows = parties.where((F.col("role") == "respondent") & F.col("party_key").isNotNull()) \
        .join(cases.select("case_no", F.col("filed_on").alias(AS_OF)), "case_no")
    return rows.select("case_no", F.col("party_key").alias("person_key"), AS_OF,
                       F.row_number().over(order).alias("respondent_no"))


def _person_level() -> list[Feature]:
    return [f for f in load_dictionary() if f.agg != "case"]


def person_features(spine: DataFrame, silver: Silver) -> DataFrame:
    """All person-level features for a `(person_key, as_of)` spine, one row per spine row."""
    accounts = own_accounts(spine, silver.social_accounts, silver.entity_links)
    held = contacts(accounts, silver.social_accounts, silver.links)
    kin_at_filing = kin(spine, silver.registrations, held)
    families = [
        identity(spine, silver.persons),
        marital(spine, silver.registrations),
        deposits(spine, silver.accounts, silver.balances),
        accounts_held(spine, silver.accounts),
        assets(spine, silver.assets),
        income(spine, silver.accounts, silver.transactions),
        loans(spine, silver.loans),
        prior_cases(spine, silver.cases, silver.parties, silver.closures),
        dishonest(spine, silver.dishonest),
        spending(spine, silver.orders, silver.loans, silver.entity_links),
        social(spine, accounts, held, kin_at_filing, silver.dishonest, silver.assets),
        disposals(spine, silver.assets, kin_at_filing),
        transfers_out(spine, silver.accounts, silver.transactions, kin_at_filing),
    ]
    out = spine
    for family in families:
        out = out.join(family, KEY, "left")
    wanted = _person_level()
    fills = {f.name: f.fill for f in wanted if f.fill is not None and f.name in out.columns}
    out = out.fillna({k: v for k, v in fills.items() if isinstance(v, str)}) \
        .fillna({k: v for k, v in fills.items() if not isinstance(v, str)})
    out = out.withColumn("spend_to_income_12m", ratio(F.col("spend_12m"), F.col("income_12m"), floor=1000.0))
    return out.select(*KEY, *(f.name for f in wanted))


def debtor_profile(resp: DataFrame, silver: Silver) -> DataFrame:
    spine = resp.select(*KEY).distinct()
    per_person = person_features(spine, silver)
    return resp.join(per_person, KEY, "left").select(
        "case_no", "person_key", F.col(AS_OF).alias("filed_on"), "respondent_no",
        *(f.name for f in _person_level()))


def _combine(f: Feature) -> Column:
    col = F.col(f.name)
    if f.agg == "lead":
        return F.min_by(col, "respondent_no").alias(f.name)
    return {"sum": F.sum, "max": F.max, "min": F.min}[f.agg](col).alias(f.name)


def case_features(cases: DataFrame, profile: DataFrame, case_labels: DataFrame) -> DataFrame:
    """One row per case: respondents combined, the case's own features, and the label."""
    combined = profile.groupBy("case_no").agg(*(_combine(f) for f in _person_level()),
                                              F.count("*").cast("int").alias("n_respondents"))
    claim = money("claim_amount")
    liquid = F.coalesce(F.col("deposit_total"), F.lit(0.0))
    everything = liquid + F.coalesce(F.col("assets_value"), F.lit(0.0))
    derived = {
        "cause": F.col("cause"),
        "claim_amount": claim,
        "applicant_kind": F.col("applicant_kind"),
        "n_respondents": F.coalesce(F.col("n_respondents"), F.lit(0)),
        "claim_to_liquid_assets": ratio(claim, liquid, floor=1000.0),
        "claim_to_total_assets": ratio(claim, everything, floor=1000.0),
    }
    out = cases.select("case_no", "court_code", "filed_on", "cause", "claim_amount", "applicant_kind") \
        .join(combined, "case_no", "left").join(case_labels, "case_no", "left")
    columns = [derived[f.name].alias(f.name) if f.agg == "case" else F.col(f.name) for f in load_dictionary()]
    return out.select("case_no", "court_code", "filed_on", *columns, *LABEL_COLUMNS)


def build_gold(spark: SparkSession, settings: Settings, full_rebuild: bool = False,
               silver: Silver | None = None) -> GoldReport:
    """Build or extend gold for the run date; see the module docstring."""
    started = time.monotonic()
    run_date = settings.run_date
    if run_date is None:
        raise GoldError("gold needs a run date (--run-date): features and labels are as of that date")
    silver = silver or Silver.read(spark, settings)
    case_uri, profile_uri = settings.table("gold", "case_features"), settings.table("gold", "debtor_profile")
    incremental = not full_rebuild and storage.delta_exists(spark, case_uri)
    report = GoldReport("nightly" if incremental else "full rebuild", run_date)

    cases = silver.cases.where(F.col("filed_on") <= F.lit(run_date))
    new_cases = cases
    if incremental:
        existing = storage.read_delta(spark, case_uri)
        latest = existing.agg(F.max("label_as_of")).first()[0]
        if latest is not None and latest > run_date:
            raise GoldError(f"gold holds labels as of {latest}, after the run date {run_date}; "
                            "an earlier state of knowledge needs --full-rebuild (or another lake)")
        new_cases = cases.join(existing.select("case_no"), "case_no", "left_anti")
    new_cases = new_cases.localCheckpoint()
    report.new_cases = new_cases.count()
    log.info("gold: %d cases to build (%s, as of %s)", report.new_cases, report.mode, run_date)

    stage = time.monotonic()
    resp = respondents(new_cases, silver.parties).localCheckpoint()
    profile = debtor_profile(resp, silver).withColumn("features_built_on", F.lit(run_date)).localCheckpoint()
    report.profiles = profile.count()
    log.info("gold: debtor_profile %d rows in %.1fs", report.profiles, time.monotonic() - stage)

    stage = time.monotonic()
    built = case_features(new_cases, profile, labels(new_cases, silver.closures, run_date)) \
        .withColumn("features_built_on", F.lit(run_date))
    if incremental:
        affected = new_cases.select("case_no")
        storage.replace_units(spark, profile_uri, profile, affected, ["case_no"], PROFILE_KEY)
        storage.replace_units(spark, case_uri, built, affected, ["case_no"], ["case_no"])
        storage.update_columns(spark, case_uri, labels(cases, silver.closures, run_date), ["case_no"],
                               list(LABEL_COLUMNS))
    else:
        storage.overwrite(profile, profile_uri)
        storage.overwrite(built, case_uri)
    log.info("gold: case_features written in %.1fs", time.monotonic() - stage)

    status = storage.read_delta(spark, case_uri).groupBy("label_status").count().collect()
    report.label_status = {r["label_status"]: r["count"] for r in status}
    report.cases_total = sum(report.label_status.values())
    report.seconds = time.monotonic() - started
    log.info("%s", report.to_text())
    return report
