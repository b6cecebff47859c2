"""The Spark side of the clerk export: names and masked IDs from bronze parties, tonight's cases only,
and each court's file holding only its own cases."""

import csv
import datetime as dt

import pandas as pd
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual
from helpers.paths import CONF

from pipelines.exports.identities import display_masked_id, respondents_of
from pipelines.exports.risk import export_night
from pipelines.core.config import load_settings
from pipelines.exports.risk import EXPORT_COLUMNS
from pipelines.exports.sheet import safe_file_stem
from pipelines.core import catalog

D = dt.date
PARTY_SCHEMA = "batch_dt date, source_file string, source_row long, case_no string, role string, " \
               "party_kind string, id_number string, name string"


def _parties(spark, rows):
    return spark.createDataFrame(rows, PARTY_SCHEMA)


def test_masked_id_keeps_the_first_six_and_last_four(spark):
    got = spark.createDataFrame([("11010519491231002x",), (" 110105194912310021 ",)], "id string") \
        .select("id", display_masked_id(F.col("id")).alias("m"))
    assertDataFrameEqual(got, spark.createDataFrame([("11010519491231002x", "110105********002X"),
                                                     (" 110105194912310021 ", "110105********0021")],
                                                    "id string, m string"))


def test_respondents_in_delivery_order_latest_delivery_wins_applicants_left_out(spark):
    parties = _parties(spark, [
        (D(2026, 11, 1), "f1", 2, "C1", "respondent", "person", "11010519491231002X", "张三"),
        (D(2026, 11, 1), "f1", 1, "C1", "applicant", "company", "91320312855894636Y", "某公司"),
        (D(2026, 11, 1), "f1", 3, "C1", "respondent", "person", "110105194912310021", "李四"),
        (D(2026, 11, 2), "f9", 1, "C1", "respondent", "person", "11010519491231002x", "张叁"),  # corrected name
        (D(2026, 11, 1), "f1", 4, "C2", "respondent", "person", "110105194912310021", "李四"),
    ])
    cases = spark.createDataFrame([("C1",)], "case_no string")
    expected = spark.createDataFrame([(
        "C1",
        # 李四 (row 3 of the first batch) now comes before 张叁, whose latest delivery is the later batch.
        ["李四", "张叁"],
        ["110105********0021", "110105********002X"],
    )], "case_no string, respondent_names array<string>, masked_ids array<string>")
    assertDataFrameEqual(respondents_of(cases, parties), expected)


def test_a_night_exports_each_court_its_own_recent_cases(spark, tmp_path):
    settings = load_settings(CONF, landing=str(tmp_path / "landing"), lake=str(tmp_path / "lake"),
                             exports=str(tmp_path / "exports"))
    night = D(2026, 11, 6)
    scores = pd.DataFrame([
        ("(2026)苏0312执1号", "苏0312", D(2026, 11, 6), 0.81, "高", ["银行存款总额：0元"], night),
        ("(2026)苏0312执2号", "苏0312", D(2026, 11, 5), 0.20, "低", [], night),
        ("(2026)苏0381执1号", "苏0381", D(2026, 11, 6), 0.50, "中", ["=HYPERLINK(\"x\")"], night),
        ("(2020)苏0381执9号", "苏0381", D(2020, 1, 2), 0.90, "高", [], night),          # back-log: not exported
        ("(2026)苏0381执0号", "苏0381", D(2026, 11, 4), 0.95, "高", [], D(2026, 11, 5)),  # another night
    ], columns=["case_no", "court_code", "filed_on", "probability", "band", "reasons", "run_date"])
    spark.createDataFrame(scores, "case_no string, court_code string, filed_on date, probability double, "
                                  "band string, reasons array<string>, run_date date") \
        .write.format("delta").save(settings.table(catalog.CASE_SCORES))
    spark.createDataFrame([(c, code, 1000.0 * i) for i, (c, code) in enumerate(scores[["case_no", "court_code"]]
                                                                             .itertuples(index=False))]
                          + [("(2026)苏0322执1号", "苏0322", 5.0)],
                          "case_no string, court_code string, claim_amount double") \
        .write.format("delta").save(settings.table(catalog.SILVER["court_cases"]))
    _parties(spark, [(D(2026, 11, 6), "f", i, c, "respondent", "person", f"32031119650505{4690 + i}", f"人{i}")
                     for i, c in enumerate(scores["case_no"])]) \
        .write.format("delta").save(settings.table(catalog.BRONZE["court_parties"]))

    report = export_night(spark, settings, night)
    assert report.cases == 3 and report.backlog_not_exported == 1
    folder = tmp_path / "exports" / "2026-11-06"
    assert {p.name for p in folder.iterdir()} == {
        f"{safe_file_stem(c)}.{ext}" for c in ("苏0312", "苏0381", "苏0322") for ext in ("csv", "xlsx")} | {"summary.md"}

    def read(court):
        raw = (folder / f"{court}.csv").read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        return list(csv.reader(raw.decode("utf-8-sig").splitlines()))

    own = read("苏0312")
    assert own[0] == EXPORT_COLUMNS
    assert [r[0] for r in own[1:]] == ["(2026)苏0312执1号", "(2026)苏0312执2号"]     # riskiest first
    assert own[1][2] == "人0" and own[1][3] == "320311********4690" and own[1][5] == "81.0%"
    other = read("苏0381")
    assert [r[0] for r in other[1:]] == ["(2026)苏0381执1号"]
    assert other[1][7].startswith("'=")                                              # formula neutralised
    assert read("苏0322") == [EXPORT_COLUMNS]                                        # no cases tonight
    summary = (folder / "summary.md").read_text(encoding="utf-8")
    assert "2026-11-06" in summary and "积压" in summary
