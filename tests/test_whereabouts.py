"""Contact leads for service: phones by recency with their confidence, regions, the last activity, and
nothing dated after the run date. Tiny inline frames; the export on the sample is in test_sample_e2e.py."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from features.whereabouts import contact_leads

T = dt.date(2026, 11, 6)
P, Q = "p".ljust(64, "0"), "q".ljust(64, "0")
LEAD_SCHEMA = ("person_key string, lead_type string, rank int, content string, sources array<string>, seen_on date, "
               "confidence double")


def frame(spark, ddl, rows):
    return spark.createDataFrame(rows, ddl)


def ts(text):
    """Beijing wall-clock time, the session zone (as the contract's timestamps are)."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Asia/Shanghai"))


PHONES = [  # (person_key, phone, seen_at, source, confidence)
    (P, "13800000001", ts("2024-01-01 10:00:00"), "population/persons", 1.0),     # the registry's old number
    (P, "13800000002", ts("2026-03-01 10:00:00"), "population/persons", 1.0),     # ...and its newer one
    (P, "13900000003", ts("2026-10-30 21:00:00"), "ecommerce/orders", 0.91),      # newest: an order
    (P, "13900000003", ts("2026-05-01 21:00:00"), "social/accounts", 0.97),       # ...seen on a social account too
    (P, "13700000004", ts("2026-09-01 09:00:00"), "ecommerce/orders", 0.62),
    (P, "13600000005", ts("2026-11-07 00:00:01"), "ecommerce/orders", 0.99),      # after T
    (Q, "13500000006", ts("2025-01-01 10:00:00"), "population/persons", 1.0),
    (Q, None, ts("2026-01-01 10:00:00"), "social/accounts", 0.9),                 # no phone on that record
]
ORDERS = [  # (person_key, ship_region, ordered_at, match_confidence)
    (P, "320312", ts("2026-10-01 10:00:00"), 0.9), (P, "320312", ts("2026-10-20 10:00:00"), 0.8),
    (P, "110105", ts("2026-10-30 10:00:00"), 0.95),
    (P, "110105", ts("2026-07-01 10:00:00"), 0.95),          # more than 90 days before T
    (P, "310101", ts("2026-11-07 10:00:00"), 0.95), (P, "310101", ts("2026-11-08 10:00:00"), 0.95),  # after T
]
REGISTRY = [  # (person_key, hukou_region, valid_from)
    (P, "320303", ts("2024-01-01 10:00:00")), (P, "320312", ts("2026-03-01 10:00:00")),
    (P, "999999", ts("2026-11-10 10:00:00")),                # a version after T
    (Q, "320311", ts("2025-01-01 10:00:00")),
]
ACTIVITIES = [  # (person_key, seen_at, what, source, confidence)
    (P, ts("2026-10-30 10:00:00"), "2026-10-30 在淘宝下单", "ecommerce/orders", 0.95),
    (P, ts("2026-11-02 15:00:00"), "2026-11-02 银行交易（转入，mobile）", "finance/transactions", 1.0),
    (P, ts("2026-11-09 15:00:00"), "2026-11-09 银行交易（转出，atm）", "finance/transactions", 1.0),   # after T
    (Q, ts("2025-01-01 10:00:00"), "2025-01-01 户籍信息更新", "population/persons", 1.0),
]


@pytest.fixture(scope="module")
def leads(spark):
    keys = spark.createDataFrame([(P,), (Q,)], "person_key string")
    out = contact_leads(
        keys,
        phones=frame(spark, "person_key string, phone string, seen_at timestamp, source string, confidence double", PHONES),
        orders=frame(spark, "person_key string, ship_region string, ordered_at timestamp, match_confidence double", ORDERS),
        registry=frame(spark, "person_key string, hukou_region string, valid_from timestamp", REGISTRY),
        activities=frame(spark, "person_key string, seen_at timestamp, what string, source string, confidence double",
                         ACTIVITIES),
        run_date=T, limit=3, region_days=90).cache()
    yield out
    out.unpersist()


def of_type(leads, *lead_types):
    return leads.where(F.col("lead_type").isin(*lead_types))


def test_phones_come_most_recent_first_with_their_sources_and_confidence(spark, leads):
    expected = spark.createDataFrame([
        (P, "phone", 1, "13900000003", ["ecommerce/orders", "social/accounts"], dt.date(2026, 10, 30), 0.97),
        (P, "phone", 2, "13700000004", ["ecommerce/orders"], dt.date(2026, 9, 1), 0.62),
        (P, "phone", 3, "13800000002", ["population/persons"], dt.date(2026, 3, 1), 1.0),
        # the oldest (13800000001) falls outside the limit of 3
        (Q, "phone", 1, "13500000006", ["population/persons"], dt.date(2025, 1, 1), 1.0),
    ], LEAD_SCHEMA)
    assertDataFrameEqual(of_type(leads, "phone"), expected, rtol=0, atol=0)


def test_nothing_after_the_run_date_is_used(leads):
    every = leads.collect()
    first = {(r["person_key"], r["lead_type"]): r for r in every if r["rank"] == 1}
    assert "13600000005" not in {r["content"] for r in every}
    assert all(r["seen_on"] <= T for r in every)
    assert first[(P, "hukou_region")]["content"] == "320312"
    assert "310101" not in first[(P, "ship_region")]["content"]


def test_the_likely_residence_is_the_most_frequent_recent_shipping_region_and_the_household_region(spark, leads):
    expected = spark.createDataFrame([
        (P, "ship_region", 1, "320312（近90天 3 单中 2 单寄往此地）",   # 2 of 3 orders in 90 days
         ["ecommerce/orders"], dt.date(2026, 10, 20), 0.9),
        (P, "hukou_region", 1, "320312", ["population/persons"], dt.date(2026, 3, 1), 1.0),
        (Q, "hukou_region", 1, "320311", ["population/persons"], dt.date(2025, 1, 1), 1.0),
        # and no (Q, "ship_region"): no orders, no guess
    ], LEAD_SCHEMA)
    assertDataFrameEqual(of_type(leads, "ship_region", "hukou_region"), expected, rtol=0, atol=0)


def test_the_last_activity_is_the_latest_seen_by_t(spark, leads):
    expected = spark.createDataFrame([
        (P, "last_activity", 1, "2026-11-02 银行交易（转入，mobile）", ["finance/transactions"], dt.date(2026, 11, 2), 1.0),
        (Q, "last_activity", 1, "2025-01-01 户籍信息更新", ["population/persons"], dt.date(2025, 1, 1), 1.0),
    ], LEAD_SCHEMA)
    assertDataFrameEqual(of_type(leads, "last_activity"), expected, rtol=0, atol=0)
