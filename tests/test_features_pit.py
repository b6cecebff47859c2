"""Point in time, family by family (contract section 4).

One rich silver data set gives the main person P a case filed on FILED and,
for every feature family, records dated just before the filing date (they
count) and on the filing day or after it (they must not). Every amount is
distinct, and those that must not count are large, so a leak shows in the
number. A few more spine rows cover what one filing date cannot: a second
person for a 12-month boundary, filings on a quarter's first day and on a
quarter-end (also a month-end, the loan snapshot day), and a person with no
records at all. Timestamps are built in Beijing time, the session zone.

`person_features` runs once for the whole module (it is a dozen joins); each
test reads its family's columns from the collected rows.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from helpers.silver_frames import silver

from features.profile import person_features
from features.catalogue import load_dictionary

FILED = dt.date(2026, 6, 15)
DAY_BEFORE, FILING_DAY, DAY_AFTER = "2026-06-14", "2026-06-15", "2026-06-16"
# Windows end the day before filing; their first day is inside, the day before that outside.
M3_FIRST, M3_OUT = "2026-03-15", "2026-03-14"
M6_FIRST, M6_OUT = "2025-12-15", "2025-12-14"
M12_FIRST, M12_OUT = "2025-06-15", "2025-06-14"
DAY_90, DAY_91 = str(FILED - dt.timedelta(days=90)), str(FILED - dt.timedelta(days=91))  # 2026-03-17, -16
BEIJING = ZoneInfo("Asia/Shanghai")


def at(text: str) -> dt.datetime:
    """A Beijing wall-clock time (the session zone): the contract's timestamps are Beijing time."""
    return dt.datetime.fromisoformat(text if len(text) > 10 else f"{text} 12:00:00").replace(tzinfo=BEIJING)


LAST_SECOND_BEFORE, FIRST_SECOND_ON = at("2026-06-14 23:59:59"), at("2026-06-15 00:00:01")


def key(name: str) -> str:
    return name.ljust(64, "0")


P = key("debtor")
S1, S2 = key("ex_spouse"), key("spouse")        # married 2015, divorced 2025 / married the day before
S3 = key("married_after")                       # married the day after filing
S4 = key("divorced_on_filing_day")              # only registration: a divorce on the filing day
S5 = key("married_on_filing_day")
R1 = key("relative")                            # family link since 2020
R2 = key("relative_from_filing_day")            # family link since the filing day
R3 = key("relative_until_day_before")           # family link ended the day before
R4 = key("relative_until_filing_day")           # family link ended on the filing day
F1, F2, F4 = key("friend_since_day_before"), key("friend_since_day_after"), key("friend_late_account")
C1, O1 = key("colleague"), key("stranger")
M = key("divorced_12m_out")                     # divorced one day outside the 12-month window
Q1 = key("files_on_quarter_start")              # filed 2026-07-01
Q2 = key("files_on_quarter_end")                # filed 2026-06-30 (quarter-end and month-end)
Q3 = key("balances_only_recently")              # balance history starts after the quarter-end a year before
NOBODY = key("no_records")

SPINE = [(P, FILED), (M, FILED), (Q1, dt.date(2026, 7, 1)), (Q2, dt.date(2026, 6, 30)), (Q3, FILED), (NOBODY, FILED)]


def person(valid_from, **attrs):
    base = {"person_key": P, "birth_date": "1990-06-16", "hukou_region": "110105", "education": "bachelor",
            "occupation": "worker", "has_phone": True, "is_region_change": False, "is_phone_change": False}
    return {**base, "valid_from": valid_from, **attrs}


PERSONS = [
    person(at("2020-01-01 10:00:00"), hukou_region="320312"),
    person(at("2024-06-15 08:00:00"), is_region_change=True),                    # moved to 11xxxx
    person(at("2025-06-14 12:00:00"), is_phone_change=True),                     # outside 12 months
    person(at("2025-06-15 00:00:01"), is_phone_change=True),                     # first day of 12 months
    person(LAST_SECOND_BEFORE, education="master", occupation="self_employed", is_phone_change=True),
    person(FIRST_SECOND_ON, birth_date="1980-01-01", hukou_region="440300", education="doctorate",
           occupation="unemployed", has_phone=False, is_region_change=True, is_phone_change=True),
    person(at(DAY_AFTER), occupation="retired", is_region_change=True, is_phone_change=True),
]


def registration(rid, kind, a, b, on):
    return {"registration_id": rid, "kind": kind, "spouse_a_key": a, "spouse_b_key": b, "registered_on": on}


