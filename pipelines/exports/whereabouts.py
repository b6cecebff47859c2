"""Whereabouts for service (送达地址线索): where a respondent lives and how to reach them.

Finding people and serving documents stalls enforcement (找人难、送达难). For the
respondents of tonight's newly filed cases and of the asset watch's cases, this
collects contact leads as of the run date T, each with its source and date:

- phones, most recent first: from the person's registry versions (confidence 1:
  the registry knows the ID) and from the orders and social accounts entity
  resolution linked to them (with the link's match confidence);
- the likely residence region: the most frequent shipping region of linked
  orders over `whereabouts.region_days`, and the household region of the last
  registry version;
- the last activity seen in any source.

Nothing dated after T is used. Phones are personal data that silver does not
hold: silver rows lead back to their bronze rows through their lineage, and the
phone is read there, as the clerk export reads names. Contract section 5 allows
this one export besides the clerks' files: it is a separate file, written only
when `whereabouts.enabled` is on, one per court holding that court's cases.
When it is off, the night's whereabouts folder is removed.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from features.whereabouts import contact_leads
from pipelines.core import catalog, storage
from pipelines.core.config import Settings
from pipelines.exports.courts import by_court, court_codes, night_folder
from pipelines.exports.identities import respondent_identities
from pipelines.exports.sheet import Sheet, write_court_files
from pipelines.exports.sources import SOURCE_ZH

__all__ = ["WHEREABOUTS_FOLDER", "WHEREABOUTS_SHEET", "LEAD_TYPES", "WhereaboutsReport", "export_whereabouts"]

log = logging.getLogger(__name__)

WHEREABOUTS_FOLDER = "送达地址线索"
WHEREABOUTS_SHEET = Sheet(
    name=WHEREABOUTS_FOLDER,
    columns=("案号", "案件类型", "被执行人", "证件号码(脱敏)", "线索类型", "序号", "线索内容", "来源", "日期", "置信度"),
    number_formats={"序号": "0", "置信度": "0.00"},
    file_suffix=f"_{WHEREABOUTS_FOLDER}",
)
# lead type -> (order in a respondent's rows, how a clerk reads it)
LEAD_TYPES = {"phone": (0, "手机号码"), "ship_region": (1, "常用收货地区"), "hukou_region": (2, "户籍地区"),
              "last_activity": (3, "最近活动")}
CASE_KINDS = {"new": "新立案", "watch": "终本财产线索"}


@dataclass
class WhereaboutsReport:
    enabled: bool
    cases: int = 0
    respondents: int = 0
    leads: int = 0
    folder: Path | None = None
    files: dict[str, dict[str, Path]] = field(default_factory=dict)
    seconds: float = 0.0

    def to_text(self) -> str:
        if not self.enabled:
            return "whereabouts export is off (whereabouts.enabled): no file written"
        return (f"whereabouts: {self.leads} contact leads for {self.respondents} respondents of {self.cases} cases, "
                f"{len(self.files)} court files in {self.folder} ({self.seconds:.1f}s)")


# --- reading the lake -------------------------------------------------------------------------

_LINEAGE = ["source_batch_dt", "source_file", "source_row"]


def _raw(spark: SparkSession, settings: Settings, table: str, *columns: str) -> DataFrame:
    """Bronze columns of `table` keyed by the lineage silver rows carry."""
    return storage.read_delta(spark, settings.table(catalog.BRONZE[table])).select(
        F.col("batch_dt").alias("source_batch_dt"), "source_file", "source_row", *columns)


def _silver(spark: SparkSession, settings: Settings, table: str) -> DataFrame:
    return storage.read_delta(spark, settings.table(catalog.SILVER[table]))


def _sources(spark: SparkSession, settings: Settings, keys: DataFrame) -> dict[str, DataFrame]:
    mine = lambda df: df.join(keys, "person_key", "left_semi")  # noqa: E731
    persons = mine(_silver(spark, settings, "population_persons"))
    orders = mine(_silver(spark, settings, "ecommerce_orders").where(F.col("person_key").isNotNull()))
    social = mine(_silver(spark, settings, "social_accounts").where(F.col("person_key").isNotNull()))
    phones = persons.join(_raw(spark, settings, "population_persons", "phone"), _LINEAGE).select(
        "person_key", "phone", F.col("valid_from").alias("seen_at"), F.lit("population/persons").alias("source"),
        F.lit(1.0).alias("confidence")) \
        .unionByName(orders.join(_raw(spark, settings, "ecommerce_orders", "buyer_phone"), _LINEAGE).select(
            "person_key", F.col("buyer_phone").alias("phone"), F.col("ordered_at").alias("seen_at"),
            F.lit("ecommerce/orders").alias("source"), F.col("match_confidence").alias("confidence"))) \
        .unionByName(social.join(_raw(spark, settings, "social_accounts", "phone"), _LINEAGE).select(
            "person_key", "phone", F.col("registered_at").alias("seen_at"), F.lit("social/accounts").alias("source"),
            F.col("match_confidence").alias("confidence")))
    accounts = _silver(spark, settings, "finance_accounts").select("account_id", F.col("owner_key").alias("person_key"))
    txns = _silver(spark, settings, "finance_transactions").join(mine(accounts), "account_id")
    assets = mine(_silver(spark, settings, "finance_assets").withColumnRenamed("owner_key", "person_key"))
    day = lambda c: F.date_format(F.col(c), "yyyy-MM-dd")  # noqa: E731
    activities = [
        orders.select("person_key", F.col("ordered_at").alias("seen_at"),
                      F.concat(day("ordered_at"), F.lit(" 在"), F.col("platform"), F.lit("下单"),
                               F.when(F.col("ship_region").isNotNull(), F.concat(F.lit("，寄往"), F.col("ship_region")))
                               .otherwise(F.lit(""))).alias("what"),
                      F.lit("ecommerce/orders").alias("source"), F.col("match_confidence").alias("confidence")),
        txns.select("person_key", F.col("booked_at").alias("seen_at"),
                    F.concat(day("booked_at"), F.lit(" 银行交易（"), F.when(F.col("direction") == "in", F.lit("转入"))
                             .otherwise(F.lit("转出")), F.lit("，"), F.col("channel"), F.lit("）")).alias("what"),
                    F.lit("finance/transactions").alias("source"), F.lit(1.0).alias("confidence")),
        social.select("person_key", F.col("registered_at").alias("seen_at"),
                      F.concat(day("registered_at"), F.lit(" 注册社交账号")).alias("what"),
                      F.lit("social/accounts").alias("source"), F.col("match_confidence").alias("confidence")),
        persons.select("person_key", F.col("valid_from").alias("seen_at"),
                       F.concat(day("valid_from"), F.lit(" 户籍信息更新")).alias("what"),
                       F.lit("population/persons").alias("source"), F.lit(1.0).alias("confidence")),
        assets.select("person_key", F.col("acquired_on").cast("timestamp").alias("seen_at"),
                      F.concat(day("acquired_on"), F.lit(" 登记取得财产")).alias("what"),
                      F.lit("finance/assets").alias("source"), F.lit(1.0).alias("confidence")),
    ]
    everything = activities[0]
    for part in activities[1:]:
        everything = everything.unionByName(part)
    return {"phones": phones, "orders": orders, "registry": persons, "activities": everything}


def _targets(spark: SparkSession, settings: Settings, run_date: dt.date) -> DataFrame:
    """(case_no, court_code, case_kind): tonight's cases in the clerks' files and tonight's watched cases."""
    parts = []
    scores_uri = settings.table(catalog.CASE_SCORES)
    if storage.delta_exists(spark, scores_uri):
        recent = F.col("filed_on") >= F.lit(run_date - dt.timedelta(days=settings.export.max_age_days))
        parts.append(storage.read_delta(spark, scores_uri).where((F.col("run_date") == F.lit(run_date)) & recent)
                     .select("case_no", "court_code", F.lit(CASE_KINDS["new"]).alias("case_kind")))
    watch_uri = settings.table(catalog.ASSET_WATCH)
    if storage.delta_exists(spark, watch_uri):
        parts.append(storage.read_delta(spark, watch_uri).where(F.col("run_date") == F.lit(run_date))
                     .select("case_no", "court_code", F.lit(CASE_KINDS["watch"]).alias("case_kind")))
    if not parts:
        return spark.createDataFrame([], "case_no string, court_code string, case_kind string")
    out = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])
    return out.groupBy("case_no", "court_code").agg(F.array_join(F.array_sort(F.collect_set("case_kind")), "、")
                                                    .alias("case_kind"))


