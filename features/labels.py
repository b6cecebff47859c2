"""The label of each case, exactly as contract section 4 defines it.

Evaluated at a data as-of date T (the run date): only closures with
`closed_on <= T` are known. With d = filed_on and H = 180 days:

    a known `transferred` closure                     -> excluded
    a known performed closure with closed_on <= d + H -> 0 (labelled)
    a known terminated closure with closed_on <= d + H -> 1 (labelled)
    no closure by d + H, and T >= d + H                -> 1 (labelled)
    otherwise                                          -> censored

Censored and excluded cases carry a null label: they are never trained on,
evaluated on, or counted as 0.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

__all__ = ["HORIZON_DAYS", "PERFORMED", "NO_ASSETS", "TERMINATED", "labels", "LABEL_COLUMNS"]

HORIZON_DAYS = 180
# Closure codes (contract: court/closures.closure). Performed: the debt was paid; terminated: the case
# ended unpaid, for lack of assets (终本) or otherwise.
PERFORMED = ("executed_in_full", "settled")
NO_ASSETS = ("terminated_no_assets",)
TERMINATED = (*NO_ASSETS, "terminated_other")
LABEL_COLUMNS = ("label", "label_status", "label_as_of")


def labels(cases: DataFrame, closures: DataFrame, run_date: dt.date) -> DataFrame:
    """(case_no, label, label_status, label_as_of) for `cases` (case_no, filed_on)."""
    t = F.lit(run_date)
    known = closures.where(F.col("closed_on") <= t).select("case_no", "closure", "closed_on")
    horizon_end = F.date_add("filed_on", HORIZON_DAYS)
    in_horizon = F.col("closed_on").isNotNull() & (F.col("closed_on") <= horizon_end)
    status = (F.when(F.col("closure") == "transferred", "excluded")
              .when(in_horizon & F.col("closure").isin(*PERFORMED, *TERMINATED), "labelled")
              .when(t >= horizon_end, "labelled")
              .otherwise("censored"))
    label = F.when(status != "labelled", None) \
        .when(in_horizon & F.col("closure").isin(*PERFORMED), 0).otherwise(1)
    out = cases.select("case_no", "filed_on").join(known, "case_no", "left")
    return out.select("case_no", label.cast("int").alias("label"), status.alias("label_status"),
                      t.alias("label_as_of"))