REGISTRATIONS = [
    registration("r1", "marriage", P, S1, "2015-05-01"),
    registration("r2", "divorce", S1, P, M12_FIRST),          # divorce on the 12-month window's first day
    registration("r3", "marriage", P, S2, DAY_BEFORE),
    registration("r4", "divorce", P, S4, FILING_DAY),         # not yet registered at filing
    registration("r5", "marriage", S5, P, FILING_DAY),
    registration("r6", "marriage", P, S3, DAY_AFTER),
    registration("m1", "marriage", M, key("m_ex"), "2020-01-01"),
    registration("m2", "divorce", M, key("m_ex"), M12_OUT),
    registration("m3", "marriage", M, key("m_new"), FILING_DAY),
]


def account(account_id, account_type="savings", bank="ICBC", opened="2019-01-01", closed=None, owner=P):
    return {"account_id": account_id, "owner_key": owner, "bank_code": bank, "account_type": account_type,
            "opened_on": opened, "closed_on": closed}


ACCOUNTS = [
    account("acc1", "savings", "ICBC"),
    account("acc2", "current", "ABC"),
    account("acc3", "wealth_management", "ICBC"),
    account("acc4", "securities", "CMB"),
    account("acc5", bank="BOC", opened=DAY_BEFORE),                 # open
    account("acc6", bank="CCB", opened=FILING_DAY),                 # not yet open
    account("acc7", bank="PSBC", closed=FILING_DAY),                # closed on the filing day: still open
    account("acc8", bank="WEBANK", closed=DAY_BEFORE),              # closed, within 90 days
    account("acc9", bank="ICBC", closed=DAY_90),                    # closed, within 90 days (day 90)
    account("acc10", bank="ICBC", closed=DAY_91),                   # closed, 12 months only
    account("acc11", bank="ICBC", closed=M12_FIRST),                # closed, 12 months only
    account("acc12", bank="ICBC", closed=M12_OUT),                  # closed before the 12 months
    account("acc13", bank="MYBANK", closed=DAY_AFTER),              # still open
    account("qa1", "savings", owner=Q1, opened="2020-01-01"),
    account("qb1", "current", owner=Q2, opened="2020-01-01"),
    account("qc1", "savings", owner=Q3, opened="2020-01-01"),
]


def balance(account_id, on, amount):
    return {"account_id": account_id, "as_of": on, "balance": str(amount)}


BALANCES = [
    # P, filed 2026-06-15: last quarter-end 2026-03-31, four quarters earlier 2025-03-31.
    balance("acc1", "2026-03-31", 1000), balance("acc2", "2026-03-31", 2000),
    balance("acc3", "2026-03-31", 4000), balance("acc4", "2026-03-31", 8000),
    balance("acc1", "2025-03-31", 3000), balance("acc2", "2025-03-31", 6000),
    balance("acc1", "2025-12-31", 710000),                           # neither quarter-end used
    balance("acc1", "2026-06-30", 720000),                           # after filing
    # Q1, filed on a quarter's first day: sees the quarter-end the day before.
    balance("qa1", "2026-06-30", 1000), balance("qa1", "2025-06-30", 2000),
    balance("qa1", "2026-03-31", 730000),
    # Q2, filed on a quarter-end: that quarter-end's balance is not known yet.
    balance("qb1", "2026-06-30", 740000), balance("qb1", "2026-03-31", 1000),
    balance("qb1", "2025-03-31", 3000), balance("qb1", "2025-06-30", 750000),
    # Q3, filed with P: a balance at 2026-03-31, none on record at 2025-03-31 (history too short).
    balance("qc1", "2026-03-31", 5000), balance("qc1", "2025-06-30", 4000),
]


def txn(txn_id, booked_at, amount, direction, counterparty=None, account_id="acc1"):
    return {"txn_id": txn_id, "account_id": account_id, "booked_at": booked_at, "amount": str(amount),
            "direction": direction, "counterparty_key": counterparty, "channel": "online"}


