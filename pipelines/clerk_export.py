"""A night's scores -> one file per court for its filing clerks (the one place names leave bronze).

Contract section 5 lets an export row show the case number, the respondent's
name as the court's own party record has it, and the ID masked to its first 6
and last 4 characters. Those come from `bronze/court_parties` (the latest
delivery of each party, in the order the parties were delivered, as gold's
respondent numbers are). The masking happens in Spark: a full ID number never
reaches the driver. Writing the files is `pipelines.exports`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from pipelines import storage
from pipelines.bronze.rules import normalise_id
from pipelines.config import Settings
from pipelines.exports import nightly_summary, write_court_exports, write_text_atomic
from pipelines.silver.conform import latest_delivery

__all__ = ["ExportReport", "masked_id", "respondents_of", "respondent_identities", "court_codes", "by_court", "export_rows",
           "export_night",
           "night_folder"]

log = logging.getLogger(__name__)


@dataclass
class ExportReport:
    folder: Path
    cases: int
    courts: int
    backlog_not_exported: int
    files: dict[str, dict[str, Path]] = field(default_factory=dict)
    summary: Path | None = None
    seconds: float = 0.0

    def to_text(self) -> str:
        text = (f"exported {self.cases} case(s) for {self.courts} court(s) to {self.folder} "
                f"({self.seconds:.1f}s)")
        if self.backlog_not_exported:
            text += (f"; {self.backlog_not_exported} back-log case(s) filed earlier were scored but are not in "
                     "the clerks' files (export.max_age_days)")
        return text


def masked_id(id_number: Column) -> Column:
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
        F.col("name").alias("name"), masked_id(F.col("_id")).alias("masked"))))
    return latest.groupBy("case_no").agg(ordered.alias("_r")).select(
        "case_no", F.col("_r.name").alias("respondent_names"), F.col("_r.masked").alias("masked_ids"))


def respondent_identities(spark: SparkSession, settings: Settings, cases: DataFrame) -> DataFrame:
    """(case_no, person_key, respondent_no, name, masked_id) of the cases' respondents.

    Silver's party row gives the key (and gold's respondent order); its lineage leads to the
    bronze row that holds the name and the ID, which is masked here, in Spark.
    """
    silver = storage.read_delta(spark, settings.table("silver", "court_parties")) \
        .where((F.col("role") == "respondent") & F.col("party_key").isNotNull()) \
        .join(cases.select("case_no").distinct(), "case_no")
    bronze = storage.read_delta(spark, settings.table("bronze", "court_parties")).select(
        F.col("batch_dt").alias("source_batch_dt"), "source_file", "source_row", "name",
        masked_id(F.col("id_number")).alias("masked_id"))
    order = Window.partitionBy("case_no").orderBy("source_batch_dt", "source_file", "source_row", "party_key")
    return silver.join(bronze, ["source_batch_dt", "source_file", "source_row"], "left").select(
        "case_no", F.col("party_key").alias("person_key"), F.row_number().over(order).alias("respondent_no"),
        "name", "masked_id")


def court_codes(spark: SparkSession, settings: Settings) -> list[str]:
    """Every court silver knows: each gets its files every night, header-only when it has nothing."""
    return sorted(r[0] for r in storage.read_delta(spark, settings.table("silver", "court_cases"))
                  .select("court_code").distinct().collect())


def by_court(rows: pd.DataFrame, courts: list[str]) -> dict[str, pd.DataFrame]:
    """{court: its rows without `court_code`} for `courts` and every court in `rows`."""
    return {court: rows[rows["court_code"] == court].drop(columns=["court_code"]).reset_index(drop=True)
            for court in sorted({*courts, *rows["court_code"]})}


def night_folder(settings: Settings, run_date: dt.date) -> Path:
    return Path(settings.paths.exports) / run_date.isoformat()


def export_rows(spark: SparkSession, settings: Settings, run_date: dt.date) -> tuple[pd.DataFrame, int]:
    """Tonight's scored cases filed within `export.max_age_days` (one row per case), and how many older
    back-log cases tonight scored but the files leave out."""
    tonight = storage.read_delta(spark, settings.table("gold", "case_scores")) \
        .where(F.col("run_date") == F.lit(run_date))
    is_recent = F.col("filed_on") >= F.lit(run_date - dt.timedelta(days=settings.export.max_age_days))
    recent = tonight.where(is_recent)
    backlog = tonight.agg(F.count(F.when(~is_recent, 1))).first()[0]
    claims = storage.read_delta(spark, settings.table("silver", "court_cases")).select("case_no", "claim_amount")
    parties = storage.read_delta(spark, settings.table("bronze", "court_parties"))
    rows = recent.join(claims, "case_no", "left") \
        .join(respondents_of(recent, parties), "case_no", "left") \
        .select("case_no", "court_code", "filed_on", "respondent_names", "masked_ids",
                F.col("claim_amount").cast("double").alias("claim_amount"), "probability", "band", "reasons")
    frame = rows.toPandas()   # one night's cases: small, and the files are written on the driver
    for column in ("respondent_names", "masked_ids", "reasons"):
        frame[column] = frame[column].map(lambda v: list(v) if v is not None else [])
    return frame, backlog


def export_night(spark: SparkSession, settings: Settings, run_date: dt.date, drift: pd.DataFrame | None = None,
                 notes: list[str] | None = None) -> ExportReport:
    """Every court's CSV and XLSX for the night, and the nightly summary, under `<exports>/<run_date>/`."""
    started = time.monotonic()
    folder = night_folder(settings, run_date)
    rows, backlog = export_rows(spark, settings, run_date)
    courts = court_codes(spark, settings)
    drift_uri = settings.table("monitor", "drift")
    if drift is None and storage.delta_exists(spark, drift_uri):
        drift = storage.read_delta(spark, drift_uri).where(F.col("run_date") == F.lit(run_date)).toPandas()
    files = write_court_exports(rows, folder, courts)
    notes = list(notes or [])
    if backlog:
        notes.append(f"另有 {backlog} 件立案早于 {settings.export.max_age_days} 天的积压案件今晚已评分，未列入书记员文件。")
    summary = write_text_atomic(folder / "summary.md", nightly_summary(run_date, rows, drift, notes))
    report = ExportReport(folder, len(rows), len(files), backlog, files, summary, time.monotonic() - started)
    log.info("stage export: %d rows, %d courts, %.1fs -> %s", report.cases, report.courts, report.seconds, folder)
    return report
