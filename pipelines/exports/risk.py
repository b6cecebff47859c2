"""A night's scores -> one file per court for its filing clerks (the one place names leave bronze).

Contract section 5 lets an export row show the case number, the respondent's
name as the court's own party record has it, and the ID masked to its first 6
and last 4 characters. Those come from `bronze/court_parties` (the latest
delivery of each party, in the order the parties were delivered, as gold's
respondent numbers are). The masking happens in Spark: a full ID number never
reaches the driver. Writing the files is `pipelines.exports.sheet`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.core import catalog, storage
from pipelines.core.config import Settings
from pipelines.exports.courts import by_court, court_codes, night_folder
from pipelines.exports.identities import respondents_of
from pipelines.exports.scored import INPUT_COLUMNS, checked, court_codes_of
from pipelines.exports.sheet import Sheet, _amount, _date_text, _joined, _text, neutralised, write_court_files, write_text_atomic
from pipelines.exports.summary import nightly_summary

__all__ = ["EXPORT_COLUMNS", "INPUT_COLUMNS", "SHEET_NAME", "CLERK_SHEET", "ExportReport", "clerk_table",
           "write_court_exports", "export_rows", "export_night"]

log = logging.getLogger(__name__)

EXPORT_COLUMNS = ["案号", "立案日期", "被执行人", "证件号码(脱敏)", "执行标的", "风险概率", "风险等级", "主要风险因素"]


SHEET_NAME = "风险评估"

_NUMBER_FORMATS = {"执行标的": "#,##0.00", "风险概率": "0.0%"}


def clerk_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Tonight's cases with the Chinese headers, riskiest first, every text cell formula-safe."""
    rows = checked(rows, [c for c in INPUT_COLUMNS if c != "court_code"])   # one court's rows, split by by_court
    probability = _probabilities(rows)
    table = pd.DataFrame({
        "案号": [_text(v) for v in rows["case_no"]],
        "立案日期": [_date_text(v) for v in rows["filed_on"]],
        "被执行人": [_joined(v, "、") for v in rows["respondent_names"]],
        "证件号码(脱敏)": [_joined(v, "、") for v in rows["masked_ids"]],
        "执行标的": [_amount(v) for v in rows["claim_amount"]],
        "风险概率": probability.to_numpy(dtype=float),
        "风险等级": [_text(v) for v in rows["band"]],
        "主要风险因素": [_joined(v, "；") for v in rows["reasons"]],
    }, columns=EXPORT_COLUMNS)
    order = pd.DataFrame({
        "p": table["风险概率"],
        "date": table["立案日期"].where(table["立案日期"] != "", None),
        "case_no": table["案号"],
    })
    # Lexsort over several keys is stable, so full ties keep the input order.
    ranked = order.sort_values(["p", "date", "case_no"], ascending=[False, True, True], na_position="last").index
    table = table.loc[ranked].reset_index(drop=True)
    for column in EXPORT_COLUMNS:
        if column not in _NUMBER_FORMATS:
            table[column] = table[column].map(neutralised)
    return table


def _probabilities(rows: pd.DataFrame) -> pd.Series:
    probability = pd.to_numeric(rows["probability"], errors="raise").astype(float)
    outside = probability.notna() & ~probability.between(0.0, 1.0)
    if outside.any():
        raise ValueError(f"probability outside [0, 1] for cases {list(rows.loc[outside, 'case_no'])[:5]}")
    return probability


CLERK_SHEET = Sheet(SHEET_NAME, tuple(EXPORT_COLUMNS), _NUMBER_FORMATS)


def write_court_exports(rows: pd.DataFrame, folder: Path, courts: Iterable[str]) -> dict[str, dict[str, Path]]:
    """Write `<stem>.csv` and `<stem>.xlsx` per court and remove the night's other exports.

    Courts are `courts` together with those in `rows`; a court without cases tonight gets
    header-only files. Returns {court code: {"csv": path, "xlsx": path}}.
    """
    if isinstance(courts, (str, bytes)):
        raise TypeError("courts must be an iterable of court codes, not a single string")
    rows = checked(rows)
    court_codes_of(rows)
    tables = {court: clerk_table(court_rows) for court, court_rows in by_court(rows, list(courts)).items()}
    return write_court_files(tables, folder, CLERK_SHEET)


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


def export_rows(spark: SparkSession, settings: Settings, run_date: dt.date) -> tuple[pd.DataFrame, int]:
    """Tonight's scored cases filed within `export.max_age_days` (one row per case), and how many older
    back-log cases tonight scored but the files leave out."""
    tonight = storage.read_delta(spark, settings.table(catalog.CASE_SCORES)) \
        .where(F.col("run_date") == F.lit(run_date))
    is_recent = F.col("filed_on") >= F.lit(run_date - dt.timedelta(days=settings.export.max_age_days))
    recent = tonight.where(is_recent)
    backlog = tonight.agg(F.count(F.when(~is_recent, 1))).first()[0]
    claims = storage.read_delta(spark, settings.table(catalog.SILVER["court_cases"])).select("case_no", "claim_amount")
    parties = storage.read_delta(spark, settings.table(catalog.BRONZE["court_parties"]))
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
    drift_uri = settings.table(catalog.DRIFT)
    if drift is None and storage.delta_exists(spark, drift_uri):
        drift = storage.read_delta(spark, drift_uri).where(F.col("run_date") == F.lit(run_date)).toPandas()
    files = write_court_exports(rows, folder, courts)
    notes = list(notes or [])
    if backlog:
        notes.append(f"另有 {backlog} 件立案早于 {settings.export.max_age_days} 天的积压案件今晚已评分，未列入书记员文件。")
    summary = write_text_atomic(folder / "summary.md", nightly_summary(run_date, rows, drift, notes))
    report = ExportReport(folder, len(rows), len(files), backlog, files, summary, time.monotonic() - started)
    log.info("%s", report.to_text())
    return report