TRANSACTIONS = [
    txn("i1", LAST_SECOND_BEFORE, 1000, "in"),
    txn("i2", FIRST_SECOND_ON, 700000, "in"),
    txn("i3", at(M3_FIRST), 2000, "in"),
    txn("i4", at(M3_OUT), 4000, "in"),
    txn("i5", at(M12_FIRST), 8000, "in"),
    txn("i6", at(M12_OUT), 900000, "in"),
    txn("i7", at(DAY_AFTER), 800000, "in"),
    txn("o1", LAST_SECOND_BEFORE, 5000, "out", S1),        # ex-spouse: kin
    txn("o2", FIRST_SECOND_ON, 600000, "out", S1),
    txn("o3", at(DAY_90), 6000, "out", R4),                # day 90; family link ends on the filing day: kin
    txn("o4", at(DAY_91), 7000, "out", S2),                # day 91: outside the 90 days
    txn("o5", at("2026-05-01"), 10000, "out", O1),
    txn("o6", at("2026-05-02"), 20000, "out"),             # not to a person
    txn("o7", at("2026-05-03"), 40000, "out", S4),         # divorced only on the filing day: not kin
    txn("o8", at("2026-05-04"), 80000, "out", R3),         # family link ended the day before: not kin
    txn("o9", at("2026-05-05"), 160000, "out", R2),        # family link from the filing day: not kin
    txn("o10", at("2026-05-06"), 320000, "out", R1),       # relative: kin
    txn("o11", at(M12_OUT), 990000, "out", R1),
]


def snapshot(loan_id, on, outstanding, status, overdue_days=0, issued="2025-01-01", borrower=P):
    return {"loan_id": loan_id, "borrower_key": borrower, "principal": "100000", "issued_on": issued,
            "maturity_on": "2030-01-01", "as_of": on, "outstanding": str(outstanding),
            "overdue_days": overdue_days, "status": status}


LOANS = [
    snapshot("L1", "2026-04-30", 50000, "current"),
    snapshot("L1", "2026-05-31", 40000, "overdue", 20),              # last before filing: overdue
    snapshot("L1", "2026-06-30", 700000, "written_off", 90),         # after filing
    snapshot("L2", "2025-06-30", 3000, "current", issued=M12_FIRST),
    snapshot("L2", "2026-05-31", 0, "settled", issued=M12_FIRST),
    snapshot("L3", "2024-05-31", 1, "overdue", 200, issued="2024-01-10"),   # before the 24 months
    snapshot("L3", "2024-06-30", 1, "overdue", 45, issued="2024-01-10"),    # inside the 24 months
    snapshot("L3", "2026-05-31", 2000, "current", issued="2024-01-10"),
    snapshot("L4", "2025-06-30", 9000, "current", issued=M12_OUT),
    snapshot("L4", "2026-03-31", 9000, "written_off", 40, issued=M12_OUT),
    snapshot("L5", "2026-06-30", 800000, "current", issued="2026-06-20"),   # issued after filing
    snapshot("LQ", "2026-05-31", 1000, "current", borrower=Q2),
    snapshot("LQ", "2026-06-30", 760000, "overdue", 30, borrower=Q2),       # Q2's filing day
]


def asset(asset_id, asset_type, acquired, value, disposed=None, to=None, owner=P):
    return {"asset_id": asset_id, "owner_key": owner, "asset_type": asset_type, "acquired_on": acquired,
            "disposed_on": disposed, "disposed_to_key": to, "declared_value": str(value)}


ASSETS = [
    asset("a1", "real_estate", DAY_BEFORE, 1000),                             # owned
    asset("a2", "real_estate", FILING_DAY, 700000),                           # not yet owned
    asset("a3", "vehicle", "2020-01-01", 2000, FILING_DAY, S1),               # still owned before filing
    asset("a4", "vehicle", "2020-01-01", 4000, DAY_BEFORE, S1),               # gone; to the ex-spouse
    asset("a5", "equity", "2020-01-01", 8000, DAY_AFTER, S1),                 # owned
    asset("a6", "real_estate", "2015-01-01", 16000, M6_FIRST, R1),            # 6 months; to a relative
    asset("a7", "real_estate", "2015-01-01", 32000, M6_OUT, O1),              # 12 months only
    asset("a8", "equity", "2015-01-01", 64000, M12_FIRST),                    # 12 months; not to a person
    asset("a9", "equity", "2015-01-01", 900000, M12_OUT, O1),                 # before the 12 months
    asset("a10", "vehicle", "2015-01-01", 128000, "2026-05-01", S4),          # not kin at filing
    asset("a11", "vehicle", "2015-01-01", 256000, "2026-05-02", S5),          # not kin at filing
    asset("a12", "vehicle", "2015-01-01", 512000, "2026-05-03", R2),          # not kin at filing
    asset("a13", "vehicle", "2015-01-01", 1024000, "2026-05-04", S2),         # spouse at filing
    # What kin own at filing.
    asset("k1", "real_estate", "2020-01-01", 3000, owner=S1),
    asset("k2", "vehicle", DAY_BEFORE, 5000, owner=S2),
    asset("k3", "vehicle", FILING_DAY, 910000, owner=S2),
    asset("k4", "equity", "2020-01-01", 7000, FILING_DAY, owner=R1),
    asset("k5", "real_estate", "2020-01-01", 9000, owner=R4),
    asset("k6", "real_estate", "2020-01-01", 920000, owner=S4),
    asset("k7", "real_estate", "2020-01-01", 930000, owner=S5),
    asset("k8", "real_estate", "2020-01-01", 940000, owner=R2),
    asset("k9", "real_estate", "2020-01-01", 950000, owner=R3),
    asset("k10", "real_estate", "2020-01-01", 960000, owner=S3),
    asset("k11", "real_estate", "2020-01-01", 970000, DAY_BEFORE, owner=S1),
]


