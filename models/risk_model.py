"""The execution-risk model: LightGBM on the gold features, then a calibrator.

`RiskModel` is what gets registered: it takes the gold feature columns as
they are in `case_features` (categoricals as strings) and returns the
calibrated probability that the case is not performed within 180 days.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

__all__ = ["RiskModel", "design_matrix", "fit_booster", "fit_calibrator", "refit", "search"]


def design_matrix(frame: pd.DataFrame, features: list[str], categorical: list[str],
                  levels: dict[str, list[str]] | None = None) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Gold columns -> LightGBM input: numbers as float, categoricals with fixed levels.

    The levels come from the training data; at scoring time they are reused, so
    a category unseen in training becomes missing instead of shifting the codes.
    """
    levels = dict(levels or {})
    columns = {}
    for name in features:
        col = frame[name] if name in frame else pd.Series(np.nan, index=frame.index)
        if name in categorical:
            values = col.astype("object").where(col.notna(), None)
            known = levels.setdefault(name, sorted({v for v in values if v is not None}))
            columns[name] = pd.Categorical(values, categories=known)
        else:
            columns[name] = pd.to_numeric(col, errors="coerce").astype("float64")
    return pd.DataFrame(columns, index=frame.index), levels


def _params(base: dict, monotone: dict[str, int], names: list[str], seed: int) -> dict:
    return {"objective": "binary", "metric": "auc", "verbosity": -1, "seed": seed, "deterministic": True,
            "force_row_wise": True, "num_threads": 1,
            "monotone_constraints": [monotone.get(n, 0) for n in names],
            "monotone_constraints_method": "advanced", **base}


def fit_booster(X: pd.DataFrame, y: np.ndarray, X_es: pd.DataFrame, y_es: np.ndarray, params: dict,
                monotone: dict[str, int], seed: int, rounds: int = 2000, patience: int = 50) -> lgb.Booster:
    """One LightGBM fit with early stopping on the time-ordered early-stopping fold."""
    names = list(X.columns)
    train = lgb.Dataset(X, y, categorical_feature="auto", free_raw_data=False)
    valid = lgb.Dataset(X_es, y_es, reference=train)
    return lgb.train(_params(params, monotone, names, seed), train, num_boost_round=rounds, valid_sets=[valid],
                     callbacks=[lgb.early_stopping(patience, verbose=False)])


def search(X, y, X_es, y_es, grid: dict[str, list], monotone: dict[str, int], seed: int):
    """A small grid search; each candidate's early-stopping AUC decides. Returns (best, trials)."""
    from sklearn.metrics import roc_auc_score

    trials = []
    keys = sorted(grid)
    for values in itertools.product(*(grid[k] for k in keys)):
        params = dict(zip(keys, values, strict=True))
        booster = fit_booster(X, y, X_es, y_es, params, monotone, seed)
        auc = roc_auc_score(y_es, booster.predict(X_es, num_iteration=booster.best_iteration))
        trials.append({"params": params, "auc": float(auc), "rounds": int(booster.best_iteration),
                       "booster": booster})
    best = max(trials, key=lambda t: (t["auc"], -t["rounds"]))
    return best, trials


def refit(X: pd.DataFrame, y: np.ndarray, params: dict, rounds: int, monotone: dict[str, int], seed: int,
          scale: float = 1.0) -> lgb.Booster:
    """The chosen parameters refitted on training plus early-stopping folds, with the early-stopped
    number of trees scaled by how much more data there is (the most recent filings then count too)."""
    train = lgb.Dataset(X, y, categorical_feature="auto")
    return lgb.train(_params(params, monotone, list(X.columns), seed), train,
                     num_boost_round=max(1, round(rounds * scale)))


def fit_calibrator(raw_scores: np.ndarray, y: np.ndarray, method: str):
    """Map raw log-odds to probabilities on the calibration fold: Platt (sigmoid) or isotonic."""
    if method == "isotonic":
        return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw_scores, y)
    return LogisticRegression(C=1e6).fit(raw_scores.reshape(-1, 1), y)


@dataclass
class RiskModel:
    booster: lgb.Booster
    calibrator: object
    features: list[str]
    categorical: list[str]
    levels: dict[str, list[str]] = field(default_factory=dict)

    def matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        X, _ = design_matrix(frame, self.features, self.categorical, self.levels)
        return X

    def raw_score(self, frame: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(self.matrix(frame), raw_score=True)

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Raw log-odds (LightGBM's, or the sum of a row's TreeSHAP contributions) -> probability."""
        raw = np.asarray(raw, dtype=float)
        if isinstance(self.calibrator, IsotonicRegression):
            return self.calibrator.predict(raw)
        return self.calibrator.predict_proba(raw.reshape(-1, 1))[:, 1]

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.calibrate(self.raw_score(frame))
