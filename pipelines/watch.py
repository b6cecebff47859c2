"""The asset watch as a run: silver -> `gold/asset_watch` -> one 终本案件财产线索 file per court.

`run_watch` computes the leads of every terminated case as of the run date T
(`features.watch`), replaces T's rows of `gold/asset_watch` in one Delta
transaction (a re-run of the same date gives the same table), and writes each
court's CSV and XLSX under `<exports>/<T>/终本案件财产线索/`. Only cases with
leads are in the table and the files; a court without any gets header-only
files, so a clerk can tell "nothing this month" from "not run".

`watch_due` says whether the nightly run should do it tonight (`watch.cadence`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from features.build import Silver
from features.watch import all_leads, lookup, rank_cases, watch_spine, watched_cases
from pipelines import storage
from pipelines.clerk_export import by_court, court_codes, night_folder, respondent_identities
from pipelines.config import Settings
from pipelines.exports import Sheet, write_court_files

__all__ = ["WATCH_SHEET", "WATCH_FOLDER", "WatchReport", "watch_due", "run_watch", "watch_rows", "export_watch"]

log = logging.getLogger(__name__)

WATCH_FOLDER = "终本案件财产线索"
WATCH_SHEET = Sheet(
    name=WATCH_FOLDER,
    columns=("排名", "案号", "立案日期", "终本日期", "被执行人", "证件号码(脱敏)", "未履行金额", "可执行财产估计",
             "估计占未履行", "线索数", "财产线索"),
    number_formats={"排名": "0", "未履行金额": "#,##0.00", "可执行财产估计": "#,##0.00", "估计占未履行": "0.0%",
                    "线索数": "0"},
    wrap=("财产线索",),
    file_suffix=f"_{WATCH_FOLDER}",
)
SOURCE_ZH = {"finance/balances": "银行存款查询", "finance/assets": "财产登记", "finance/transactions": "银行交易流水",
             "ecommerce/orders": "电商订单", "marriage/registrations": "婚姻登记"}


@dataclass
class WatchReport:
    run_date: dt.date
    watched: int = 0
    respondents: int = 0
    cases_with_leads: int = 0
    leads: int = 0
    recoverable: float = 0.0
    outstanding: float = 0.0
    folder: Path | None = None
    files: dict[str, dict[str, Path]] = field(default_factory=dict)
    seconds: float = 0.0

    def to_text(self) -> str:
        return (f"asset watch as of {self.run_date}: {self.watched} terminated cases with debt unpaid "
                f"({self.respondents} respondents); {self.cases_with_leads} with leads ({self.leads} leads), "
                f"recoverable estimate {self.recoverable:,.0f} of {self.outstanding:,.0f} CNY outstanding in them"
                + (f"; {len(self.files)} court files in {self.folder}" if self.folder else "")
                + f" ({self.seconds:.1f}s)")


def watch_due(spark: SparkSession, settings: Settings, run_date: dt.date) -> bool:
    """Tonight's night runs the watch: always (`nightly`), never (`off`), or (`monthly`) when no night
    of this calendar month has run it yet, or when tonight already has (a re-run of the night)."""
    if settings.watch.cadence != "monthly":
        return settings.watch.cadence == "nightly"
    uri = settings.table("gold", "asset_watch")
    if not storage.delta_exists(spark, uri):
        return True
    month = storage.read_delta(spark, uri).where(F.trunc("run_date", "month") == F.lit(run_date.replace(day=1))) \
        .select("run_date").distinct().collect()
    dates = {r[0] for r in month}
    return not dates or run_date in dates


def run_watch(spark: SparkSession, settings: Settings, silver: Silver | None = None, export: bool = True) -> WatchReport:
    """Compute and write T's watch; with `export`, also the court files (the nightly run gates the table first)."""
    started = time.monotonic()
    run_date = settings.run_date
    if run_date is None:
        raise ValueError("the asset watch needs a run date (--run-date): leads are as of that date")
    silver = silver or Silver.read(spark, settings)
    report = WatchReport(run_date)

    stage = time.monotonic()
    watched = watched_cases(silver.cases, silver.closures, run_date).localCheckpoint()
    spine = watch_spine(watched, silver.parties, run_date).localCheckpoint()
    report.watched, report.respondents = watched.count(), spine.count()
    log.info("watch: %d terminated cases with debt unpaid, %d respondents (%.1fs)", report.watched,
             report.respondents, time.monotonic() - stage)

    stage = time.monotonic()
    leads = all_leads(spine, accounts=silver.accounts, balances=silver.balances, transactions=silver.transactions,
                      assets=silver.assets, orders=silver.orders, registrations=silver.registrations,
                      settings=settings.watch).localCheckpoint()
    table = rank_cases(watched, leads, spine, run_date)
    uri = settings.table("gold", "asset_watch")
    storage.replace_where(table, uri, f"run_date = '{run_date.isoformat()}'")
    totals = storage.read_delta(spark, uri).where(F.col("run_date") == F.lit(run_date)).agg(
        F.count("*"), F.sum("leads_count"), F.sum("recoverable_estimate"), F.sum("outstanding")).first()
    report.cases_with_leads, report.leads = totals[0], totals[1] or 0
    report.recoverable, report.outstanding = float(totals[2] or 0), float(totals[3] or 0)
    log.info("watch: %d cases with %d leads written to gold/asset_watch (%.1fs)", report.cases_with_leads,
             report.leads, time.monotonic() - stage)

    if export:
        report.folder, report.files = export_watch(spark, settings, run_date)
    report.seconds = time.monotonic() - started
    log.info("%s", report.to_text())
    return report


