"""The night's scored rows as the export receives them: their columns and the checks on them."""

from __future__ import annotations

import pandas as pd

from models.metrics import BANDS

__all__ = ["INPUT_COLUMNS", "checked", "court_codes_of"]


INPUT_COLUMNS = ["case_no", "court_code", "filed_on", "respondent_names", "masked_ids",
                 "claim_amount", "probability", "band", "reasons"]


def checked(rows: pd.DataFrame, columns: list[str] = INPUT_COLUMNS) -> pd.DataFrame:
    """The input frame, or a ValueError naming what is wrong with it."""
    missing = [c for c in columns if c not in rows.columns]
    if missing and len(rows):
        raise ValueError(f"scored rows lack columns: {missing}")
    if missing:  # a night without cases may arrive as a bare DataFrame()
        rows = rows.reindex(columns=[*rows.columns, *missing])
    bad_bands = sorted({str(b) for b in rows["band"] if b not in BANDS})
    if bad_bands:
        raise ValueError(f"band must be one of {list(BANDS)}; got {bad_bands}")
    return rows


def court_codes_of(rows: pd.DataFrame) -> pd.Series:
    is_bad = ~rows["court_code"].map(lambda code: isinstance(code, str))
    if is_bad.any():
        raise ValueError(f"court_code missing or not text for cases {list(rows.loc[is_bad, 'case_no'])[:5]}")
    return rows["court_code"].astype(object)
