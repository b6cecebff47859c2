"""How good the execution-risk scores are: discrimination, calibration, deciles, slices.

Pure numpy/pandas: arrays or frames in, numbers or small tables out. Nothing
here reads storage, logs to MLflow or knows about Spark; the training job does
that with what these functions return.

Bins are by rank, never by score value, so a score with many ties (a shallow
booster, a constant baseline) still gives ten equal-size bins. Cases tied in
score across a bin boundary share their positives in proportion to how many of
them fall on each side: that is the expectation under a random tie-break, and
it makes the tables independent of row order (a file sorted by label would
otherwise put the tied positives in the riskiest bin).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = [
    "BANDS", "band_of", "evaluate", "roc_points", "calibration_bins", "deciles", "bands", "slices", "fairness_gaps",
    "age_band", "auc_ceiling_share", "SLICE_COLUMNS", "DECILE_COLUMNS",
]

DECILE_COLUMNS = ["decile", "n", "positives", "mean_predicted", "observed_rate", "lift",
                  "cumulative_share", "cumulative_capture", "cumulative_lift"]
SLICE_COLUMNS = ["slice", "value", "n", "positives", "observed_rate", "predicted_positive_rate", "tpr",
                 "auc", "mean_predicted"]
MISSING_VALUE = "unknown"


def _checked(y_true, p) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities as float arrays, or a ValueError saying what is wrong."""
    y = np.asarray(y_true, dtype="float64").ravel()
    p = np.asarray(p, dtype="float64").ravel()
    if len(y) != len(p):
        raise ValueError(f"y_true has {len(y)} values but p has {len(p)}")
    if len(y) == 0:
        raise ValueError("no cases to evaluate")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y_true must be 0/1 (no nulls)")
    if not (np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()):
        raise ValueError("p must be probabilities in [0, 1] (no nulls)")
    return y, p


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    """Mann-Whitney AUC with average ranks for ties; NaN when one class is absent."""
    positives = y.sum()
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return math.nan
    ranks = pd.Series(p).rank(method="average").to_numpy()
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _counts_at_thresholds(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives when flagging p >= each distinct score, highest score first."""
    order = np.argsort(-p, kind="stable")
    p_desc, y_desc = p[order], y[order]
    # The last row of each run of equal scores: a threshold flags a whole tie group or none of it.
    ends = np.r_[np.flatnonzero(np.diff(p_desc) != 0), len(p_desc) - 1]
    tps = np.cumsum(y_desc)[ends]
    fps = (ends + 1) - tps
    return tps, fps


def roc_points(y_true, p) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) at every distinct threshold, starting from (0, 0); needs both classes."""
    y, p = _checked(y_true, p)
    positives = y.sum()
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("a ROC curve needs both positive and negative cases")
    tps, fps = _counts_at_thresholds(y, p)
    return np.r_[0.0, fps / negatives], np.r_[0.0, tps / positives]


def _average_precision(y: np.ndarray, p: np.ndarray) -> float:
    """Sum over thresholds of recall gained times precision (sklearn's definition, no interpolation)."""
    if y.sum() == 0:
        return math.nan
    tps, fps = _counts_at_thresholds(y, p)
    precision = tps / (tps + fps)
    recall = tps / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _rank_bins(y: np.ndarray, p: np.ndarray, bins: int) -> pd.DataFrame:
    """Equal-frequency bins by descending score: cases, sum of p and (tie-shared) positives per bin."""
    order = np.argsort(-p, kind="stable")
    p_desc, y_desc = p[order], y[order]
    _, tie_group = np.unique(p_desc, return_inverse=True)
    y_shared = (np.bincount(tie_group, weights=y_desc) / np.bincount(tie_group))[tie_group]
    bin_of = np.arange(len(p_desc)) * bins // len(p_desc)
    return pd.DataFrame({
        "n": np.bincount(bin_of, minlength=bins),
        "sum_p": np.bincount(bin_of, weights=p_desc, minlength=bins),
        "positives": np.bincount(bin_of, weights=y_shared, minlength=bins),
    })


def _ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Case-weighted mean over equal-frequency bins of |mean p - observed rate|."""
    table = _rank_bins(y, p, bins)
    return float(np.abs(table["sum_p"] - table["positives"]).sum() / len(y))


def evaluate(y_true, p) -> dict[str, float]:
    """auc, ks, pr_auc, brier, ece, positive_rate and n of probabilities `p` against 0/1 labels.

    auc, ks and pr_auc are NaN when a class is absent (pr_auc needs positives).
    ks is max |TPR - FPR|, so a perfectly reversed score has ks 1 and auc 0.
    """
    y, p = _checked(y_true, p)
    has_both_classes = 0 < y.sum() < len(y)
    if has_both_classes:
        fpr, tpr = roc_points(y, p)
        ks = float(np.max(np.abs(tpr - fpr)))
    else:
        ks = math.nan
    return {
        "auc": _auc(y, p),
        "ks": ks,
        "pr_auc": _average_precision(y, p),
        "brier": float(np.mean((p - y) ** 2)),
        "ece": _ece(y, p),
        "positive_rate": float(y.mean()),
        "n": len(y),
    }


def calibration_bins(y_true, p, bins: int = 10) -> pd.DataFrame:
    """Reliability table, lowest scores first: n, mean_predicted, observed_rate per equal-frequency bin."""
    y, p = _checked(y_true, p)
    table = _rank_bins(y, p, bins).iloc[::-1]
    table = table[table["n"] > 0]
    return pd.DataFrame({
        "n": table["n"].to_numpy(),
        "mean_predicted": (table["sum_p"] / table["n"]).to_numpy(),
        "observed_rate": (table["positives"] / table["n"]).to_numpy(),
    })


BANDS = ("高", "中", "低")


def band_of(probability, high: float, medium: float) -> np.ndarray:
    """高 at or above `high`, 中 at or above `medium`, 低 below."""
    p = np.asarray(probability, dtype=float)
    return np.where(p >= high, BANDS[0], np.where(p >= medium, BANDS[1], BANDS[2]))


def bands(y_true, p, high: float, medium: float) -> pd.DataFrame:
    """The risk bands a clerk sees (高 p >= high, 中 p >= medium, 低 below): cases, share, mean p, observed rate."""
    y, p = _checked(y_true, p)
    band = band_of(p, high, medium)
    rows = []
    for name, lower, upper in zip(BANDS, (high, medium, 0.0), (1.0, high, medium), strict=True):
        inside = band == name
        n = int(inside.sum())
        rows.append({"band": name, "p_from": lower, "p_to": upper, "n": n, "share": n / len(y) if len(y) else np.nan,
                     "mean_predicted": p[inside].mean() if n else np.nan,
                     "observed_rate": y[inside].mean() if n else np.nan})
    return pd.DataFrame(rows)


def deciles(y_true, p) -> pd.DataFrame:
    """Ten rows, riskiest first: n, positives, mean_predicted, observed_rate, lift, cumulative share/capture/lift.

    Decile 1 is the 10% of cases with the highest p. With fewer than ten cases
    some deciles are empty (n 0, rates NaN). Positives can be fractional when
    tied scores straddle a decile boundary (see the module docstring).
    """
    y, p = _checked(y_true, p)
    table = _rank_bins(y, p, 10)
    n = table["n"].to_numpy()
    positives = table["positives"].to_numpy()
    overall_rate = y.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = np.where(n > 0, positives / np.maximum(n, 1), np.nan)
        mean_predicted = np.where(n > 0, table["sum_p"].to_numpy() / np.maximum(n, 1), np.nan)
        lift = observed / overall_rate if overall_rate > 0 else np.full(10, np.nan)
        cumulative_share = np.cumsum(n) / len(y)
        cumulative_capture = np.cumsum(positives) / y.sum() if y.sum() > 0 else np.full(10, np.nan)
        cumulative_lift = cumulative_capture / cumulative_share
    return pd.DataFrame({
        "decile": np.arange(1, 11),
        "n": n,
        "positives": positives,
        "mean_predicted": mean_predicted,
        "observed_rate": observed,
        "lift": lift,
        "cumulative_share": cumulative_share,
        "cumulative_capture": cumulative_capture,
        "cumulative_lift": cumulative_lift,
    }, columns=DECILE_COLUMNS)


def _slice_labels(frame: pd.DataFrame, name: str, key: str | pd.Series) -> np.ndarray:
    """The slice value of each row as a string, nulls as 'unknown'."""
    if isinstance(key, str):
        if key not in frame.columns:
            raise ValueError(f"slice {name!r}: no column {key!r} in the frame")
        values = frame[key]
    elif isinstance(key, pd.Series):
        # Aligning silently would turn any index mismatch into a slice of nulls.
        if not key.index.equals(frame.index):
            raise ValueError(f"slice {name!r}: the Series must have the frame's index")
        values = key
    else:
        raise ValueError(f"slice {name!r}: expected a column name or a pandas Series, got {type(key).__name__}")
    return np.array([MISSING_VALUE if pd.isna(v) else str(v) for v in values], dtype=object)


def _slice_row(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    flagged = p >= threshold
    positives = y.sum()
    return {
        "n": len(y),
        "positives": int(positives),
        "observed_rate": float(y.mean()),
        "predicted_positive_rate": float(flagged.mean()),
        "tpr": float(flagged[y == 1].mean()) if positives > 0 else math.nan,
        "auc": _auc(y, p),
        "mean_predicted": float(p.mean()),
    }


def slices(frame: pd.DataFrame, y_col: str, p_col: str, by: dict[str, str | pd.Series],
           threshold: float) -> pd.DataFrame:
    """One row per slice variable and value: n, positives, rates, TPR and AUC at `threshold`.

    `by` maps a slice name to a column of `frame` or to a Series on the frame's
    index (e.g. `frame["age"].map(age_band)`). A case is flagged when
    p >= threshold. tpr is NaN without positives, auc NaN with one class only.
    """
    y, p = _checked(frame[y_col], frame[p_col])
    rows = []
    for name, key in by.items():
        labels = _slice_labels(frame, name, key)
        for value in sorted(set(labels)):
            in_slice = labels == value
            rows.append({"slice": name, "value": value, **_slice_row(y[in_slice], p[in_slice], threshold)})
    return pd.DataFrame(rows, columns=SLICE_COLUMNS)


def _spread(kept: pd.DataFrame, column: str) -> dict:
    """max - min of `column` across values, and which values hold the extremes; NaN with fewer than two."""
    rated = kept.dropna(subset=[column])
    if len(rated) < 2:
        return {f"{column}_gap": math.nan, f"{column}_highest": None, f"{column}_lowest": None}
    highest, lowest = rated.loc[rated[column].idxmax()], rated.loc[rated[column].idxmin()]
    return {f"{column}_gap": float(highest[column] - lowest[column]),
            f"{column}_highest": highest["value"], f"{column}_lowest": lowest["value"]}


def fairness_gaps(slice_table: pd.DataFrame, min_n: int = 30) -> pd.DataFrame:
    """Per slice variable: the spread of predicted-positive rate and of TPR across its values.

    Values with fewer than `min_n` cases are left out (their rates are noise)
    and counted in `values_ignored`. Values without positives have no TPR and
    only drop out of the TPR gap. A gap needs at least two values, else NaN.
    """
    rows = []
    for name, group in slice_table.groupby("slice", sort=False):
        kept = group[group["n"] >= min_n]
        rows.append({"slice": name, "values_compared": len(kept), "values_ignored": len(group) - len(kept),
                     **_spread(kept, "predicted_positive_rate"), **_spread(kept, "tpr")})
    return pd.DataFrame(rows, columns=[
        "slice", "values_compared", "values_ignored",
        "predicted_positive_rate_gap", "predicted_positive_rate_highest", "predicted_positive_rate_lowest",
        "tpr_gap", "tpr_highest", "tpr_lowest"])


def age_band(age) -> str:
    """'<30', '30-39', '40-49', '50-59', '60+', or 'unknown' for a missing or negative age."""
    if age is None or isinstance(age, bool) or pd.isna(age):
        return MISSING_VALUE
    try:
        age = float(age)
    except (TypeError, ValueError):
        return MISSING_VALUE
    if age < 0:
        return MISSING_VALUE
    if age < 30:
        return "<30"
    if age >= 60:
        return "60+"
    decade = int(age // 10) * 10
    return f"{decade}-{decade + 9}"


def auc_ceiling_share(model_auc: float, ceiling_auc: float) -> float:
    """How much of the ceiling's lift over chance the model reaches: (model - 0.5) / (ceiling - 0.5).

    NaN when the ceiling is no better than chance (there is nothing to share).
    """
    if pd.isna(model_auc) or pd.isna(ceiling_auc) or ceiling_auc <= 0.5:
        return math.nan
    return float((model_auc - 0.5) / (ceiling_auc - 0.5))