def order(order_id, ordered_at, amount, category, confidence, person_key=P):
    return {"order_id": order_id, "person_key": person_key, "match_confidence": confidence,
            "ordered_at": ordered_at, "amount": str(amount), "category": category}


ORDERS = [
    order("e1", LAST_SECOND_BEFORE, 1000, "luxury", 0.9),      # month began with L1 overdue (2026-05-31)
    order("e2", FIRST_SECOND_ON, 700000, "luxury", 0.1),
    order("e3", at(M3_FIRST), 2000, "travel", 0.8),
    order("e4", at(M3_OUT), 4000, "travel", 0.7),
    order("e5", at(M12_FIRST), 8000, "food", 0.6),
    order("e6", at(M12_OUT), 900000, "food", 0.2),
    order("e7", at("2026-04-10"), 16000, "daily", 0.5),       # month began with L4 written off (2026-03-31)
    order("e8", at("2026-05-10"), 32000, "electronics", 0.4),  # 2026-04-30: nothing overdue
    order("e9", at(DAY_AFTER), 800000, "luxury", 0.3),
    order("e10", at(DAY_BEFORE), 990000, "luxury", 0.3, person_key=None),   # not linked to anyone
    order("q1", at("2026-06-29"), 5000, "other", 1.0, person_key=Q2),      # LQ was current at 2026-05-31
]


def evidence(source, record_id, phone, name, masked=None):
    return {"source": source, "record_id": record_id, "status": "linked", "has_phone_at_time": phone,
            "is_name_match": name, "is_masked_id_match": masked}


# How many identifiers agreed when entity resolution linked each record. The orders used by P
# (e1, e3, e4, e5, e7, e8) agree on 3, 3, 2, 2, 1, 3; the order after filing (e9) on none.
ENTITY_LINKS = [
    evidence("ecommerce/orders", "e1", True, True, True),
    evidence("ecommerce/orders", "e2", False, False, False),
    evidence("ecommerce/orders", "e3", True, True, True),
    evidence("ecommerce/orders", "e4", True, True, False),
    evidence("ecommerce/orders", "e5", False, True, True),
    evidence("ecommerce/orders", "e6", False, False, False),
    evidence("ecommerce/orders", "e7", False, True, None),
    evidence("ecommerce/orders", "e8", True, True, True),
    evidence("ecommerce/orders", "e9", False, False, False),
    # P's account before filing agrees on one identifier, the one registered in the last second on
    # one; the account registered on the filing day on two, which must not show.
    evidence("social/accounts", "sa_p", False, True),
    evidence("social/accounts", "sa_p_late", True, None),
    evidence("social/accounts", "sa_p_new", True, True),
]


def social_account(account_id, person_key, registered_at, confidence=1.0):
    return {"account_id": account_id, "person_key": person_key, "registered_at": registered_at,
            "match_confidence": confidence}


SOCIAL_ACCOUNTS = [
    social_account("sa_p", P, at("2018-01-01"), 0.95),
    social_account("sa_p_late", P, LAST_SECOND_BEFORE, 0.5),    # registered in the last second: counts
    social_account("sa_p_new", P, FIRST_SECOND_ON, 0.99),        # registered on the filing day: not yet
    *(social_account(f"sa_{i}", k, at("2015-01-01"))
      for i, k in enumerate([R1, R2, R3, R4, F1, F2, F4, C1, key("friend_of_new_account")])),
    social_account("sa_unresolved", None, at("2015-01-01")),
]


def link(src, dst, relation, since, until=None):
    return {"src_account": src, "dst_account": dst, "relation": relation, "since": since, "until": until}


