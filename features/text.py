"""Numbers as a clerk reads them, in one place: the risk files' reasons and the asset watch's leads.

`yuan_text` is plain Python, run by the reasons on the executors' pandas batches;
`yuan` is the same function over a Spark column (a vectorised pandas UDF).
"""

from __future__ import annotations

import math

import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

__all__ = ["number_text", "yuan_text", "yuan"]


def number_text(x: float, decimals: int = 1) -> str:
    """At most `decimals` decimals, without trailing zeros: 3.0 -> "3", 3.46 -> "3.5"."""
    text = f"{round(x, decimals) + 0.0:.{decimals}f}"   # + 0.0 turns -0.0 into 0.0
    return text.rstrip("0").rstrip(".") if "." in text else text


def yuan_text(x: float) -> str:
    """"3.2万元" from 10,000 CNY up (rounded to whole yuan first), else whole yuan: "8500元"."""
    # Whole yuan, half away from zero as a clerk rounds (Python's round() would give 850.5 -> 850);
    # rounded before the threshold test, so 9,999.6 reads "1万元", not "10000元".
    whole = int(math.copysign(math.floor(abs(x) + 0.5), x))
    if abs(whole) >= 10_000:
        return f"{number_text(x / 10_000)}万元"
    return f"{whole}元"


@F.pandas_udf(T.StringType())   # a type, not a DDL string: parsing one needs a session
def _yuan_series(amounts: pd.Series) -> pd.Series:
    return amounts.map(lambda x: None if pd.isna(x) else yuan_text(float(x)))


def yuan(amount: Column) -> Column:
    """`yuan_text` of a Spark column; null stays null."""
    return _yuan_series(amount.cast("double"))
