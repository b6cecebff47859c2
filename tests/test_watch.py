"""The terminated-case asset watch: leads, evidence, silence, point in time, ranking, idempotence.

One tiny silver world as of T = 2026-11-06. Debtor D's case closed 终本 on 2025-03-20 owing
190,000; since then D's savings grew, D opened a new account, bought cars, received a large
transfer, spent on luxury and travel, and married S, who bought a flat. Every source also holds
records dated after T (worth far more), and records from before the closure. Debtor E stays
empty; F's only asset was already held at closure; G regained a little. Other cases are not
watched: closed after T, executed in full, fully recovered.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual
from helpers.silver_frames import silver

from features.watch import all_leads, rank_cases, watch_spine, watched_cases
from helpers.paths import CONF

from pipelines.core.config import load_settings

T = dt.date(2026, 11, 6)
D, E, F_, G, S = (name.ljust(64, "0") for name in ("debtor", "empty", "heldatclosure", "small", "spouse"))
SETTINGS = load_settings(CONF).watch   # the defaults, from conf/base.yaml


def case(no, claim, court="苏0312"):
    return {"case_no": no, "court_code": court, "filed_on": "2024-01-10", "claim_amount": str(claim)}


def closure(no, on, kind="terminated_no_assets", recovered="0"):
    return {"case_no": no, "closed_on": on, "closure": kind, "amount_recovered": recovered}


def respondent(no, key):
    return {"case_no": no, "role": "respondent", "party_kind": "person", "party_key": key}


WORLD = dict(
    cases=[case("C1", 200_000), case("C2", 50_000), case("C3", 80_000), case("C4", 80_000), case("C5", 80_000),
           case("C6", 70_000), case("C7", 500_000)],
    closures=[closure("C1", "2025-03-20", recovered="10000"), closure("C2", "2025-01-05"),
              closure("C3", "2026-11-10"),                                   # closed after T: not known yet
              closure("C4", "2025-01-05", kind="executed_in_full"),
              closure("C5", "2025-01-05", recovered="80000"),                # nothing owed
              closure("C6", "2025-01-05"), closure("C7", "2025-06-30")],
    parties=[respondent("C1", D), respondent("C2", E), respondent("C3", D), respondent("C4", D), respondent("C5", D),
             respondent("C6", F_), respondent("C7", G),
             {"case_no": "C1", "role": "applicant", "party_kind": "company", "party_key": None}],
    accounts=[{"account_id": "A1", "owner_key": D, "bank_code": "ICBC", "account_type": "savings", "opened_on": "2020-01-01"},
              {"account_id": "A2", "owner_key": D, "bank_code": "CMB", "account_type": "current", "opened_on": "2026-05-01"},
              {"account_id": "A3", "owner_key": D, "bank_code": "BOC", "account_type": "savings", "opened_on": "2020-01-01",
               "closed_on": "2026-10-01"},                                   # emptied and closed before T
              {"account_id": "A4", "owner_key": D, "bank_code": "ABC", "account_type": "savings", "opened_on": "2020-01-01",
               "closed_on": "2026-11-20"},                                   # closed after T: still open at T
              {"account_id": "A9", "owner_key": D, "bank_code": "PSBC", "account_type": "savings",
               "opened_on": "2026-11-08"}],                                  # opened after T
    balances=[{"account_id": "A1", "as_of": "2024-12-31", "balance": "1000"},
              {"account_id": "A1", "as_of": "2026-09-30", "balance": "60000"},
              {"account_id": "A1", "as_of": "2026-12-31", "balance": "900000"},   # after T
              {"account_id": "A2", "as_of": "2026-09-30", "balance": "30000"},
              {"account_id": "A3", "as_of": "2026-09-30", "balance": "100000"},
              {"account_id": "A4", "as_of": "2024-12-31", "balance": "20000"},
              {"account_id": "A4", "as_of": "2026-09-30", "balance": "25000"},    # grew 5,000: below the minimum
              {"account_id": "A9", "as_of": "2026-12-31", "balance": "700000"}],
    transactions=[
        {"txn_id": "T1", "account_id": "A1", "booked_at": "2026-10-15 10:00:00", "amount": "80000", "direction": "in"},
        {"txn_id": "T2", "account_id": "A1", "booked_at": "2026-11-07 00:00:01", "amount": "600000", "direction": "in"},
        {"txn_id": "T3", "account_id": "A1", "booked_at": "2026-10-16 10:00:00", "amount": "20000", "direction": "in"},
        {"txn_id": "T4", "account_id": "A1", "booked_at": "2025-01-05 10:00:00", "amount": "90000", "direction": "in"},
        {"txn_id": "T5", "account_id": "A1", "booked_at": "2026-10-17 10:00:00", "amount": "100000", "direction": "out"},
        {"txn_id": "T6", "account_id": "A1", "booked_at": "2026-08-01 10:00:00", "amount": "55000", "direction": "in"}],
    assets=[{"asset_id": "V1", "owner_key": D, "asset_type": "vehicle", "region": "320312", "acquired_on": "2026-11-03",
             "declared_value": "180000"},
            {"asset_id": "V2", "owner_key": D, "asset_type": "vehicle", "region": "320312", "acquired_on": "2025-06-01",
             "disposed_on": "2026-11-07", "declared_value": "40000"},        # disposed of after T: held at T
            {"asset_id": "V3", "owner_key": D, "asset_type": "vehicle", "region": "320312", "acquired_on": "2025-07-01",
             "disposed_on": "2026-10-01", "declared_value": "70000"},        # gone before T
            {"asset_id": "R0", "owner_key": D, "asset_type": "real_estate", "region": "320312",
             "acquired_on": "2023-01-01", "declared_value": "900000"},       # held at closure: the court saw it
            {"asset_id": "R1", "owner_key": D, "asset_type": "real_estate", "region": "320312",
             "acquired_on": "2026-11-10", "declared_value": "3000000"},      # after T
            {"asset_id": "RS", "owner_key": S, "asset_type": "real_estate", "region": "320303",
             "acquired_on": "2026-06-01", "declared_value": "1000000"},      # the spouse's, in the marriage
            {"asset_id": "VS", "owner_key": S, "asset_type": "vehicle", "region": "320303",
             "acquired_on": "2019-06-01", "declared_value": "100000"},       # the spouse's, before it
            {"asset_id": "RS2", "owner_key": S, "asset_type": "real_estate", "region": "320303",
             "acquired_on": "2026-11-09", "declared_value": "5000000"},      # after T
            {"asset_id": "F1", "owner_key": F_, "asset_type": "vehicle", "region": "320312",
             "acquired_on": "2024-06-01", "declared_value": "90000"},        # F held it at closure
            {"asset_id": "G1", "owner_key": G, "asset_type": "vehicle", "region": "320312",
             "acquired_on": "2026-10-01", "declared_value": "100000"}],
    orders=[{"order_id": "O1", "person_key": D, "match_confidence": 0.95, "ordered_at": "2026-10-20 20:00:00",
             "amount": "8000", "category": "luxury"},
            {"order_id": "O2", "person_key": D, "match_confidence": 0.99, "ordered_at": "2026-08-01 20:00:00",
             "amount": "6000", "category": "travel"},
            {"order_id": "O3", "person_key": D, "match_confidence": 0.99, "ordered_at": "2026-11-08 20:00:00",
             "amount": "50000", "category": "luxury"},                       # after T
            {"order_id": "O4", "person_key": D, "match_confidence": 0.99, "ordered_at": "2026-10-01 20:00:00",
             "amount": "30000", "category": "daily"},
            {"order_id": "O5", "person_key": D, "match_confidence": 0.99, "ordered_at": "2025-03-01 20:00:00",
             "amount": "40000", "category": "luxury"}],                      # before the closure
    registrations=[{"registration_id": "M1", "kind": "marriage", "spouse_a_key": D, "spouse_b_key": S,
                    "registered_on": "2026-02-14"},
                   {"registration_id": "M2", "kind": "divorce", "spouse_a_key": S, "spouse_b_key": D,
                    "registered_on": "2026-11-20"}],                         # after T: married at T
)


def _leads(spark, world):
    s = silver(spark, **world)
    watched = watched_cases(s.cases, s.closures, T)
    spine = watch_spine(watched, s.parties, T)
    leads = all_leads(spine, accounts=s.accounts, balances=s.balances, transactions=s.transactions, assets=s.assets,
                      orders=s.orders, registrations=s.registrations, settings=SETTINGS)
    return watched, spine, leads


@pytest.fixture(scope="module")
def result(spark):
    """(watched, leads, ranked) of WORLD at T, cached: the tests read them several times."""
    watched, spine, leads = _leads(spark, WORLD)
    frames = (watched.cache(), leads.cache(), rank_cases(watched, leads, spine, T).cache())
    yield frames
    for df in frames:
        df.unpersist()


def test_only_terminated_cases_with_debt_known_at_t_are_watched(spark, result):
    watched, _, _ = result
    # Not C3 (closed after T), C4 (executed in full) nor C5 (all recovered).
    expected = spark.createDataFrame([
        ("C1", "苏0312", dt.date(2024, 1, 10), dt.date(2025, 3, 20), 200_000.0, 10_000.0, 190_000.0),
        ("C2", "苏0312", dt.date(2024, 1, 10), dt.date(2025, 1, 5), 50_000.0, 0.0, 50_000.0),
        ("C6", "苏0312", dt.date(2024, 1, 10), dt.date(2025, 1, 5), 70_000.0, 0.0, 70_000.0),
        ("C7", "苏0312", dt.date(2024, 1, 10), dt.date(2025, 6, 30), 500_000.0, 0.0, 500_000.0),
    ], "case_no string, court_code string, filed_on date, closed_on date, claim_amount double, "
       "amount_recovered double, outstanding double")
    assertDataFrameEqual(watched, expected)


def test_a_debtor_whose_assets_reappear_is_flagged_with_the_right_evidence(spark, result):
    _, leads, _ = result
    of_d = leads.where(F.col("person_key") == D)
    # Every lead column but the clerk's text (kind_zh, detail); what the detail must say is checked below.
    got = of_d.select("case_no", "kind", "record_id", "event_on", "amount", "recoverable", "source", "confidence")
    expected = spark.createDataFrame([
        ("C1", "deposit_growth", "A1", dt.date(2026, 9, 30), 60_000.0, 59_000.0, "finance/balances", None),
        ("C1", "deposit_new", "A2", dt.date(2026, 9, 30), 30_000.0, 30_000.0, "finance/balances", None),
        ("C1", "asset_acquired", "V1", dt.date(2026, 11, 3), 180_000.0, 90_000.0, "finance/assets", None),
        ("C1", "asset_acquired", "V2", dt.date(2025, 6, 1), 40_000.0, 20_000.0, "finance/assets", None),
        # T1 came after A1's last balance (2026-09-30); T6 before it, so it is already in that balance.
        ("C1", "transfer_in", "T1", dt.date(2026, 10, 15), 80_000.0, 40_000.0, "finance/transactions", None),
        ("C1", "transfer_in", "T6", dt.date(2026, 8, 1), 55_000.0, 0.0, "finance/transactions", None),
        ("C1", "spending", "O1", dt.date(2026, 10, 20), 14_000.0, 0.0, "ecommerce/orders", 0.95),
        ("C1", "spouse_asset", "RS", dt.date(2026, 6, 1), 1_000_000.0, 1_000_000 * 0.7 * 0.5, "finance/assets", None),
        ("C1", "spouse_asset", "VS", dt.date(2019, 6, 1), 100_000.0, 0.0, "finance/assets", None),
    ], "case_no string, kind string, record_id string, event_on date, amount double, recoverable double, "
       "source string, confidence double")
    assertDataFrameEqual(got, expected, rtol=0, atol=0)
    detail = {r["record_id"]: r["detail"] for r in of_d.select("record_id", "detail").collect()}
    assert "终本时1000元" in detail["A1"] and "6万元" in detail["A1"]
    assert "车辆" in detail["V1"] and "2026-11-03" in detail["V1"]
    assert "2 笔" in detail["O1"] and "限制消费" in detail["O1"]
    assert "婚前" in detail["VS"]


def test_an_empty_debtor_stays_silent(result):
    _, leads, ranked = result
    assert leads.where(F.col("person_key").isin(E, F_)).isEmpty()
    assert {r["case_no"] for r in ranked.select("case_no").collect()} == {"C1", "C7"}


def test_nothing_after_the_run_date_is_used(spark, result):
    """Removing every record dated after T (and undoing every end after T) changes no lead."""
    _, leads, _ = result
    before_t = dict(WORLD)
    events = {"balances": "as_of", "transactions": "booked_at", "assets": "acquired_on", "orders": "ordered_at",
              "registrations": "registered_on", "closures": "closed_on", "accounts": "opened_on"}
    for table, column in events.items():
        before_t[table] = [r for r in WORLD[table] if r[column][:10] <= T.isoformat()]
    before_t["assets"] = [{**r, "disposed_on": None} if (r.get("disposed_on") or "") > T.isoformat() else r
                          for r in before_t["assets"]]
    before_t["accounts"] = [{**r, "closed_on": None} if (r.get("closed_on") or "") > T.isoformat() else r
                            for r in before_t["accounts"]]
    assert sum(len(v) for v in WORLD.values()) - sum(len(v) for v in before_t.values()) == 9   # records after T
    _, _, before = _leads(spark, before_t)
    assertDataFrameEqual(before, leads, rtol=0, atol=0)


def test_cases_are_ranked_by_what_could_be_recovered_against_what_is_owed(spark, result):
    _, _, ranked = result
    # The ranking's figures, and of each case's leads (in their order) the record and what it could recover.
    got = ranked.select("case_no", "outstanding", "recoverable_estimate", "recovery_ratio", "rank_in_court",
                        "leads_count", "respondents", "respondents_with_leads",
                        F.col("leads.record_id").alias("lead_records"), F.col("leads.recoverable").alias("lead_recoverable"))
    expected = spark.createDataFrame([
        # C1's leads could recover 589,000: the estimate is capped at the 190,000 owed.
        ("C1", 190_000.0, 190_000.0, 1.0, 1, 9, 1, 1,
         # The case's leads: the most recoverable first (then the latest).
         ["RS", "V1", "A1", "T1", "A2", "V2", "O1", "T6", "VS"],
         [350_000.0, 90_000.0, 59_000.0, 40_000.0, 30_000.0, 20_000.0, 0.0, 0.0, 0.0]),
        ("C7", 500_000.0, 50_000.0, 50_000 / 500_000, 2, 1, 1, 1, ["G1"], [50_000.0]),
    ], "case_no string, outstanding double, recoverable_estimate double, recovery_ratio double, rank_in_court int, "
       "leads_count int, respondents int, respondents_with_leads int, lead_records array<string>, "
       "lead_recoverable array<double>")
    # Exact: the ratio is one division of two whole numbers, the same in Spark as here.
    assertDataFrameEqual(got, expected, rtol=0, atol=0)


def test_thresholds_come_from_the_config(spark):
    strict = SETTINGS.model_copy(update={"large_transfer": 85_000.0, "min_spending": 20_000.0,
                                         "min_deposit_increase": 60_000.0})
    s = silver(spark, **WORLD)
    spine = watch_spine(watched_cases(s.cases, s.closures, T), s.parties, T)
    leads = all_leads(spine, accounts=s.accounts, balances=s.balances, transactions=s.transactions, assets=s.assets,
                      orders=s.orders, registrations=s.registrations, settings=strict)
    # Gone: T1 (80,000 in) and T6 under the 85,000 transfer, O1 (14,000 spent) under 20,000, A1 (59,000 more)
    # and A2 (30,000) under 60,000. The assets have no threshold.
    assertDataFrameEqual(leads.where(F.col("person_key") == D).select("kind", "record_id"), spark.createDataFrame([
        ("asset_acquired", "V1"), ("asset_acquired", "V2"), ("spouse_asset", "RS"), ("spouse_asset", "VS"),
    ], "kind string, record_id string"))


# -- watch_due: when the nightly run does the watch, over a real gold/asset_watch table ----------------------

WATCHED_ON = [dt.date(2025, 11, 3), dt.date(2026, 10, 1), dt.date(2026, 11, 1), None]   # None: a row without a date


def _cadence(settings, cadence: str):
    return settings.model_copy(update={"watch": settings.watch.model_copy(update={"cadence": cadence})})


@pytest.fixture(scope="module")
def watched_lake(spark, tmp_path_factory):
    """Settings over a lake whose gold/asset_watch holds a few rows of the nights in WATCHED_ON."""
    from pipelines.core import catalog, storage

    settings = load_settings(CONF, lake=str(tmp_path_factory.mktemp("watched_lake")))
    rows = [(night, f"C{i}") for i, night in enumerate(WATCHED_ON)] + [(dt.date(2026, 11, 1), None)]
    storage.overwrite(spark.createDataFrame(rows, "run_date date, case_no string"), settings.table(catalog.ASSET_WATCH))
    return settings


@pytest.mark.parametrize(("night", "due"), [
    (dt.date(2026, 11, 1), True),    # a re-run of the night that ran it runs it again
    (dt.date(2026, 11, 2), False),   # the second night of the month: already done this month
    (dt.date(2026, 11, 30), False),  # ...and the last
    (dt.date(2026, 10, 31), False),  # October's was on the 1st
    (dt.date(2026, 10, 1), True),    # re-run of October's
    (dt.date(2026, 12, 1), True),    # a new month with no watch yet
    (dt.date(2026, 9, 15), True),    # a month no night has watched, even in the middle of it
    (dt.date(2025, 11, 20), False),  # November 2025 ran on the 3rd
    (dt.date(2027, 11, 5), True),    # November of another year is another month
])
def test_monthly_watch_runs_once_per_calendar_month_and_again_on_a_rerun(spark, watched_lake, night, due):
    from pipelines.gold.watch import watch_due

    assert watch_due(spark, _cadence(watched_lake, "monthly"), night) is due


@pytest.mark.parametrize(("cadence", "due"), [("nightly", True), ("off", False)])
def test_nightly_and_off_ignore_what_the_table_holds(spark, watched_lake, tmp_path, cadence, due):
    from pipelines.gold.watch import watch_due

    second_night = dt.date(2026, 11, 2)   # monthly would skip it (above); the first night of a month has no watch yet
    first_of_month = dt.date(2026, 12, 1)
    assert watch_due(spark, _cadence(watched_lake, cadence), second_night) is due
    assert watch_due(spark, _cadence(watched_lake, cadence), first_of_month) is due
    no_table = load_settings(CONF, lake=str(tmp_path / "lake"))
    assert watch_due(spark, _cadence(no_table, cadence), first_of_month) is due


def test_monthly_watch_runs_on_a_lake_without_a_watch_table_or_with_an_empty_one(spark, tmp_path):
    from pipelines.core import catalog, storage
    from pipelines.gold.watch import watch_due

    settings = _cadence(load_settings(CONF, lake=str(tmp_path / "lake")), "monthly")
    night = dt.date(2026, 11, 2)
    assert watch_due(spark, settings, night) is True
    (tmp_path / "lake" / "gold" / "asset_watch" / "_delta_log").mkdir(parents=True)   # a first write killed
    assert watch_due(spark, settings, night) is True
    storage.overwrite(spark.createDataFrame([], "run_date date, case_no string"), settings.table(catalog.ASSET_WATCH))
    assert storage.delta_exists(spark, settings.table(catalog.ASSET_WATCH))
    assert watch_due(spark, settings, night) is True
