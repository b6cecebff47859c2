"""Data-quality gates: tiny bronze-shaped tables that must pass, and ones that must fail.

Each gate run costs a few seconds of Spark jobs, so the good and the bad run
are module-scoped and shared by the assertions about them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import types as T

from pipelines.core.contract import dataset
from pipelines.quality import (
    Custom, Freshness, GateFailed, Integrity, NotNull, TableSuite, Unique, run_gate,
)
from pipelines.bronze.suites import bronze_suites
from pipelines.flows.gates import GATES

ROOT = Path(__file__).resolve().parents[1]
RUN_DATE = dt.date(2025, 6, 4)
D1, D2, D3 = dt.date(2025, 6, 1), dt.date(2025, 6, 2), dt.date(2025, 6, 3)
INGESTED = dt.datetime(2025, 6, 3, 23, 0)
LINEAGE = [
    T.StructField("batch_dt", T.DateType()), T.StructField("source_file", T.StringType()),
    T.StructField("source_row", T.LongType()), T.StructField("ingested_at", T.TimestampType()),
    T.StructField("row_hash", T.LongType()),
]
EXTRA = T.StructField("extra_columns", T.MapType(T.StringType(), T.StringType()))
# Tiny tables: compare every batch with its predecessor, whatever its size.
SUITES = bronze_suites(row_count_factor=2.0, row_count_min_rows=1)


def bronze_frame(spark, name: str, rows: list[tuple]):
    """A bronze table of contract dataset `name`: rows are (batch_dt, *contract columns)."""
    schema = T.StructType([*LINEAGE, *dataset(name).spark_schema().fields, EXTRA])
    full = [(row[0], f"dt={row[0]}/part-0001.csv", i + 1, INGESTED, i, *row[1:], None)
            for i, row in enumerate(rows)]
    return spark.createDataFrame(full, schema)


def accounts(spark, bad: bool = False):
    kind = "crypto" if bad else "current"            # unknown enum when bad
    return bronze_frame(spark, "finance/accounts", [
        (D1, "A1", "110101199001011234", "ICBC", "savings", D1, None),   # closed_on null: optional
        (D1, "A2", "110101199001011234", "ICBC", kind, D1, None),
        (D2, "A3", "110101199001011234", "BOC", "wealth_management", D2, D3),
    ])


def balances(spark, bad: bool = False):
    money = Decimal
    if not bad:
        return bronze_frame(spark, "finance/balances", [
            (D1, "A1", D1, money("10.00")), (D1, "A2", D1, money("0.00")),      # back-fill
            (D2, "A1", D2, money("12.50")), (D2, "A2", D2, money("3.00")),
            (D3, "A1", D3, money("11.00")), (D3, "A3", D3, money("7.25")),
        ])
    old1, old2, old3 = D1 - dt.timedelta(days=10), D1 - dt.timedelta(days=9), D1 - dt.timedelta(days=8)
    return bronze_frame(spark, "finance/balances", [
        (old1, "A1", old1, money("1.00")),                                         # back-fill
        (old2, "A1", old2, money("1.00")),
        (old3, None, old3, money("1.00")),                                         # null key
        (old3, "A1", old3, money("1.00")), (old3, "A1", old3, money("2.00")),      # duplicate key
        (old3, "A9", old3, money("-1.00")),                                        # negative, unknown account
    ])                                   # latest batch 10 days old: stale; 4 rows after 1: a jump


def ingest_log(spark, loaded: list[tuple[str, dt.date]]):
    """The bronze ingest log, reduced to the columns freshness reads."""
    rows = [(name, batch_dt, "loaded") for name, batch_dt in loaded] + [("finance/balances", RUN_DATE, "rejected")]
    return spark.createDataFrame(rows, "dataset string, batch_dt date, status string")


@pytest.fixture(scope="module")
def gx_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("quality") / "gx"


@pytest.fixture(scope="module")
def good_report(spark, gx_dir):
    tables = {"finance_accounts": accounts(spark), "finance_balances": balances(spark),
              "ingest_log": ingest_log(spark, [("finance/accounts", D2), ("finance/balances", D3)])}
    return run_gate(spark, "bronze", tables, RUN_DATE, gx_dir, suites=SUITES)


@pytest.fixture(scope="module")
def bad_report(spark, gx_dir):
    tables = {"finance_accounts": accounts(spark, bad=True), "finance_balances": balances(spark, bad=True)}
    return run_gate(spark, "bronze", tables, RUN_DATE, gx_dir, suites=SUITES)


def test_good_data_passes(good_report):
    assert good_report.success, good_report.to_text()
    assert good_report.failures == []
    assert [t.table for t in good_report.tables] == ["finance_accounts", "finance_balances"]
    assert good_report.tables[1].rows == 6
    assert any("court_cases: table not available" in note for note in good_report.skipped)


def test_good_data_checked_row_count_and_integrity(good_report):
    # Nothing about the balances suite was skipped: 3 batches, references and ingest log present.
    assert not [note for note in good_report.skipped if note.startswith("finance_balances")]
    # columns 1 + types 7 + not-null 4 + unique 1 + balance >= 0 1 + freshness 1 + row count 1 + integrity 1
    assert good_report.tables[1].expectations == 17


@pytest.mark.parametrize("table, expectation, column", [
    ("finance_balances", "expect_column_values_to_not_be_null", "account_id"),
    ("finance_balances", "expect_compound_columns_to_be_unique", "account_id"),
    ("finance_balances", "expect_column_values_to_be_between", "balance"),
    ("finance_accounts", "expect_column_values_to_be_in_set", "account_type"),
    ("finance_balances", "expect_column_values_to_be_in_set", "has_account_id_in_finance_accounts"),
    ("finance_balances", "expect_column_max_to_be_between", "batch_dt"),
    ("finance_balances", "expect_table_row_count_to_be_between", None),
])
def test_bad_data_fails_naming_the_expectation(bad_report, table, expectation, column):
    failed = bad_report.failed(table=table, expectation=expectation, column=column)
    assert failed, bad_report.to_text()
    assert all(f.severity == "critical" for f in failed)
    assert not bad_report.success


def test_bad_data_counts_and_observed_values(bad_report):
    (null_key,) = bad_report.failed("finance_balances", "expect_column_values_to_not_be_null", "account_id")
    assert null_key.unexpected_count == 1
    (dupes,) = bad_report.failed("finance_balances", "expect_compound_columns_to_be_unique")
    assert dupes.columns == ("batch_dt", "account_id", "as_of") and dupes.unexpected_count == 2
    (integrity,) = bad_report.failed(column="has_account_id_in_finance_accounts")
    assert integrity.unexpected_count == 1 and "finance_accounts" in integrity.detail   # A9; the null is ignored
    (stale,) = bad_report.failed(expectation="expect_column_max_to_be_between")
    assert stale.observed_value == dt.date(2025, 5, 24)
    (jump,) = bad_report.failed(expectation="expect_table_row_count_to_be_between")
    assert jump.observed_value == 4 and "2025-05-24" in jump.detail
    # Good rows stay good: accounts' keys and the balances' schema pass.
    assert not bad_report.failed(expectation="expect_table_columns_to_match_set")


def test_gate_failed_names_the_critical_expectations(bad_report):
    with pytest.raises(GateFailed) as caught:
        bad_report.raise_if_failed()
    message = str(caught.value)
    assert caught.value.report is bad_report
    assert "finance_balances expect_column_values_to_not_be_null(account_id)" in message
    assert "finance_accounts expect_column_values_to_be_in_set(account_type)" in message
    text = bad_report.to_text()
    assert "FAILED" in text and "CRITICAL" in text and "Data Docs: file://" in text


def test_warnings_do_not_fail_the_gate(spark, tmp_path):
    import great_expectations.expectations as gxe

    suite = TableSuite("finance_accounts", [
        Unique("account_id"),
        NotNull("closed_on", severity="warning"),                                     # 2 of 3 null
        Custom(gxe.ExpectTableRowCountToBeBetween(min_value=10), severity="warning"),
    ])
    cached = accounts(spark).cache()
    report = run_gate(spark, "bronze", {"finance_accounts": cached}, RUN_DATE, tmp_path / "gx", suites=[suite])
    assert report.success
    report.raise_if_failed()
    assert {(f.expectation, f.severity) for f in report.failures} == {
        ("expect_column_values_to_not_be_null", "warning"), ("expect_table_row_count_to_be_between", "warning")}
    assert report.critical_failures == [] and "PASSED (0 critical, 2 warning)" in report.to_text()
    assert cached.storageLevel.useMemory            # the caller's cache is left alone
    cached.unpersist()


def test_a_source_whose_latest_batch_was_empty_is_fresh(spark, tmp_path):
    # The table's latest rows are from D2; the log knows the source delivered an empty batch since.
    fresh = Freshness("batch_dt", max_age_days=0, log_table="ingest_log", log_where="dataset = 'finance/accounts'")
    tables = {"finance_accounts": accounts(spark), "ingest_log": ingest_log(spark, [("finance/accounts", RUN_DATE)])}
    report = run_gate(spark, "bronze", tables, RUN_DATE, tmp_path / "gx",
                      suites=[TableSuite("finance_accounts", [fresh])])
    assert report.success, report.to_text()
    stale = run_gate(spark, "bronze", {"finance_accounts": accounts(spark)}, RUN_DATE, tmp_path / "gx",
                     suites=[TableSuite("finance_accounts", [fresh])])
    (failure,) = stale.failures
    assert failure.observed_value == D2 and "finance_accounts: freshness: ingest_log not available" in stale.skipped[0]


def test_context_keeps_results_and_builds_data_docs(good_report, bad_report, gx_dir):
    assert (gx_dir / "great_expectations.yml").is_file()
    assert (gx_dir / "uncommitted" / "data_docs" / "local_site" / "index.html").is_file()
    results = list((gx_dir / "uncommitted" / "validations").rglob("*.json"))
    assert len(results) >= 4                      # 2 tables x (good run + bad run)
    assert bad_report.docs_url.startswith("file://") and bad_report.docs_url.endswith("index.html")


def test_bronze_suites_come_from_the_contract():
    suites = {s.table: s for s in bronze_suites()}
    assert len(suites) == 14 and suites == {s.table: s for s in GATES["bronze"].suites()}
    balances_suite = suites["finance_balances"]
    kinds = {type(c).__name__: c for c in balances_suite.checks}
    assert set(kinds["NotNull"].columns) >= {"account_id", "as_of", "balance", "batch_dt"}
    assert kinds["Unique"].columns == ("batch_dt", "account_id", "as_of")
    assert (kinds["Between"].column, kinds["Between"].min, kinds["Between"].strict_min) == ("balance", 0, False)
    assert kinds["Columns"].types["balance"] == "DecimalType"
    assert kinds["Integrity"].ref_table == "finance_accounts"
    assert balances_suite.tables_needed == ("finance_balances", "finance_accounts", "ingest_log")
    loans = suites["finance_loans"]
    assert any(type(c).__name__ == "Between" and c.column == "principal" and c.strict_min for c in loans.checks)
    enums = {c.column: c.values for c in suites["finance_transactions"].checks if type(c).__name__ == "InSet"}
    assert enums == {"direction": ("in", "out"), "channel": ("counter", "atm", "online", "mobile")}
    assert "direction" in next(c for c in suites["finance_transactions"].checks if isinstance(c, NotNull)).columns


def test_bad_settings_fail_where_declared():
    with pytest.raises(ValueError, match="severity"):
        NotNull("a", severity="fatal")
    with pytest.raises(ValueError, match="share"):
        Integrity("a", "b", at_least=95)


def test_job_over_a_delta_lake_exits_0_and_builds_docs(spark, tmp_path, monkeypatch, capsys):
    from jobs import check_quality
    from pipelines.flows.runtime import run

    monkeypatch.setattr(check_quality, "build_session", lambda *args, **kwargs: spark)
    lake = tmp_path / "lake"
    balances(spark).write.format("delta").save(str(lake / "bronze" / "finance_balances"))
    argv = ["--conf", str(ROOT / "conf" / "local.yaml"), "--landing", str(tmp_path), "--lake", str(lake),
            "--run-date", RUN_DATE.isoformat(), "--layer", "bronze"]
    assert run(check_quality.main, check_quality.parser(), argv) == 0
    out = capsys.readouterr().out
    assert "PASSED" in out and "finance_balances" in out and "finance_accounts: table not available" in out
    assert (lake / "_quality" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html").is_file()


def test_job_exits_4_on_a_critical_failure(spark, bad_report, tmp_path, monkeypatch, capsys):
    from jobs import check_quality
    from pipelines.flows.runtime import run

    monkeypatch.setattr(check_quality, "build_session", lambda *args, **kwargs: spark)
    monkeypatch.setattr(check_quality, "check_layer", lambda *args, **kwargs: bad_report)
    argv = ["--conf", str(ROOT / "conf" / "local.yaml"), "--lake", str(tmp_path / "lake"),
            "--quality-dir", str(tmp_path / "gx")]
    assert run(check_quality.main, check_quality.parser(), argv) == 4
    assert "finance_balances expect_column_values_to_not_be_null(account_id)" in capsys.readouterr().out


def test_job_needs_a_quality_dir_for_a_remote_lake(tmp_path):
    from pipelines.core.config import ConfigError, load_settings

    conf = ROOT / "conf" / "local.yaml"
    assert load_settings(conf, lake="file:///data/lake").quality_dir() == Path("/data/lake/_quality/gx")
    with pytest.raises(ConfigError, match="--quality-dir"):
        load_settings(conf, lake="s3a://bucket/lake").quality_dir()
    moved = tmp_path / "moved.yaml"
    moved.write_text(f"extends: {conf}\npaths:\n  quality: {tmp_path / 'gx'}\n", encoding="utf-8")
    assert load_settings(moved, lake="s3a://bucket/lake").quality_dir() == tmp_path / "gx"


def test_a_scoped_gate_checks_only_tonights_rows_but_sizes_them_against_the_table(spark, tmp_path):
    """Nightly bronze gates check the batches loaded tonight (`scopes`); the row-count check still
    compares tonight's batch with the previous one in the whole table."""
    logged = ingest_log(spark, [("finance/accounts", D2), ("finance/balances", D3)])
    tonight = {"finance_balances": f"batch_dt = DATE'{D3.isoformat()}'"}
    good = run_gate(spark, "bronze", {"finance_accounts": accounts(spark), "finance_balances": balances(spark),
                                      "ingest_log": logged}, RUN_DATE, tmp_path / "gx", suites=SUITES, scopes=tonight)
    assert good.success, good.to_text()
    assert good.tables[1].rows == 2 and good.tables[1].expectations == 17

    old2 = D1 - dt.timedelta(days=9)
    earlier = {"finance_balances": f"batch_dt = DATE'{old2.isoformat()}'"}    # the broken rows are in a later batch
    bad = run_gate(spark, "bronze", {"finance_accounts": accounts(spark), "finance_balances": balances(spark, bad=True)},
                   RUN_DATE, tmp_path / "gx", suites=SUITES, scopes=earlier)
    assert bad.tables[1].rows == 1
    for expectation in ("expect_column_values_to_not_be_null", "expect_compound_columns_to_be_unique",
                        "expect_column_values_to_be_between"):
        assert not bad.failed(table="finance_balances", expectation=expectation), bad.to_text()