LINKS = [
    link("sa_p", "sa_0", "family", "2020-01-01"),                       # R1
    link("sa_1", "sa_p", "family", FILING_DAY),                         # R2: not yet
    link("sa_p", "sa_2", "family", "2020-01-01", DAY_BEFORE),           # R3: ended
    link("sa_3", "sa_p", "family", "2020-01-01", FILING_DAY),           # R4: ends on the filing day, held
    link("sa_p", "sa_4", "friend", DAY_BEFORE),                         # F1
    link("sa_p", "sa_5", "friend", DAY_AFTER),                          # F2: not yet
    link("sa_p_late", "sa_6", "friend", DAY_BEFORE),                    # F4
    link("sa_p", "sa_7", "colleague", "2020-01-01", DAY_AFTER),         # C1
    link("sa_p", "sa_unresolved", "business", "2020-01-01"),            # an account, no person
    link("sa_p_new", "sa_8", "friend", "2020-01-01"),                   # own account not yet registered
]


def case(case_no, filed, claim):
    return {"case_no": case_no, "court_code": "苏0312", "filed_on": filed, "cause": "other",
            "claim_amount": str(claim), "applicant_kind": "person"}


def party(case_no, role, party_key=P):
    return {"case_no": case_no, "role": role, "party_kind": "person", "party_key": party_key,
            "source_batch_dt": "2026-07-01", "source_file": "parties.csv", "source_row": 1}


def closure(case_no, closed, how):
    return {"case_no": case_no, "closed_on": closed, "closure": how, "amount_recovered": "0"}


CASES = [case("c_same_day", FILING_DAY, 700000), case("c1", DAY_BEFORE, 1000), case("c2", "2024-01-01", 2000),
         case("c3", "2023-01-01", 4000), case("c4", "2022-01-01", 8000), case("c5", "2021-01-01", 16000),
         case("c6", "2025-01-01", 32000), case("c7", FILING_DAY, 600000), case("c8", DAY_AFTER, 800000)]
PARTIES = [party("c_same_day", "respondent"), party("c1", "respondent"), party("c2", "respondent"),
           party("c3", "respondent"), party("c4", "respondent"), party("c5", "respondent"),
           party("c6", "applicant"), party("c7", "applicant"), party("c8", "respondent")]
CLOSURES = [
    closure("c1", FILING_DAY, "executed_in_full"),      # closed on the filing day: still open
    closure("c2", DAY_BEFORE, "terminated_no_assets"),
    closure("c3", "2023-06-01", "settled"),
    closure("c4", DAY_AFTER, "terminated_no_assets"),   # still open at filing
]


def listing(person_key, case_no, listed, delisted=None, ground="refuses_with_ability"):
    return {"person_key": person_key, "case_no": case_no, "listed_on": listed, "delisted_on": delisted,
            "ground": ground}


DISHONEST = [
    listing(P, "d1", DAY_BEFORE, FILING_DAY, "conceals_assets"),   # delisted on the filing day: still listed
    listing(P, "d2", FILING_DAY, ground="obstructs"),              # listed on the filing day: not yet
    listing(P, "d3", "2024-01-01", DAY_BEFORE),                    # delisted the day before
    listing(P, "d4", DAY_AFTER, ground="false_declaration"),
    listing(Q1, "dq", "2026-07-01"),                               # listed on Q1's filing day
    # Contacts of P.
    listing(R1, "x1", "2025-01-01"),
    listing(R4, "x2", DAY_BEFORE),
    listing(C1, "x3", "2024-01-01", FILING_DAY),
    listing(F1, "x4", FILING_DAY),
    listing(F4, "x5", "2024-01-01", DAY_BEFORE),
    listing(R2, "x6", "2020-01-01"),                               # listed, but not a contact at filing
]


@pytest.fixture(scope="module")
def features(spark):
    data = silver(spark, persons=PERSONS, registrations=REGISTRATIONS, accounts=ACCOUNTS,
                  balances=BALANCES, transactions=TRANSACTIONS, loans=LOANS, assets=ASSETS, orders=ORDERS,
                  social_accounts=SOCIAL_ACCOUNTS, links=LINKS, cases=CASES, parties=PARTIES,
                  closures=CLOSURES, dishonest=DISHONEST, entity_links=ENTITY_LINKS)
    spine = spark.createDataFrame(pa.table({"person_key": [k for k, _ in SPINE], "as_of": [d for _, d in SPINE]}))
    rows = person_features(spine, data).collect()
    assert sorted(r["person_key"] for r in rows) == sorted(k for k, _ in SPINE)
    return {r["person_key"]: r.asDict() for r in rows}


def pick(row: dict, *names: str) -> dict:
    return {n: row[n] for n in names}


