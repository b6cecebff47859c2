"""The asset watch as a run: silver -> `gold/asset_watch`.

`run_watch` computes the leads of every terminated case as of the run date T
(`features.watch`) and replaces T's rows of `gold/asset_watch` in one Delta
transaction (a re-run of the same date gives the same table). Only cases with
leads are in the table. The clerks' files are `pipelines.exports.watch`.

`watch_due` says whether the nightly run should do it tonight (`watch.cadence`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from features.profile import Silver
from features.watch import all_leads, rank_cases, watch_spine, watched_cases
from pipelines.core import catalog, storage
from pipelines.core.config import Settings
from pipelines.core.timing import stage
from pipelines.gold.build import read_silver

__all__ = ["WatchReport", "watch_due", "run_watch"]

log = logging.getLogger(__name__)


@dataclass
class WatchReport:
    run_date: dt.date
    watched: int = 0
    respondents: int = 0
    cases_with_leads: int = 0
    leads: int = 0
    recoverable: float = 0.0
    outstanding: float = 0.0
    seconds: float = 0.0

    def to_text(self) -> str:
        return (f"asset watch as of {self.run_date}: {self.watched} terminated cases with debt unpaid "
                f"({self.respondents} respondents); {self.cases_with_leads} with leads ({self.leads} leads), "
                f"recoverable estimate {self.recoverable:,.0f} of {self.outstanding:,.0f} CNY outstanding in them"
                f" ({self.seconds:.1f}s)")


def watch_due(spark: SparkSession, settings: Settings, run_date: dt.date) -> bool:
    """Tonight's night runs the watch: always (`nightly`), never (`off`), or (`monthly`) when no night
    of this calendar month has run it yet, or when tonight already has (a re-run of the night)."""
    if settings.watch.cadence != "monthly":
        return settings.watch.cadence == "nightly"
    uri = settings.table(catalog.ASSET_WATCH)
    if not storage.delta_exists(spark, uri):
        return True
    month = storage.read_delta(spark, uri).where(F.trunc("run_date", "month") == F.lit(run_date.replace(day=1))) \
        .select("run_date").distinct().collect()
    dates = {r[0] for r in month}
    return not dates or run_date in dates


def run_watch(spark: SparkSession, settings: Settings, silver: Silver | None = None) -> WatchReport:
    """Compute and write T's watch (the nightly run gates the table before its files are written)."""
    started = time.monotonic()
    run_date = settings.run_date
    if run_date is None:
        raise ValueError("the asset watch needs a run date (--run-date): leads are as of that date")
    silver = silver or read_silver(spark, settings)
    report = WatchReport(run_date)

    with stage("watch.cases", log) as timed:
        watched = watched_cases(silver.cases, silver.closures, run_date).localCheckpoint()
        spine = watch_spine(watched, silver.parties, run_date).localCheckpoint()
        report.watched, report.respondents = watched.count(), spine.count()
        timed.rows, timed.fields["respondents"] = report.watched, report.respondents

    with stage("watch.leads", log) as timed:
        leads = all_leads(spine, accounts=silver.accounts, balances=silver.balances,
                          transactions=silver.transactions, assets=silver.assets, orders=silver.orders,
                          registrations=silver.registrations, settings=settings.watch).localCheckpoint()
        table = rank_cases(watched, leads, spine, run_date)
        uri = settings.table(catalog.ASSET_WATCH)
        storage.replace_where(table, uri, f"run_date = '{run_date.isoformat()}'")
        totals = storage.read_delta(spark, uri).where(F.col("run_date") == F.lit(run_date)).agg(
            F.count("*"), F.sum("leads_count"), F.sum("recoverable_estimate"), F.sum("outstanding")).first()
        report.cases_with_leads, report.leads = totals[0], totals[1] or 0
        report.recoverable, report.outstanding = float(totals[2] or 0), float(totals[3] or 0)
        timed.rows, timed.fields["leads"] = report.cases_with_leads, report.leads

    report.seconds = time.monotonic() - started
    log.info("%s", report.to_text())
    return report