def test_the_silver_gate_refuses_an_id_number_where_a_key_belongs(spark, gx_dir):
    """Every pseudonymised column must hold HMAC-SHA256 hex (pipelines.core.privacy.PSEUDONYM): an ID
    number that slipped past conform into `owner_key` fails the silver gate, naming the column and the row count."""
    from pipelines.core.privacy import person_key_of
    from pipelines.silver.suites import silver_suites

    good = person_key_of("110101199001011234", b"a-test-secret-of-16+")
    rows = [("A1", good, "ICBC", "savings", D1, None), ("A2", good, "ICBC", "current", D1, None),
            ("A3", "110101199001011234", "BOC", "savings", D2, None)]
    schema = "account_id string, owner_key string, bank_code string, account_type string, opened_on date, closed_on date"
    suites = [s for s in silver_suites() if s.table == "finance_accounts"]
    passed = run_gate(spark, "silver", {"finance_accounts": spark.createDataFrame(rows[:2], schema)}, RUN_DATE,
                      gx_dir, suites=suites)
    assert passed.success, passed.to_text()
    report = run_gate(spark, "silver", {"finance_accounts": spark.createDataFrame(rows, schema)}, RUN_DATE, gx_dir,
                      suites=suites)
    (leak,) = report.failed("finance_accounts", "expect_column_values_to_match_regex", "owner_key")
    assert leak.unexpected_count == 1 and leak.severity == "critical" and not report.success
