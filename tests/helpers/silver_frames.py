"""Tiny inline silver tables for gold tests.

`silver(spark, persons=[{...}], assets=[{...}])` returns a `features.profile.Silver`
whose tables hold exactly the given rows; every other table is empty. A row
names only the columns it cares about; the rest are null, and string dates
and timestamps are converted to the silver types (timestamps are Beijing
time, as the contract's are).

Frames are handed to Spark through Arrow, as local relations: the optimiser
sees they are tiny, and no Python worker runs when they are scanned.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pyarrow as pa
from pyspark.sql import SparkSession
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema

from features.profile import Silver

# The columns gold reads, with the silver types (money is a decimal in silver).
SCHEMAS = {
    "persons": "person_key string, valid_from timestamp, birth_date date, hukou_region string, education string, "
               "occupation string, has_phone boolean, is_region_change boolean, is_phone_change boolean",
    "registrations": "registration_id string, kind string, spouse_a_key string, spouse_b_key string, "
                     "registered_on date",
    "accounts": "account_id string, owner_key string, bank_code string, account_type string, opened_on date, "
                "closed_on date",
    "balances": "account_id string, as_of date, balance decimal(18,2)",
    "transactions": "txn_id string, account_id string, booked_at timestamp, amount decimal(18,2), direction string, "
                    "counterparty_key string, channel string",
    "loans": "loan_id string, borrower_key string, principal decimal(18,2), issued_on date, maturity_on date, "
             "as_of date, outstanding decimal(18,2), overdue_days int, status string",
    "assets": "asset_id string, owner_key string, asset_type string, region string, acquired_on date, "
              "disposed_on date, disposed_to_key string, declared_value decimal(18,2)",
    "orders": "order_id string, person_key string, match_confidence double, ordered_at timestamp, "
              "amount decimal(18,2), category string, ship_region string",
    "social_accounts": "account_id string, person_key string, match_confidence double, registered_at timestamp",
    "links": "src_account string, dst_account string, relation string, since date, until date",
    "cases": "case_no string, court_code string, filed_on date, cause string, claim_amount decimal(18,2), "
             "applicant_kind string",
    "parties": "case_no string, role string, party_kind string, party_key string, source_batch_dt date, "
               "source_file string, source_row long",
    "closures": "case_no string, closed_on date, closure string, amount_recovered decimal(18,2)",
    "dishonest": "person_key string, case_no string, listed_on date, delisted_on date, ground string",
    "entity_links": "source string, record_id string, status string, has_phone_at_time boolean, "
                    "is_name_match boolean, is_masked_id_match boolean",
}


BEIJING = ZoneInfo("Asia/Shanghai")


def _convert(value, data_type: T.DataType):
    if value is None or not isinstance(value, str):
        return value
    if isinstance(data_type, T.DateType):
        return dt.date.fromisoformat(value)
    if isinstance(data_type, T.TimestampType):
        return dt.datetime.fromisoformat(value if len(value) > 10 else f"{value} 12:00:00").replace(tzinfo=BEIJING)
    if isinstance(data_type, T.DecimalType):
        return Decimal(value)
    return value


def frame(spark: SparkSession, table: str, rows: list[dict]):
    schema = T._parse_datatype_string(SCHEMAS[table])  # noqa: SLF001 - DDL -> StructType
    unknown = {k for r in rows for k in r} - set(schema.fieldNames())
    if unknown:
        raise KeyError(f"{table}: no silver column(s) {sorted(unknown)}")
    data = [{f.name: _convert(r.get(f.name), f.dataType) for f in schema.fields} for r in rows]
    return spark.createDataFrame(pa.Table.from_pylist(data, schema=to_arrow_schema(schema)))


def silver(spark: SparkSession, **tables: list[dict]) -> Silver:
    unknown = set(tables) - set(SCHEMAS)
    if unknown:
        raise KeyError(f"no silver table(s) {sorted(unknown)}")
    return Silver(**{name: frame(spark, name, tables.get(name, [])) for name in SCHEMAS})
