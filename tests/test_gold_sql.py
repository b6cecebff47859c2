"""The benchmark's SQL comparator: DuckDB and Spark SQL agree, and only records from before filing count."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from benchmarks.gold_sql import CORE_COLUMNS, CORE_SQL, duckdb_core, spark_core, spark_views

D = dt.date
MONEY = pa.decimal128(18, 2)
BEIJING_AS_UTC = pa.timestamp("us", tz="UTC")


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


# Case C1 is filed on 2024-04-15 against P1 and P2 (and a respondent whose key is null). Each source
# holds, next to records that count, one dated on or after the filing day, which must not.
SILVER = {
    "court_cases": ({"case_no": pa.string(), "filed_on": pa.date32(), "claim_amount": MONEY}, [
        ("C1", D(2024, 4, 15), Decimal("100000.00")),
        ("C0", D(2023, 6, 1), Decimal("5000.00")),       # P1's earlier case
        ("C9", D(2024, 4, 20), Decimal("7000.00")),      # P1's later case: not prior to C1
        ("CN", D(2024, 5, 1), Decimal("10.00")),         # no respondent on record
    ]),
    "court_parties": ({"case_no": pa.string(), "role": pa.string(), "party_key": pa.string()}, [
        ("C1", "applicant", "A1"), ("C1", "respondent", "P1"), ("C1", "respondent", "P2"),
        ("C1", "respondent", None), ("C0", "applicant", "A2"), ("C0", "respondent", "P1"),
        ("C9", "respondent", "P1"), ("CN", "applicant", "A1"),
    ]),
    "court_closures": ({"case_no": pa.string(), "closed_on": pa.date32(), "closure": pa.string()}, [
        ("C0", D(2024, 4, 15), "executed_in_full"),      # closed on C1's filing day: still open then
    ]),
    "court_dishonest": ({"person_key": pa.string(), "listed_on": pa.date32(), "delisted_on": pa.date32()}, [
        ("P1", D(2023, 7, 1), None),
        ("P2", D(2024, 4, 15), None),                    # listed on the filing day
    ]),
    "finance_accounts": ({"account_id": pa.string(), "owner_key": pa.string(), "account_type": pa.string(),
                          "opened_on": pa.date32(), "closed_on": pa.date32()}, [
        ("AC1", "P1", "savings", D(2020, 1, 1), None),
        ("AC3", "P1", "current", D(2020, 1, 1), D(2024, 4, 15)),   # closed on the filing day: still open
        ("AC2", "P2", "current", D(2024, 4, 16), None),            # opened after filing
    ]),
    "finance_balances": ({"account_id": pa.string(), "as_of": pa.date32(), "balance": MONEY}, [
        ("AC1", D(2024, 3, 31), Decimal("1000.50")), ("AC1", D(2023, 12, 31), Decimal("900.00")),
        ("AC3", D(2024, 3, 31), Decimal("200.00")),
    ]),
    "finance_transactions": ({"account_id": pa.string(), "booked_at": BEIJING_AS_UTC, "amount": MONEY,
                              "direction": pa.string()}, [
        ("AC1", utc("2024-04-10T02:00:00+00:00"), Decimal("5000.00"), "in"),
        ("AC1", utc("2023-04-15T02:00:00+00:00"), Decimal("1500.00"), "in"),    # first day of the 12 months
        ("AC1", utc("2023-04-14T02:00:00+00:00"), Decimal("8000.00"), "in"),    # a day too early
        ("AC1", utc("2024-04-14T17:30:00+00:00"), Decimal("7000.00"), "in"),    # 01:30 on the filing day in Beijing
        ("AC1", utc("2024-01-10T02:00:00+00:00"), Decimal("6000.00"), "out"),
    ]),
    "finance_loans": ({"loan_id": pa.string(), "borrower_key": pa.string(), "as_of": pa.date32(),
                       "outstanding": MONEY, "overdue_days": pa.int32(), "status": pa.string()}, [
        ("L1", "P1", D(2024, 2, 29), Decimal("300.00"), 30, "overdue"),
        ("L1", "P1", D(2024, 3, 31), Decimal("250.00"), 0, "current"),
        ("L1", "P1", D(2024, 4, 30), Decimal("250.00"), 90, "written_off"),    # after filing
        ("L2", "P2", D(2024, 3, 31), Decimal("0.00"), 0, "settled"),
    ]),
    "finance_assets": ({"owner_key": pa.string(), "asset_type": pa.string(), "acquired_on": pa.date32(),
                        "disposed_on": pa.date32(), "declared_value": MONEY}, [
        ("P1", "real_estate", D(2019, 1, 1), None, Decimal("500000.00")),
        ("P1", "vehicle", D(2024, 4, 15), None, Decimal("90000.00")),          # acquired on the filing day
        ("P2", "vehicle", D(2020, 1, 1), D(2024, 4, 15), Decimal("80000.00")),  # disposed of on it: still held
        ("P2", "equity", D(2020, 1, 1), D(2024, 4, 14), Decimal("30000.00")),
    ]),
    "ecommerce_orders": ({"order_id": pa.string(), "person_key": pa.string(), "ordered_at": BEIJING_AS_UTC,
                          "amount": MONEY}, [
        ("O1", "P1", utc("2024-04-01T04:00:00+00:00"), Decimal("100.00")),
        ("O2", "P1", utc("2023-12-01T04:00:00+00:00"), Decimal("50.00")),
        ("O3", "P1", utc("2024-04-15T02:00:00+00:00"), Decimal("999.00")),    # on the filing day
        ("O4", None, utc("2024-04-01T04:00:00+00:00"), Decimal("77.00")),     # not linked to anyone
    ]),
}

EXPECTED_C1 = {
    "n_respondents": 2, "deposit_total": 1200.5, "accounts_open": 2, "real_estate_count": 1,
    "assets_value": 580000.0, "income_12m": 6500.0, "income_3m": 5000.0, "income_transactions_12m": 2,
    "outflow_12m": 6000.0, "loans_outstanding": 1, "loans_outstanding_amount": 250.0, "max_overdue_days_24m": 30,
    "prior_cases": 1, "prior_cases_open": 1, "prior_claims_amount": 5000.0, "dishonest_at_filing": 1,
    "dishonest_listings": 1, "spend_12m": 150.0, "spend_3m": 100.0, "orders_12m": 2,
}


@pytest.fixture
def silver_dir(tmp_path) -> str:
    for name, (types, rows) in SILVER.items():
        schema = pa.schema(list(types.items()))
        write_deltalake(str(tmp_path / name), pa.Table.from_pylist([dict(zip(types, row)) for row in rows], schema))
    return str(tmp_path)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.sort_values("case_no").reset_index(drop=True)
    return frame.astype({c: "float64" for c in CORE_COLUMNS})


def test_duckdb_and_spark_agree_and_count_only_records_before_filing(spark, silver_dir, tmp_path):
    out = tmp_path / "core.parquet"
    assert duckdb_core(silver_dir, str(out))["rows"] == 4
    duck = _sorted(pd.read_parquet(out))

    spark_views(spark, silver_dir)
    on_spark = _sorted(spark.sql(CORE_SQL).toPandas())
    pd.testing.assert_frame_equal(duck, on_spark, check_exact=False, rtol=1e-9)
    assert spark_core(spark, silver_dir)["rows"] == 4

    by_case = duck.set_index("case_no")
    assert by_case.loc["C1"].to_dict() == pytest.approx(EXPECTED_C1)
    # A case without respondents has no person features (null), as in gold.
    assert by_case.loc["CN", "n_respondents"] == 0
    assert by_case.loc["CN"].drop("n_respondents").isna().all()
