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
    watched, spine, leads = _leads(spark, WORLD)
    rows = leads.collect()
    ranked = {r["case_no"]: r for r in rank_cases(watched, leads, spine, T).collect()}
    return {r["case_no"] for r in watched.collect()}, rows, ranked


def test_only_terminated_cases_with_debt_known_at_t_are_watched(result):
    watched, _, _ = result
    assert watched == {"C1", "C2", "C6", "C7"}


def test_a_debtor_whose_assets_reappear_is_flagged_with_the_right_evidence(result):
    _, rows, _ = result
    d = {(r["kind"], r["record_id"]): r for r in rows if r["person_key"] == D}
    assert set(d) == {("deposit_growth", "A1"), ("deposit_new", "A2"), ("asset_acquired", "V1"),
                      ("asset_acquired", "V2"), ("transfer_in", "T1"), ("transfer_in", "T6"), ("spending", "O1"),
                      ("spouse_asset", "RS"), ("spouse_asset", "VS")}
    growth = d[("deposit_growth", "A1")]
    assert (growth["event_on"], growth["amount"], growth["recoverable"]) == (dt.date(2026, 9, 30), 60_000, 59_000)
    assert growth["source"] == "finance/balances" and "终本时1000元" in growth["detail"] and "6.0万元" in growth["detail"]
    assert d[("deposit_new", "A2")]["recoverable"] == 30_000
    car = d[("asset_acquired", "V1")]
    assert (car["event_on"], car["amount"], car["recoverable"], car["source"]) == \
        (dt.date(2026, 11, 3), 180_000, 90_000, "finance/assets")
    assert "车辆" in car["detail"] and "2026-11-03" in car["detail"]
    # T1 came after A1's last balance (2026-09-30); T6 before it, so it is already in that balance.
    assert d[("transfer_in", "T1")]["recoverable"] == 40_000 and d[("transfer_in", "T6")]["recoverable"] == 0
    spend = d[("spending", "O1")]
    assert (spend["amount"], spend["confidence"], spend["recoverable"]) == (14_000, 0.95, 0)
    assert "2 笔" in spend["detail"] and "限制消费" in spend["detail"]
    assert d[("spouse_asset", "RS")]["recoverable"] == 1_000_000 * 0.7 * 0.5
    assert d[("spouse_asset", "VS")]["recoverable"] == 0 and "婚前" in d[("spouse_asset", "VS")]["detail"]


def test_an_empty_debtor_stays_silent(result):
    _, rows, ranked = result
    assert not [r for r in rows if r["person_key"] in (E, F_)]
    assert set(ranked) == {"C1", "C7"}


def test_nothing_after_the_run_date_is_used(spark, result):
    """Removing every record dated after T (and undoing every end after T) changes no lead."""
    _, rows, _ = result
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
    _, _, leads = _leads(spark, before_t)
    assert sorted(map(tuple, leads.collect())) == sorted(map(tuple, rows))


def test_cases_are_ranked_by_what_could_be_recovered_against_what_is_owed(result):
    _, _, ranked = result
    c1, c7 = ranked["C1"], ranked["C7"]
    assert c1["outstanding"] == 190_000 and c1["recoverable_estimate"] == 190_000 and c1["recovery_ratio"] == 1.0
    assert c7["recoverable_estimate"] == 50_000 and c7["recovery_ratio"] == pytest.approx(0.1)
    assert (c1["rank_in_court"], c7["rank_in_court"]) == (1, 2)
    assert c1["leads_count"] == 9 and c1["respondents"] == c1["respondents_with_leads"] == 1
    # The case's leads: the most recoverable first.
    assert [lead["record_id"] for lead in c1["leads"]][:2] == ["RS", "V1"]
    assert [lead["recoverable"] for lead in c1["leads"]] == sorted((lead["recoverable"] for lead in c1["leads"]),
                                                                   reverse=True)


def test_thresholds_come_from_the_config(spark):
    strict = SETTINGS.model_copy(update={"large_transfer": 85_000.0, "min_spending": 20_000.0,
                                         "min_deposit_increase": 60_000.0})
    s = silver(spark, **WORLD)
    spine = watch_spine(watched_cases(s.cases, s.closures, T), s.parties, T)
    leads = all_leads(spine, accounts=s.accounts, balances=s.balances, transactions=s.transactions, assets=s.assets,
                      orders=s.orders, registrations=s.registrations, settings=strict)
    kinds = {(r["kind"], r["record_id"]) for r in leads.where(F.col("person_key") == D).collect()}
    assert ("transfer_in", "T1") not in kinds and ("spending", "O1") not in kinds
    assert ("deposit_growth", "A1") not in kinds and ("deposit_new", "A2") not in kinds
    assert ("asset_acquired", "V1") in kinds
