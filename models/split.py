"""Out-of-time splits: never at random.

The labelled cases are ordered by filing date and cut into four consecutive
periods: train | early stopping | calibration | test (out of time). The test
window is the most recent `test_months` of filings, calibration the
`calibration_months` before it, and early stopping the last
`early_stopping_share` of what is left for training.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Split", "time_split"]

FOLDS = ("train", "early_stopping", "calibration", "test")


@dataclass(frozen=True)
class Split:
    fold: pd.Series                           # one of FOLDS per row, aligned with the frame
    bounds: dict[str, tuple[dt.date, dt.date]]  # first and last filing date per fold

    def mask(self, name: str) -> np.ndarray:
        return (self.fold == name).to_numpy()


def _months_before(day: dt.date, months: int) -> dt.date:
    return (pd.Timestamp(day) - pd.DateOffset(months=months)).date()


def time_split(filed_on: pd.Series, test_months: int, calibration_months: int,
               early_stopping_share: float) -> Split:
    """Assign every row (by its filing date) to a fold; the folds follow each other in time."""
    days = pd.to_datetime(filed_on).dt.date
    if days.empty:
        raise ValueError("no labelled cases to split")
    last = days.max()
    test_start = _months_before(last, test_months)
    calibration_start = _months_before(test_start, calibration_months)
    fold = pd.Series("train", index=filed_on.index, dtype=object)
    fold[days > test_start] = "test"
    fold[(days > calibration_start) & (days <= test_start)] = "calibration"
    training = days[fold == "train"]
    if len(training) == 0:
        raise ValueError(f"nothing left to train on before {calibration_start}: fewer test or calibration months")
    cut = training.sort_values().iloc[int(len(training) * (1 - early_stopping_share))]
    fold[(fold == "train") & (days >= cut)] = "early_stopping"
    bounds = {name: (days[fold == name].min(), days[fold == name].max()) for name in FOLDS if (fold == name).any()}
    missing = [name for name in FOLDS if name not in bounds]
    if missing:
        raise ValueError(f"empty fold(s) {missing}: the labelled history is too short for the configured windows")
    return Split(fold, bounds)