def whereabouts_rows(spark: SparkSession, settings: Settings, run_date: dt.date) -> pd.DataFrame:
    """One row per lead per respondent per case, ordered for a clerk; `court_code` kept for splitting."""
    targets = _targets(spark, settings, run_date).localCheckpoint()
    people = respondent_identities(spark, settings, targets).localCheckpoint()
    keys = people.select("person_key").distinct()
    sources = _sources(spark, settings, keys)
    leads = contact_leads(keys, phones=sources["phones"], orders=sources["orders"], registry=sources["registry"],
                          activities=sources["activities"], run_date=run_date, limit=settings.whereabouts.phones,
                          region_days=settings.whereabouts.region_days)
    type_order = F.create_map(*(F.lit(x) for k, (i, _) in LEAD_TYPES.items() for x in (k, i)))
    type_zh = F.create_map(*(F.lit(x) for k, (_, zh) in LEAD_TYPES.items() for x in (k, zh)))
    source_zh = F.create_map(*(F.lit(x) for kv in SOURCE_ZH.items() for x in kv))
    rows = targets.join(people, "case_no").join(leads, "person_key").select(
        "court_code", F.col("case_no").alias("案号"), F.col("case_kind").alias("案件类型"), F.col("name").alias("被执行人"),
        F.col("masked_id").alias("证件号码(脱敏)"), type_zh[F.col("lead_type")].alias("线索类型"), F.col("rank").alias("序号"),
        F.col("content").alias("线索内容"),
        F.array_join(F.transform("sources", lambda s: F.coalesce(source_zh[s], s)), "、").alias("来源"),
        F.col("seen_on").cast("string").alias("日期"), F.col("confidence").alias("置信度"),
        "respondent_no", type_order[F.col("lead_type")].alias("_type"))
    frame = rows.toPandas()
    return frame.sort_values(["court_code", "案号", "respondent_no", "_type", "序号"]) \
        .drop(columns=["respondent_no", "_type"]).reset_index(drop=True)


def export_whereabouts(spark: SparkSession, settings: Settings, run_date: dt.date) -> WhereaboutsReport:
    """Each court's 送达地址线索 CSV and XLSX for T, or (switched off) no such folder at all."""
    started = time.monotonic()
    folder = night_folder(settings, run_date) / WHEREABOUTS_FOLDER
    if not settings.whereabouts.enabled:
        if folder.exists():
            shutil.rmtree(folder)
            log.info("whereabouts is off: removed %s", folder)
        return WhereaboutsReport(False)
    rows = whereabouts_rows(spark, settings, run_date)
    tables = by_court(rows, court_codes(spark, settings))
    files = write_court_files(tables, folder, WHEREABOUTS_SHEET)
    report = WhereaboutsReport(True, rows["案号"].nunique(), rows[["案号", "被执行人"]].drop_duplicates().shape[0],
                               len(rows), folder, files, time.monotonic() - started)
    log.info("%s", report.to_text())
    return report
