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

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from features.labels import LABEL_COLUMNS, labels
from features.profile import PROFILE_KEY, Silver, case_features, debtor_profile, respondents
from pipelines.core import catalog, storage
from pipelines.core.config import Settings
from pipelines.core.timing import stage

__all__ = ["GoldReport", "GoldError", "build_gold", "read_silver"]

log = logging.getLogger(__name__)


class GoldError(RuntimeError):
    pass


SILVER_TABLES = {   # Silver's field -> the catalog table it holds
    "persons": catalog.SILVER["population_persons"], "registrations": catalog.SILVER["marriage_registrations"],
    "accounts": catalog.SILVER["finance_accounts"], "balances": catalog.SILVER["finance_balances"],
    "transactions": catalog.SILVER["finance_transactions"], "loans": catalog.SILVER["finance_loans"],
    "assets": catalog.SILVER["finance_assets"], "orders": catalog.SILVER["ecommerce_orders"],
    "social_accounts": catalog.SILVER["social_accounts"], "links": catalog.SILVER["social_links"],
    "cases": catalog.SILVER["court_cases"], "parties": catalog.SILVER["court_parties"],
    "closures": catalog.SILVER["court_closures"], "dishonest": catalog.SILVER["court_dishonest"],
    "entity_links": catalog.ENTITY_LINKS,
}


def read_silver(spark: SparkSession, settings: Settings) -> Silver:
    """The silver tables gold reads."""
    return Silver(**{f.name: storage.read_delta(spark, settings.table(SILVER_TABLES[f.name]))
                     for f in fields(Silver)})


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


def build_gold(spark: SparkSession, settings: Settings, full_rebuild: bool = False,
               silver: Silver | None = None) -> GoldReport:
    """Build or extend gold for the run date; see the module docstring."""
    started = time.monotonic()   # the nightly run's stage line times the whole build
    run_date = settings.run_date
    if run_date is None:
        raise GoldError("gold needs a run date (--run-date): features and labels are as of that date")
    silver = silver or read_silver(spark, settings)
    case_uri = settings.table(catalog.CASE_FEATURES)
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

    with stage("gold.debtor_profile", log) as timed:
        resp = respondents(new_cases, silver.parties).localCheckpoint()
        profile = debtor_profile(resp, silver).withColumn("features_built_on", F.lit(run_date)).localCheckpoint()
        report.profiles = timed.rows = profile.count()

    with stage("gold.case_features", log, cases=report.new_cases):
        _write_case_features(spark, settings, silver, cases, new_cases, profile, incremental)

    status = storage.read_delta(spark, case_uri).groupBy("label_status").count().collect()
    report.label_status = {r["label_status"]: r["count"] for r in status}
    report.cases_total = sum(report.label_status.values())
    report.seconds = time.monotonic() - started
    log.info("%s", report.to_text())
    return report


def _write_case_features(spark: SparkSession, settings: Settings, silver: Silver, cases, new_cases, profile,
                         incremental: bool) -> None:
    """Write tonight's profiles and case features; re-evaluate every label at the run date."""
    run_date = settings.run_date
    case_uri, profile_uri = settings.table(catalog.CASE_FEATURES), settings.table(catalog.DEBTOR_PROFILE)
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
