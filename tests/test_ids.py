"""GB 11643-1999 identity numbers, checked with the contract's worked example."""

import datetime as dt

import pytest
from pyspark.sql import functions as F

from pipelines.bronze.rules import id_is_valid, normalise_id, uscc_is_valid

AS_OF = dt.date(2025, 7, 1)
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def with_check(body: str) -> str:
    """Append the correct check character, so only the rule under test can fail."""
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS)) % 11]


def _valid(spark, values):
    df = spark.createDataFrame([(v,) for v in values], "id string")
    rows = df.select(id_is_valid(normalise_id(F.col("id")), F.lit(AS_OF)).alias("ok")).collect()
    return [r.ok for r in rows]


@pytest.mark.parametrize("value, expected", [
    ("11010519491231002X", True),       # the contract's worked example
    ("11010519491231002x", True),       # lower-case x is accepted and normalised
    (" 11010519491231002X ", True),     # surrounding blanks are not part of the number
    ("110105194912310021", False),      # wrong check character
    ("11010519491231002", False),       # 17 characters
    ("11010519491231002XX", False),     # 19 characters
    ("1101051949123100AX", False),      # letter among the digits
    (with_check("11010519490230002"), False),   # 30 February is no birth date
    (with_check("11010520300101001"), False),   # born after the batch date
    (with_check("11010518000101001"), False),   # born before 1900
    (with_check("32031219851107123"), True),    # an ordinary valid number
])
def test_id_validity(spark, value, expected):
    assert _valid(spark, [value]) == [expected]


def test_check_character_is_computed_not_guessed(spark):
    # Every possible check character for one body: exactly one is valid.
    body = "11010519491231002"
    results = _valid(spark, [body + c for c in "0123456789X"])
    assert results.count(True) == 1
    assert results[10] is True            # ...and it is X


def test_null_id_is_neither_valid_nor_invalid(spark):
    assert _valid(spark, [None]) == [None]


def test_unified_social_credit_code_shape(spark):
    df = spark.createDataFrame([("91320300MA1XXXXX0Y",), ("9132030",), ("91320300ma1xxxxx0y",)], "c string")
    assert [r.ok for r in df.select(uscc_is_valid(F.col("c")).alias("ok")).collect()] == [True, False, False]
