"""Silver: SCD2 history, latest-delivery-wins, pseudonymisation, and
incremental conform equal to a full rebuild."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from helpers.landing import csv_text, jsonl_text, write_batch
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual
from test_ingest import PERSON_COLS, WOMAN, make_id, person
from helpers.paths import CONF

from pipelines.bronze import ingest
from pipelines.core.config import ConfigError, load_settings
from pipelines.core.privacy import DEV_SECRET, person_key_of, pseudonymiser, resolve_secret
from pipelines.silver.build import conform
from pipelines.silver.conform import conform_records, latest_delivery, scd2_versions
from pipelines.silver.spec import silver_table, silver_tables
from pipelines.core import catalog

SECRET = b"a-test-secret-of-enough-length"
P = make_id("19800101", 11)


def test_scd2_orders_versions_by_event_time_not_arrival(spark):
    schema = ("person_key string, updated_at timestamp, hukou_region string, _phone string, "
              "source_batch_dt date")
    rows = [  # the 2022 version arrived last (out of order)
        ("k1", dt.datetime(2024, 1, 1), "320312", "139", dt.date(2025, 7, 1)),
        ("k1", dt.datetime(2020, 1, 1), "320312", None, dt.date(2025, 7, 1)),
        ("k1", dt.datetime(2022, 1, 1), "320311", "139", dt.date(2025, 7, 3)),
        ("k2", dt.datetime(2021, 5, 5), "110105", None, dt.date(2025, 7, 1)),
    ]
    got = scd2_versions(spark.createDataFrame(rows, schema)).select(
        "person_key", "version_no", "valid_from", "valid_to", "is_current", "is_phone_change", "is_region_change")
    expected = spark.createDataFrame([
        ("k1", 1, dt.datetime(2020, 1, 1), dt.datetime(2022, 1, 1), False, False, False),
        ("k1", 2, dt.datetime(2022, 1, 1), dt.datetime(2024, 1, 1), False, True, True),
        ("k1", 3, dt.datetime(2024, 1, 1), None, True, False, True),
        ("k2", 1, dt.datetime(2021, 5, 5), None, True, False, False),
    ], got.schema)
    assertDataFrameEqual(got, expected)


def test_latest_delivery_wins(spark):
    rows = [("c1", 1, dt.date(2025, 7, 1), "f", 5), ("c1", 2, dt.date(2025, 7, 2), "f", 1),
            ("c2", 3, dt.date(2025, 7, 1), "f", 1), ("c2", 4, dt.date(2025, 7, 1), "f", 2)]
    df = spark.createDataFrame(rows, "case_no string, v int, source_batch_dt date, source_file string, source_row long")
    got = latest_delivery(df, ("case_no",)).select("case_no", "v")
    assertDataFrameEqual(got, spark.createDataFrame([("c1", 2), ("c2", 4)], "case_no string, v int"))


def test_conform_replaces_ids_by_keys_and_drops_personal_columns(spark):
    table = silver_table("population/persons")
    bronze = spark.createDataFrame(
        [(P, "张伟", "M", dt.date(1980, 1, 1), "320312", "bachelor", "worker", "13912345678",
          dt.datetime(2025, 1, 1), dt.date(2025, 7, 1), "f", 1, 7)],
        "id_number string, name string, gender string, birth_date date, hukou_region string, education string, "
        "occupation string, phone string, updated_at timestamp, batch_dt date, source_file string, "
        "source_row long, row_hash long")
    key = person_key_of(P, SECRET)
    assert len(key) == 64
    # The whole row, schema and all: no name and no id_number, the key in their place, and has_phone.
    expected = spark.createDataFrame(
        [(key, "M", dt.date(1980, 1, 1), "320312", "bachelor", "worker", dt.datetime(2025, 1, 1), True,
          "13912345678", dt.date(2025, 7, 1), "f", 1, 7)],
        "person_key string, gender string, birth_date date, hukou_region string, education string, "
        "occupation string, updated_at timestamp, has_phone boolean, _phone string, source_batch_dt date, "
        "source_file string, source_row long, source_row_hash long")
    assertDataFrameEqual(conform_records(bronze, table, pseudonymiser(SECRET)), expected)


def test_every_silver_table_drops_what_the_contract_forbids():
    for table in silver_tables().values():
        kept = [c for c in table.dataset.column_names if c not in table.dropped and c not in table.renames]
        assert not {"name", "phone", "buyer_name", "buyer_phone", "buyer_id_masked", "real_name",
                    "nickname", "id_number"} & set(kept), table.name


def test_same_secret_same_key_other_secret_other_key():
    assert person_key_of(P, SECRET) == person_key_of(P.lower(), SECRET)
    assert person_key_of(P, SECRET) != person_key_of(P, b"another-secret-of-enough-length")


@pytest.mark.parametrize("conf, environ, outcome", [
    ("local.yaml", {}, "dev"),
    ("local.yaml", {"ZHIXING_PSEUDONYM_SECRET": "a-real-secret-of-length"}, "real"),
    ("cluster.yaml", {}, "refuse"),
    ("cluster.yaml", {"ZHIXING_PSEUDONYM_SECRET": DEV_SECRET}, "refuse"),
    ("cluster.yaml", {"ZHIXING_PSEUDONYM_SECRET": "short"}, "refuse"),
    ("cluster.yaml", {"ZHIXING_PSEUDONYM_SECRET": "a-real-secret-of-length"}, "real"),
])
def test_secret_policy(conf, environ, outcome, caplog):
    settings = load_settings(CONF.parent / conf)
    if outcome == "refuse":
        with pytest.raises(ConfigError, match="ZHIXING_PSEUDONYM_SECRET"):
            resolve_secret(settings, environ)
        return
    with caplog.at_level(logging.WARNING):
        secret = resolve_secret(settings, environ)
    assert (secret == DEV_SECRET.encode()) == (outcome == "dev")
    assert ("DEVELOPMENT" in caplog.text) == (outcome == "dev")


# --- incremental conform equals a full rebuild ---------------------------------

CASE_COLS = ["case_no", "court_code", "filed_on", "cause", "claim_amount", "applicant_kind"]
PARTY_COLS = ["case_no", "role", "party_kind", "id_number", "name"]


def _deliveries(land):
    """Two nights: a back-fill; then an out-of-order person version, a corrected
    record in a new batch, and a corrected re-delivery of the first batch."""
    yield lambda: (
        write_batch(land, "population/persons", "2025-07-01", {"part-0001.csv": csv_text(PERSON_COLS, [
            person(), person(id_number=WOMAN, name="李娜", gender="F", birth="1985-05-05")])}, encoding="gbk"),
        write_batch(land, "court/cases", "2025-07-01", {"part-0001.csv": csv_text(CASE_COLS, [
            ["(2025)苏0312执1号", "苏0312", "2025-06-30", "labor", "1000", "person"],
            ["(2025)苏0312执2号", "苏0312", "2025-06-30", "labor", "2000", "bank"]])}),
        write_batch(land, "court/parties", "2025-07-01", {"part-0001.csv": csv_text(PARTY_COLS, [
            ["(2025)苏0312执1号", "respondent", "person", P, "张伟"],
            ["(2025)苏0312执2号", "respondent", "person", WOMAN, "李娜"]])}),
        write_batch(land, "ecommerce/orders", "2025-07-01", {"part-0001.jsonl": jsonl_text([
            {"order_id": "o1", "platform": "JD", "buyer_name": "张伟", "buyer_phone": "13912345678",
             "ordered_at": "2025-06-20T10:00:00+08:00", "amount": 99, "category": "food"}])}),
    )
    yield lambda: (
        # A version dated before the one already loaded (out of order), with a new phone.
        write_batch(land, "population/persons", "2025-07-02", {"part-0001.csv": csv_text(PERSON_COLS, [
            person(updated="2025-05-01 08:00:00", phone="13700000000")])}, encoding="gbk"),
        write_batch(land, "court/cases", "2025-07-02", {"part-0001.csv": csv_text(CASE_COLS, [
            ["(2025)苏0312执1号", "苏0312", "2025-06-30", "labor", "1500", "person"]])}),   # corrected claim
        # dt=2025-07-01 of court/cases is re-delivered without case 2: it must disappear.
        write_batch(land, "court/cases", "2025-07-01", {"part-0001.csv": csv_text(CASE_COLS, [
            ["(2025)苏0312执1号", "苏0312", "2025-06-30", "labor", "1000", "person"]])}),
        (land / "court/cases/dt=2025-07-01/part-0001.csv").touch(),
    )


def _silver_state(spark, settings):
    state = {}
    for table in list(silver_tables().values()):
        uri = settings.table(catalog.SILVER[table.name])
        from pipelines.core import storage
        if storage.delta_exists(spark, uri):
            state[table.name] = storage.read_delta(spark, uri)
    return state


def test_incremental_conform_equals_full_rebuild(spark, tmp_path):
    from pipelines.silver.resolve import resolve_entities

    land = tmp_path / "landing"
    incremental = load_settings(CONF, landing=str(land), lake=str(tmp_path / "lake_inc"))
    for night in _deliveries(land):
        night()
        ingest(spark, incremental)
        conform(spark, incremental, link=resolve_entities)

    rebuilt = load_settings(CONF, landing=str(land), lake=str(tmp_path / "lake_full"))
    ingest(spark, rebuilt)
    conform(spark, rebuilt, full_rebuild=True, link=resolve_entities)

    inc, full = _silver_state(spark, incremental), _silver_state(spark, rebuilt)
    assert set(inc) == set(full) >= {"population_persons", "court_cases", "court_parties", "ecommerce_orders"}
    for name in inc:
        columns = sorted(c for c in full[name].columns if c != "source_file")   # lake paths differ
        assertDataFrameEqual(inc[name].select(columns), full[name].select(columns))

    cases = {r.case_no: r for r in inc["court_cases"].collect()}
    assert set(cases) == {"(2025)苏0312执1号"} and float(cases["(2025)苏0312执1号"].claim_amount) == 1500
    versions = inc["population_persons"].where(F.col("person_key") == person_key_of(P, DEV_SECRET.encode()))
    assert [(r.version_no, r.is_current, r.is_phone_change, r.valid_from.month)
            for r in versions.orderBy("valid_from").collect()] == [(1, False, False, 5), (2, True, True, 6)]
    # A second run with nothing new changes nothing.
    before = inc["population_persons"].count()
    assert conform(spark, incremental).tables == {}
    assert inc["population_persons"].count() == before
