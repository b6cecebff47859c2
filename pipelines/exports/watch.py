"""The asset watch's files: one 终本案件财产线索 CSV and XLSX per court, from `gold/asset_watch`.

Written under `<exports>/<T>/终本案件财产线索/`. A court without leads gets
header-only files, so a clerk can tell "nothing this month" from "not run".
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from features.watch import lookup
from pipelines.core import catalog, storage
from pipelines.core.config import Settings
from pipelines.exports.courts import by_court, court_codes, night_folder
from pipelines.exports.identities import respondent_identities
from pipelines.exports.sheet import Sheet, write_court_files
from pipelines.exports.sources import SOURCE_ZH

__all__ = ["WATCH_SHEET", "WATCH_FOLDER", "watch_rows", "export_watch"]

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


def watch_rows(spark: SparkSession, settings: Settings, run_date: dt.date) -> pd.DataFrame:
    """T's watch as the clerks' table, one row per case, court code kept for splitting."""
    watch = storage.read_delta(spark, settings.table(catalog.ASSET_WATCH)).where(F.col("run_date") == F.lit(run_date))
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