def test_identity_uses_the_last_version_before_the_filing_day(features):
    f = features[P]
    # The version at 23:59:59 the day before is the latest; the one at 00:00:01 on the filing day
    # (born 1980, 44xxxx, unemployed, no phone) must not show.
    assert pick(f, "education", "occupation", "hukou_province", "has_phone") == {
        "education": "master", "occupation": "self_employed", "hukou_province": "11", "has_phone": 1}
    assert f["age_at_filing"] == 35                                  # born 1990-06-16: 36 only tomorrow
    assert f["years_since_registration_change"] == pytest.approx(730 / 365.25)   # moved 2024-06-15
    assert f["phone_changes_12m"] == 2                               # 2025-06-15 and the last second before


def test_marital_status_and_divorces(features):
    # P: married S1 2015, divorced 2025-06-15 (first day of the 12 months), married S2 the day before.
    # The divorce from S4 and the marriage to S5 on the filing day are not yet registered.
    assert pick(features[P], "marital_status", "divorces_before_filing", "divorced_12m", "days_since_divorce") \
        == {"marital_status": "married", "divorces_before_filing": 1, "divorced_12m": 1,
            "days_since_divorce": 365}
    # M: divorced 2025-06-14 (one day outside the 12 months), remarried on the filing day.
    assert pick(features[M], "marital_status", "divorces_before_filing", "divorced_12m", "days_since_divorce") \
        == {"marital_status": "divorced", "divorces_before_filing": 1, "divorced_12m": 0,
            "days_since_divorce": 366}


def test_deposits_at_the_last_quarter_end_before_filing(features):
    deposit_columns = ("deposit_savings", "deposit_current", "deposit_wealth_management", "deposit_securities",
                       "deposit_total", "deposit_total_4q_ago", "deposit_change_4q")
    # P, filed 2026-06-15: 2026-03-31 (1000+2000+4000+8000) and 2025-03-31 (3000+6000);
    # 2025-12-31 and 2026-06-30 are ignored.
    assert pick(features[P], *deposit_columns) == dict(zip(deposit_columns, (
        1000.0, 2000.0, 4000.0, 8000.0, 15000.0, 9000.0, 6000.0), strict=True))
    assert features[P]["deposit_ratio_4q"] == pytest.approx(15000 / 9000)
    # Q1, filed 2026-07-01: 2026-06-30 is the day before, and 2025-06-30 four quarters earlier.
    assert pick(features[Q1], "deposit_savings", "deposit_total", "deposit_total_4q_ago", "deposit_change_4q") \
        == {"deposit_savings": 1000.0, "deposit_total": 1000.0, "deposit_total_4q_ago": 2000.0,
            "deposit_change_4q": -1000.0}
    assert features[Q1]["deposit_ratio_4q"] == pytest.approx(0.5)
    # Q2, filed on the quarter-end 2026-06-30: that balance is unknown; 2026-03-31 and 2025-03-31 are used.
    assert pick(features[Q2], "deposit_current", "deposit_total", "deposit_total_4q_ago", "deposit_change_4q") \
        == {"deposit_current": 1000.0, "deposit_total": 1000.0, "deposit_total_4q_ago": 3000.0,
            "deposit_change_4q": -2000.0}


def test_no_balance_a_year_before_means_the_change_is_unknown_not_the_whole_balance(features):
    assert pick(features[Q3], "deposit_total", "deposit_total_4q_ago", "deposit_change_4q", "deposit_ratio_4q") \
        == {"deposit_total": 5000.0, "deposit_total_4q_ago": None, "deposit_change_4q": None, "deposit_ratio_4q": None}


def test_accounts_open_and_closed(features):
    # Open: acc1-4 (ICBC, ABC, ICBC, CMB), acc5 opened the day before (BOC), acc7 closed on the filing
    # day (PSBC), acc13 closed after (MYBANK); acc6 opened on the filing day is not. 7 accounts, 6 banks.
    # Closed in 90 days: acc8 (day before), acc9 (day 90); in 12 months also acc10 (day 91) and
    # acc11 (2025-06-15); acc12 (2025-06-14) is older.
    assert pick(features[P], "accounts_open", "banks_open", "accounts_closed_90d", "accounts_closed_12m") \
        == {"accounts_open": 7, "banks_open": 6, "accounts_closed_90d": 2, "accounts_closed_12m": 4}


def test_assets_owned_at_filing(features):
    # a1 acquired the day before; a3 disposed of on the filing day; a5 disposed of after. a2 (acquired
    # on the filing day) and everything disposed of before filing are not owned.
    assert pick(features[P], "real_estate_count", "real_estate_value", "vehicle_count", "vehicle_value",
                "equity_count", "equity_value", "assets_value") == {
        "real_estate_count": 1, "real_estate_value": 1000.0, "vehicle_count": 1, "vehicle_value": 2000.0,
        "equity_count": 1, "equity_value": 8000.0, "assets_value": 11000.0}