def watch_rows(spark: SparkSession, settings: Settings, run_date: dt.date) -> pd.DataFrame:
    """T's watch as the clerks' table, one row per case, court code kept for splitting."""
    watch = storage.read_delta(spark, settings.table("gold", "asset_watch")).where(F.col("run_date") == F.lit(run_date))
    people = respondent_identities(spark, settings, watch.select("case_no"))
    lines = _lead_lines(watch, people)
    names = people.groupBy("case_no").agg(F.array_sort(F.collect_list(F.struct("respondent_no", "name", "masked_id")))
                                          .alias("_p")) \
        .select("case_no", F.array_join("_p.name", "、").alias("被执行人"),
                F.array_join("_p.masked_id", "、").alias("证件号码(脱敏)"))
    rows = watch.join(lines, "case_no", "left").join(names, "case_no", "left").select(
        "court_code", F.col("rank_in_court").alias("排名"), F.col("case_no").alias("案号"),
        F.col("filed_on").cast("string").alias("立案日期"), F.col("closed_on").cast("string").alias("终本日期"),
        "被执行人", "证件号码(脱敏)", F.col("outstanding").alias("未履行金额"),
        F.col("recoverable_estimate").alias("可执行财产估计"), F.col("recovery_ratio").alias("估计占未履行"),
        F.col("leads_count").alias("线索数"), F.col("_lines").alias("财产线索"))
    return rows.toPandas().sort_values(["court_code", "排名"]).reset_index(drop=True)


def _lead_lines(watch: DataFrame, people: DataFrame) -> DataFrame:
    """(case_no, _lines): "1. 【新增登记财产】车辆 … （财产登记，张三）", a line per lead in the table's order."""
    exploded = watch.select("case_no", F.posexplode("leads").alias("i", "lead"))
    named = exploded.join(people.select("case_no", F.col("person_key").alias("_key"), "name"),
                          (exploded["case_no"] == people["case_no"]) & (F.col("lead.person_key") == F.col("_key")), "left") \
        .select(exploded["case_no"], "i", "lead", "name")
    source = lookup(SOURCE_ZH, "lead.source")
    line = F.concat(F.col("i") + 1, F.lit(". 【"), F.col("lead.kind_zh"), F.lit("】"), F.col("lead.detail"),
                    F.lit("（"), source, F.when(F.col("name").isNotNull(), F.concat(F.lit("，"), F.col("name")))
                    .otherwise(F.lit("")), F.lit("）"))
    return named.groupBy("case_no").agg(F.array_join(F.transform(
        F.array_sort(F.collect_list(F.struct(F.col("i"), line.alias("text")))), lambda x: x["text"]), "\n")
        .alias("_lines"))


def export_watch(spark: SparkSession, settings: Settings, run_date: dt.date) -> tuple[Path, dict[str, dict[str, Path]]]:
    """Each court's 终本案件财产线索 CSV and XLSX for T (header-only where a court has no leads)."""
    rows = watch_rows(spark, settings, run_date)
    tables = by_court(rows, court_codes(spark, settings))
    folder = night_folder(settings, run_date) / WATCH_FOLDER
    return folder, write_court_files(tables, folder, WATCH_SHEET)
