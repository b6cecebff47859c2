"""Landing -> bronze over a hand-written landing zone holding every fault of contract section 6.

The landing zone is written the way another agency might write it (not by our
generator): GBK, gzip, BOM, CRLF, quoted commas and newlines, re-ordered
columns, an extra column. One ingest run is shared by the assertions.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest
from deltalake import DeltaTable
from helpers.landing import csv_text, jsonl_text, write_batch

from pipelines.bronze import ingest
from pipelines.core import catalog

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def make_id(birth: str, seq: int, region: str = "320312") -> str:
    body = f"{region}{birth}{seq:03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS)) % 11]


MAN = make_id("19800101", 11)        # odd 17th digit: male
WOMAN = make_id("19850505", 22)      # even: female
PERSON_COLS = ["name", "id_number", "gender", "birth_date", "hukou_region", "education",
               "occupation", "phone", "updated_at"]   # re-ordered on purpose: the header decides


def person(id_number=MAN, name="张伟", gender="M", birth="1980-01-01", education="bachelor",
           phone="13912345678", updated="2025-06-01 08:00:00"):
    return [name, id_number, gender, birth, "320312", education, "worker", phone, updated]


PERSON_ROWS = [
    person(),                                                        # 1 valid
    person(id_number=MAN[:-1] + MAN[-1].lower() if MAN[-1] == "X" else MAN, updated="2025-06-02 08:00:00"),  # 2 valid
    person(name='"王,小\n明"', updated="2025-06-03 08:00:00"),       # 3 valid: quoted comma and newline
    person(gender="F", updated="2025-06-04 08:00:00"),               # 4 gender disagrees with ID
    person(birth="1980-01-02", updated="2025-06-05 08:00:00"),       # 5 birth date disagrees with ID
    person(id_number=MAN[:-1] + ("0" if MAN[-1] != "0" else "1")),   # 6 bad check character
    person(birth="0000-00-00", updated="2025-06-07 08:00:00"),       # 7 date does not parse
    person(education="phd", updated="2025-06-08 08:00:00"),          # 8 unknown enum
    person(updated="2025-07-03 08:00:00"),                           # 9 event time > dt + 1 day
    person(),                                                        # 10 exact duplicate of 1
    person(id_number=WOMAN, name="李娜", gender="F", birth="1985-05-05", updated="2025-06-10 08:00:00"),  # 11 key conflict
    person(id_number=WOMAN, name="李丽", gender="F", birth="1985-05-05", updated="2025-06-10 08:00:00"),  # 12 key conflict
    ["张伟", MAN, "M"],                                               # 13 wrong width
    person(name="", updated="2025-06-11 08:00:00"),                  # 14 required field empty
    person(phone="1291234567", updated="2025-06-12 08:00:00"),       # 15 phone breaks its pattern
    person(updated="2025-07-02 23:59:59"),                           # 16 valid: exactly dt + 1 day
]
EXPECTED_PERSON_REASONS = {
    4: "rule_violation", 5: "rule_violation", 6: "invalid_id", 7: "unparseable_value",
    8: "unknown_enum", 9: "event_time_future", 11: "key_conflict", 12: "key_conflict",
    13: "malformed_row", 14: "required_missing", 15: "invalid_format",
}

ACCOUNT_COLS = ["account_id", "owner_id", "bank_code", "account_type", "opened_on", "closed_on", "branch"]
TXN = {"txn_id": "t1", "account_id": "A1", "booked_at": "2025-06-30T09:30:00+08:00", "amount": 5000,
       "direction": "in", "channel": "mobile"}


@pytest.fixture(scope="module")
def zoo(spark, tmp_path_factory):
    """A landing zone with every fault, ingested once."""
    from pipelines.core.config import load_settings
    from helpers.paths import CONF

    root = tmp_path_factory.mktemp("zoo")
    land = root / "landing"
    write_batch(land, "population/persons", "2025-07-01",
                {"part-0001.csv": csv_text(PERSON_COLS, PERSON_ROWS, newline="\r\n")}, encoding="gbk")
    write_batch(land, "population/persons", "2025-07-02",
                {"part-0001.csv": csv_text(PERSON_COLS, [person(updated="2025-07-01 09:00:00")])},
                encoding="gbk", success=False)
    accounts = csv_text(ACCOUNT_COLS, [
        ["A1", MAN, "ICBC", "savings", "2020-01-01", "", "苏州分行"],
        ["A2", MAN, "CMB", "current", "2020-01-01", "2019-12-31", ""],     # closed before opened
    ], newline="\r\n")
    write_batch(land, "finance/accounts", "2025-07-01", {"part-0001.csv.gz": "\ufeff" + accounts})
    write_batch(land, "finance/balances", "2025-07-01",
                {"part-0001.csv": csv_text(["account_id", "as_of", "balance"], [["A1", "2025-06-30", "10.5"]])},
                rows={"part-0001.csv": 2})                                 # manifest disagrees
    balances_dir = write_batch(land, "finance/balances", "2025-07-02",
                               {"part-0001.csv": csv_text(["account_id", "as_of", "balance"], [])})
    manifest = json.loads((balances_dir / "_MANIFEST.json").read_text())
    manifest["files"]["part-0002.csv"] = {"rows": 3}                       # listed, never delivered
    (balances_dir / "_MANIFEST.json").write_text(json.dumps(manifest))
    write_batch(land, "finance/loans", "2025-07-01", {"part-0001.csv": csv_text(
        ["loan_id", "borrower_id", "lender_code", "principal", "issued_on", "maturity_on", "as_of",
         "outstanding", "overdue_days"], [])})                             # required column 'status' missing
    write_batch(land, "marriage/registrations", "2025-07-01", {"part-0001.csv": (
        "registration_id,kind,spouse_a_id,spouse_b_id,registered_on,office_region\n"
        f"R1,marriage,{MAN},{WOMAN},2020-05-20,320312\n").encode() + b"R2,\xff\xfe,x,y,z,w\n"})
    write_batch(land, "finance/transactions", "2025-07-01", {"part-0001.jsonl.gz": jsonl_text([
        TXN,
        {**TXN, "txn_id": "t2", "counterparty_id": None, "amount": "12000.50", "memo": "rent"},
        {**TXN, "txn_id": "t3", "amount": 4999.99},
        {**TXN, "txn_id": "t4", "booked_at": "2025-06-30 09:30:00"},       # no offset: not ISO 8601
        {**TXN, "txn_id": "t5", "channel": "pigeon"},
        '{"txn_id": "t6", "amount": ',                                     # truncated JSON
        {**TXN, "txn_id": "t7", "counterparty_id": WOMAN.lower()},
    ])})
    cases_dir = write_batch(land, "court/cases", "2025-07-01", {"part-0001.csv": csv_text(
        ["case_no", "court_code", "filed_on", "cause", "claim_amount", "applicant_kind"],
        [["(2025)苏0312执1号", "苏0312", "2025-06-30", "labor", "1000", "person"]])})
    (cases_dir / "part-0002.csv").write_text("case_no\n")                 # delivered, not in the manifest
    write_batch(land, "court/parties", "2025-07-01", {"part-0001.csv": csv_text(
        ["case_no", "role", "party_kind", "id_number", "name"],
        [["(2025)苏0312执1号", "applicant", "company", "91320300MA1XXXXX0Y", "某某公司"],
         ["(2025)苏0312执1号", "respondent", "person", MAN, "张伟"],
         ["(2025)苏0312执1号", "respondent", "company", "91320300MA1XXXXX0Y", "某某公司"]])})

    settings = load_settings(CONF, landing=str(land), lake=str(root / "lake"))
    report = ingest(spark, settings)
    return {"root": root, "land": land, "settings": settings, "report": report}


def _result(report, dataset, batch_dt):
    return next(r for r in report.results if r.dataset == dataset and r.batch_dt.isoformat() == batch_dt)


def _table(spark, settings, name):
    return spark.read.format("delta").load(settings.table(catalog.lookup("bronze", name)))


@pytest.mark.parametrize("dataset, batch_dt, status, reason", [
    ("population/persons", "2025-07-01", "loaded", None),
    ("population/persons", "2025-07-02", "waiting", None),
    ("finance/accounts", "2025-07-01", "loaded", None),
    ("finance/balances", "2025-07-01", "rejected", "row_count_mismatch"),
    ("finance/balances", "2025-07-02", "rejected", "file_missing"),
    ("finance/loans", "2025-07-01", "rejected", "column_missing"),
    ("marriage/registrations", "2025-07-01", "rejected", "undecodable"),
    ("finance/transactions", "2025-07-01", "loaded", None),
    ("court/cases", "2025-07-01", "rejected", "file_unexpected"),
    ("court/parties", "2025-07-01", "loaded", None),
])
def test_batch_outcomes(zoo, dataset, batch_dt, status, reason):
    result = _result(zoo["report"], dataset, batch_dt)
    assert (result.status, result.reason_code) == (status, reason)


def test_rejections_name_the_file(zoo):
    report = zoo["report"]
    assert "part-0001.csv: manifest says 2 rows, file has 1" in _result(report, "finance/balances", "2025-07-01").reason_detail
    assert "row 2" in _result(report, "marriage/registrations", "2025-07-01").reason_detail
    assert "'status'" in _result(report, "finance/loans", "2025-07-01").reason_detail
    assert "part-0002.csv" in _result(report, "court/cases", "2025-07-01").reason_detail


def test_every_row_is_accounted_for(zoo, spark):
    for result in zoo["report"].results:
        if result.status != "loaded":
            continue
        table = result.dataset.replace("/", "_")
        where = f"batch_dt = DATE'{result.batch_dt}'"
        loaded = _table(spark, zoo["settings"], table).where(where).count()
        quarantined = _table(spark, zoo["settings"], f"{table}_quarantine").where(where).count()
        assert result.rows_in_files == result.rows_manifest
        assert (loaded, quarantined) == (result.rows_loaded, result.rows_quarantined)
        assert result.rows_in_files == loaded + quarantined + result.rows_duplicate


def test_person_rows_go_where_the_contract_says(zoo, spark):
    quarantine = _table(spark, zoo["settings"], "population_persons_quarantine")
    reasons = {r.source_row: r.reason_code for r in quarantine.collect()}
    assert reasons == EXPECTED_PERSON_REASONS
    result = _result(zoo["report"], "population/persons", "2025-07-01")
    assert (result.rows_loaded, result.rows_duplicate) == (4, 1)
    loaded = _table(spark, zoo["settings"], "population_persons").orderBy("source_row").collect()
    assert [r.source_row for r in loaded] == [1, 2, 3, 16]
    assert {r.id_number for r in loaded} == {MAN}                          # lower-case x normalised
    assert loaded[2]["name"] == "王,小\n明"                                 # quoted comma and newline survive
    assert str(loaded[0].birth_date) == "1980-01-01" and loaded[0].gender == "M"


def test_quarantine_keeps_the_raw_text_and_names_the_rule(zoo, spark):
    row = (_table(spark, zoo["settings"], "population_persons_quarantine")
           .where("source_row = 8").collect()[0])
    assert "phd" in row.raw_text and row.raw_fields["education"] == "phd"
    assert row.reason_detail == "unknown_enum:education"
    assert row.source_file.endswith("population/persons/dt=2025-07-01/part-0001.csv")


def test_extra_columns_are_kept_and_reported(zoo, spark):
    accounts = _table(spark, zoo["settings"], "finance_accounts").collect()
    assert [(r.account_id, r.extra_columns) for r in accounts] == [("A1", {"branch": "苏州分行"})]
    assert _result(zoo["report"], "finance/accounts", "2025-07-01").extra_columns == ["branch"]
    txns = {r.txn_id: r for r in _table(spark, zoo["settings"], "finance_transactions").collect()}
    assert txns["t2"].extra_columns == {"memo": "rent"}
    assert _result(zoo["report"], "finance/transactions", "2025-07-01").extra_columns == ["memo"]


def test_jsonl_rows(zoo, spark):
    txns = {r.txn_id: r for r in _table(spark, zoo["settings"], "finance_transactions").collect()}
    assert set(txns) == {"t1", "t2", "t7"}
    assert txns["t2"].counterparty_id is None and float(txns["t2"].amount) == 12000.50
    assert txns["t7"].counterparty_id == WOMAN.upper()
    quarantine = {r.source_row: r.reason_code for r in
                  _table(spark, zoo["settings"], "finance_transactions_quarantine").collect()}
    assert quarantine == {3: "rule_violation", 4: "unparseable_value", 5: "unknown_enum", 6: "malformed_row"}


def test_parties_respondents_are_persons(zoo, spark):
    quarantine = _table(spark, zoo["settings"], "court_parties_quarantine").collect()
    assert [(r.source_row, r.reason_detail) for r in quarantine] == [(3, "rule_violation:respondent_is_person")]


def test_bronze_is_readable_by_a_second_engine(zoo):
    settings = zoo["settings"]
    for name, expected in [("population_persons", 4), ("finance_transactions", 3)]:
        table = DeltaTable(settings.table(catalog.lookup("bronze", name)))
        assert table.to_pyarrow_table().num_rows == expected
    log = DeltaTable(settings.table(catalog.INGEST_LOG)).to_pyarrow_table().to_pylist()
    assert {(r["dataset"], r["status"]) for r in log} >= {("finance/balances", "rejected"),
                                                           ("population/persons", "loaded")}


def test_rerun_finds_nothing_new_then_picks_up_arrivals_and_redeliveries(zoo, spark):
    settings, land = zoo["settings"], zoo["land"]
    again = ingest(spark, settings)
    assert [r.status for r in again.results] == ["waiting"]

    # The waiting batch completes; persons dt=2025-07-01 is re-delivered, corrected.
    (land / "population/persons/dt=2025-07-02/_SUCCESS").write_bytes(b"")
    shutil.rmtree(land / "population/persons/dt=2025-07-01")
    write_batch(land, "population/persons", "2025-07-01",
                {"part-0001.csv": csv_text(PERSON_COLS, [person(), person(updated="2025-06-20 08:00:00")])},
                encoding="gbk")
    third = ingest(spark, settings)
    assert {(r.batch_dt.isoformat(), r.status) for r in third.results} == {
        ("2025-07-01", "loaded"), ("2025-07-02", "loaded")}
    persons = _table(spark, settings, "population_persons")
    assert persons.where("batch_dt = DATE'2025-07-01'").count() == 2       # replaced, not appended
    assert persons.where("batch_dt = DATE'2025-07-02'").count() == 1
    assert _table(spark, settings, "population_persons_quarantine").where(
        "batch_dt = DATE'2025-07-01'").count() == 0                        # old quarantine replaced too


def test_job_exits_non_zero_when_a_batch_is_rejected(tmp_path, spark):
    from jobs import ingest as ingest_job
    from helpers.paths import CONF

    land = tmp_path / "landing"
    write_batch(land, "court/cases", "2025-07-01", {"part-0001.csv": csv_text(
        ["case_no", "court_code", "filed_on", "cause", "claim_amount", "applicant_kind"], [])},
        rows={"part-0001.csv": 1})
    args = ingest_job.parser().parse_args(
        ["--conf", str(CONF), "--landing", str(land), "--lake", str(tmp_path / "lake")])
    assert ingest_job.main(args) == 3


def test_classify_only_windows_rows_that_share_a_key(spark):
    """Copies and key conflicts are found among rows sharing batch and key, null keys included."""
    import datetime as dt

    from pipelines.bronze.ingest import classify
    from pipelines.core.contract import load_contract

    day = dt.date(2025, 7, 1)
    rows = [  # account_id, as_of, row_hash, reasons, seq
        ("A1", day, 1, [], 0), ("A1", day, 1, [], 1),                       # exact copy: one loads
        ("A2", day, 2, [], 2), ("A2", day, 3, [], 3),                       # same key, other content
        ("A3", day, 4, [], 4),                                              # alone, valid
        ("A4", day, 5, ["invalid_format:x"], 5),                            # alone, broken
        (None, day, 6, ["required_missing:account_id"], 6),                 # null key, twice
        (None, day, 6, ["required_missing:account_id"], 7),
    ]
    frame = spark.createDataFrame(
        [(day, "f.csv", 0, seq, a, d, h, r) for a, d, h, r, seq in rows],
        "batch_dt date, _file string, _block long, _seq long, account_id string, as_of date, row_hash long, "
        "_reasons array<string>")
    out = {(r.account_id, r._seq): (r._outcome, tuple(r._reasons))
           for r in classify(frame, load_contract()["finance/balances"]).collect()}
    assert len(out) == len(rows)
    assert out[("A1", 0)][0] == "loaded" and out[("A1", 1)][0] == "duplicate"
    assert {out[("A2", 2)], out[("A2", 3)]} == {("quarantined", ("key_conflict:account_id,as_of",))}
    assert out[("A3", 4)][0] == "loaded" and out[("A4", 5)][0] == "quarantined"
    assert sorted(out[(None, s)][0] for s in (6, 7)) == ["duplicate", "quarantined"]


def test_nightly_gate_scopes_are_tonights_batches_with_rows_or_else_the_latest(spark, tmp_path):
    import datetime as dt

    from pipelines.core import storage
    from pipelines.bronze.ingest import INGEST_LOG_SCHEMA, BatchResult, IngestReport, gate_scopes
    from pipelines.core.config import load_settings
    from helpers.paths import CONF

    settings = load_settings(CONF, lake=str(tmp_path / "lake"))
    d1, d2, d3 = dt.date(2025, 7, 1), dt.date(2025, 7, 2), dt.date(2025, 7, 3)
    now = dt.datetime(2025, 7, 3, 23, 0)

    def logged(dataset, batch_dt, rows, status="loaded"):
        return ("run", dataset, batch_dt, "fp", status, None, None, [], rows, rows, rows, 0, 0, [], [], now, now)

    storage.append(spark.createDataFrame([
        logged("finance/balances", d1, 10), logged("finance/balances", d2, 0),     # d2 delivered empty
        logged("finance/accounts", d1, 5), logged("finance/accounts", d2, 7),
        logged("finance/loans", d3, 0, "rejected"),
    ], INGEST_LOG_SCHEMA), settings.table(catalog.INGEST_LOG))
    tonight = IngestReport("run", [BatchResult("finance/accounts", d2, "loaded", rows_loaded=7),
                                   BatchResult("finance/balances", d2, "loaded", rows_loaded=0),
                                   BatchResult("finance/loans", d3, "rejected")])
    scopes = gate_scopes(spark, settings, tonight)
    assert scopes["finance_accounts"] == "batch_dt IN (DATE'2025-07-02')"
    assert scopes["finance_balances"] == "batch_dt IN (DATE'2025-07-01')"      # the latest with rows
    assert "finance_loans" not in scopes and "court_cases" not in scopes        # nothing loaded: the whole (empty) table


def test_large_json_amounts_load_exactly(tmp_path, spark):
    """Spark reads a JSON number through a double ("1.757509816E7"); the amount as written must load."""
    from decimal import Decimal

    from pipelines.core.config import load_settings
    from helpers.paths import CONF

    land = tmp_path / "landing"
    amounts = [17575098.16, 12000.50, "12000.50", 5000]
    widest = json.dumps({**TXN, "txn_id": "t4", "amount": 0}).replace('"amount": 0', '"amount": 9999999999999999.99')
    write_batch(land, "finance/transactions", "2025-07-01", {"part-0001.jsonl": jsonl_text([
        *({**TXN, "txn_id": f"t{i}", "amount": amount} for i, amount in enumerate(amounts)), widest])})
    settings = load_settings(CONF, landing=str(land), lake=str(tmp_path / "lake"))
    report = ingest(spark, settings)
    assert [(r.rows_loaded, r.rows_quarantined) for r in report.results] == [(5, 0)]
    loaded = {r.txn_id: r.amount for r in _table(spark, settings, "finance_transactions").collect()}
    assert loaded == {"t0": Decimal("17575098.16"), "t1": Decimal("12000.50"), "t2": Decimal("12000.50"),
                      "t3": Decimal("5000.00"), "t4": Decimal("9999999999999999.99")}


def test_later_batches_wait_for_their_night(tmp_path, spark):
    """A run for T takes the complete batches dated T and before; one dated after T stays in the
    landing zone, unlisted in the log, until the run of its own date takes it."""
    from helpers.paths import CONF

    from pipelines.core.config import load_settings

    land = tmp_path / "landing"
    for day, hour in (("2025-07-01", "08"), ("2025-07-02", "09"), ("2025-07-03", "10")):
        write_batch(land, "population/persons", day, {"part-0001.csv": csv_text(
            PERSON_COLS, [person(updated=f"{day} {hour}:00:00")])})
    settings = load_settings(CONF, landing=str(land), lake=str(tmp_path / "lake"), run_date=dt.date(2025, 7, 2))

    first = ingest(spark, settings)
    assert sorted((r.batch_dt.isoformat(), r.status) for r in first.results) == [
        ("2025-07-01", "loaded"), ("2025-07-02", "loaded")]
    log = DeltaTable(settings.table(catalog.INGEST_LOG)).to_pandas()
    assert sorted(log["batch_dt"].astype(str)) == ["2025-07-01", "2025-07-02"]

    same_night = ingest(spark, settings)                            # a re-run of the night: nothing new
    assert [r.status for r in same_night.results if r.status == "loaded"] == []
    later = ingest(spark, settings.model_copy(update={"run_date": dt.date(2025, 7, 3)}))
    assert [(r.batch_dt.isoformat(), r.status) for r in later.results if r.status == "loaded"] == [
        ("2025-07-03", "loaded")]
    assert DeltaTable(settings.table(catalog.BRONZE["population_persons"])).to_pandas()["batch_dt"].nunique() == 3