def test_income_and_outflow(features):
    # In: the last second before (1000), 2026-03-15 (2000, first day of 3 months), 2026-03-14 (4000),
    # 2025-06-15 (8000, first day of 12 months). Out in 12 months: o1, o3-o10 (o2 on the filing day,
    # o11 before the 12 months): 5000+6000+7000+10000+20000+40000+80000+160000+320000.
    assert pick(features[P], "income_12m", "income_3m", "income_transactions_12m", "outflow_12m") == {
        "income_12m": 15000.0, "income_3m": 3000.0, "income_transactions_12m": 4, "outflow_12m": 648000.0}


def test_loans_from_the_last_snapshot_before_filing(features):
    # Live at the last snapshot before filing: L1 overdue 40000 (its write-off is after filing),
    # L3 current 2000; L2 settled; L4 written off. Worst overdue in 24 months: L3's 45 at 2024-06-30
    # (its 200 at 2024-05-31 is older; L1's 90 is after filing). Issued in 12 months: L2 (2025-06-15),
    # not L4 (2025-06-14) nor L5 (after filing).
    assert pick(features[P], "loans_outstanding", "loans_outstanding_amount", "loans_overdue",
                "max_overdue_days_24m", "loans_written_off", "loans_issued_12m") == {
        "loans_outstanding": 2, "loans_outstanding_amount": 42000.0, "loans_overdue": 1,
        "max_overdue_days_24m": 45, "loans_written_off": 1, "loans_issued_12m": 1}
    # Q2 files on a month-end: that day's snapshot (overdue, 760000) is not known yet.
    assert pick(features[Q2], "loans_outstanding", "loans_outstanding_amount", "loans_overdue",
                "max_overdue_days_24m") == {
        "loans_outstanding": 1, "loans_outstanding_amount": 1000.0, "loans_overdue": 0,
        "max_overdue_days_24m": 0}


def test_prior_cases_and_their_closures(features):
    # As respondent before filing: c1 (day before, closed on the filing day: open), c2 (no assets,
    # closed the day before), c3 (settled), c4 (closed after filing: open), c5 (never closed).
    # Not: c_same_day (filed on the filing day), c8 (after). As applicant: c6, not c7 (filing day).
    assert pick(features[P], "prior_cases", "prior_cases_open", "prior_cases_no_assets", "prior_cases_performed",
                "prior_claims_amount", "days_since_prior_case", "cases_as_applicant",
                "claims_as_applicant_amount") == {
        "prior_cases": 5, "prior_cases_open": 3, "prior_cases_no_assets": 1, "prior_cases_performed": 1,
        "prior_claims_amount": 31000.0, "days_since_prior_case": 1, "cases_as_applicant": 1,
        "claims_as_applicant_amount": 32000.0}


def test_dishonest_list_at_filing(features):
    # d1 listed the day before and delisted on the filing day: on the list. d3 delisted the day
    # before: past. d2 (listed on the filing day) and d4 (after) are not known.
    assert pick(features[P], "dishonest_at_filing", "dishonest_listings", "dishonest_concealment_listings",
                "days_since_dishonest_listing") == {
        "dishonest_at_filing": 1, "dishonest_listings": 2, "dishonest_concealment_listings": 1,
        "days_since_dishonest_listing": 1}
    # Q1 is listed on its filing day: not on the list yet.
    assert pick(features[Q1], "dishonest_at_filing", "dishonest_listings", "days_since_dishonest_listing") \
        == {"dishonest_at_filing": 0, "dishonest_listings": 0, "days_since_dishonest_listing": None}


def test_spending_before_filing(features):
    # In 12 months: e1 luxury 1000, e3 travel 2000, e4 travel 4000, e5 food 8000, e7 daily 16000,
    # e8 electronics 32000 (e2 on the filing day, e6 before the 12 months, e9 after, e10 unlinked).
    # In 3 months (from 2026-03-15): e1, e3, e7, e8. While overdue: e1 (L1 overdue at 2026-05-31)
    # and e7 (L4 written off at 2026-03-31).
    f = features[P]
    assert pick(f, "spend_12m", "spend_3m", "orders_12m", "spend_while_overdue_12m", "days_since_last_order") == {
        "spend_12m": 63000.0, "spend_3m": 51000.0, "orders_12m": 6, "spend_while_overdue_12m": 17000.0,
        "days_since_last_order": 1}
    assert pick(f, "spend_luxury_12m", "spend_luxury_3m", "spend_travel_12m", "spend_travel_3m",
                "spend_food_12m", "spend_food_3m", "spend_daily_12m", "spend_daily_3m",
                "spend_electronics_12m", "spend_electronics_3m", "spend_other_12m") == {
        "spend_luxury_12m": 1000.0, "spend_luxury_3m": 1000.0, "spend_travel_12m": 6000.0,
        "spend_travel_3m": 2000.0, "spend_food_12m": 8000.0, "spend_food_3m": 0.0, "spend_daily_12m": 16000.0,
        "spend_daily_3m": 16000.0, "spend_electronics_12m": 32000.0, "spend_electronics_3m": 32000.0,
        "spend_other_12m": 0.0}
    assert f["orders_link_evidence"] == pytest.approx((3 + 3 + 2 + 2 + 1 + 3) / 6)
    assert f["luxury_share_12m"] == pytest.approx(1000 / 63000)
    assert f["travel_share_12m"] == pytest.approx(6000 / 63000)
    assert f["spend_to_income_12m"] == pytest.approx(63000 / 15000)
    # Q2's order on 2026-06-29 follows a current snapshot; the overdue one is on its filing day.
    assert pick(features[Q2], "spend_12m", "spend_while_overdue_12m") == {
        "spend_12m": 5000.0, "spend_while_overdue_12m": 0.0}


def test_contacts_linked_at_filing(features):
    # Family: R1, R4 (link ends on the filing day); not R2 (from the filing day), R3 (ended the day
    # before). Friends: F1 (since the day before), F4 (through the account registered in the last
    # second before); not F2 (since after), nor the friend of the account registered on the filing
    # day. Colleague: C1. Business: one unresolved account. Own link evidence: 1 (both accounts
    # before filing), not the new account's 2.
    # On the list at filing: R1, R4 (listed the day before), C1 (delisted on the filing day);
    # not F1 (listed on the filing day) nor F4 (delisted the day before).
    assert pick(features[P], "contacts_family", "contacts_friend", "contacts_colleague", "contacts_business",
                "contacts_total", "contacts_dishonest", "family_dishonest", "social_link_evidence") == {
        "contacts_family": 2, "contacts_friend": 2, "contacts_colleague": 1, "contacts_business": 1,
        "contacts_total": 6, "contacts_dishonest": 3, "family_dishonest": 2, "social_link_evidence": 1}


def test_kin_assets(features):
    # Kin at filing: S1 (ex-spouse), S2 (married the day before), R1, R4 (family links held).
    # Owned at filing: S1's k1 3000 (k11 disposed of the day before), S2's k2 5000 (not k3, acquired
    # on the filing day), R1's k4 7000 (disposed of on the filing day), R4's k5 9000.
    # Not kin: S3, S4 (divorce on the filing day), S5, R2, R3.
    assert features[P]["kin_assets_value"] == 24000.0


def test_disposals_before_filing(features):
    # In 6 months (from 2025-12-15): a4, a6, a10, a11, a12, a13; in 12 months also a7 and a8.
    # Spouse or ex: a4 (S1) + a13 (S2); relative: a6 (R1); other persons: a7 (O1), a10 (S4),
    # a11 (S5), a12 (R2), none of them kin at filing; a8 went to no person.
    assert pick(features[P], "assets_disposed_6m", "assets_disposed_12m", "disposed_value_12m",
                "disposed_to_spouse_value_12m", "disposed_to_relative_value_12m",
                "disposed_to_other_person_value_12m") == {
        "assets_disposed_6m": 6, "assets_disposed_12m": 8, "disposed_value_12m": 2036000.0,
        "disposed_to_spouse_value_12m": 1028000.0, "disposed_to_relative_value_12m": 16000.0,
        "disposed_to_other_person_value_12m": 928000.0}


def test_transfers_to_persons_and_kin_in_90_days(features):
    # To persons in 90 days: o1 (last second before), o3 (day 90), o5, o7, o8, o9, o10; not o2 (first
    # second of the filing day), o4 (day 91), o6 (no person). Kin: o1 (S1), o3 (R4), o10 (R1).
    assert pick(features[P], "transfers_to_persons_90d", "transfers_to_persons_count_90d",
                "transfers_to_kin_90d") == {
        "transfers_to_persons_90d": 621000.0, "transfers_to_persons_count_90d": 7,
        "transfers_to_kin_90d": 331000.0}


def test_a_person_without_records_takes_the_dictionary_fill(features):
    f = features[NOBODY]
    expected = {d.name: d.fill for d in load_dictionary() if d.agg != "case"}
    # Computed after the fills, from spend 0 over the income floor, so 0 rather than null.
    expected["spend_to_income_12m"] = 0.0
    assert {name: f[name] for name in expected} == expected
