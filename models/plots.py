"""Evaluation charts of the execution-risk model, each written to one PNG.

Figures are built on matplotlib's object API with an Agg canvas, never through
pyplot: no global figure state, no backend switch, nothing left open when a
job draws many charts. Each function returns the path it wrote.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from models.metrics import calibration_bins, evaluate, roc_points

__all__ = ["roc_plot", "calibration_plot", "gains_plot", "importance_plot", "shap_summary_plot"]

_CHANCE = {"color": "grey", "linestyle": "--", "linewidth": 1}


def _figure(width: float = 6.0, height: float = 5.0) -> tuple[Figure, object]:
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _saved(figure: Figure, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, format="png")
    return path


def roc_plot(y, p, path) -> Path:
    """ROC curve with the chance diagonal and the AUC in the legend."""
    fpr, tpr = roc_points(y, p)
    auc = evaluate(y, p)["auc"]
    figure, ax = _figure()
    ax.plot(fpr, tpr, label=f"model (AUC = {auc:.3f})")
    ax.plot([0, 1], [0, 1], label="chance", **_CHANCE)
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="False positive rate", ylabel="True positive rate", title="ROC curve")
    ax.legend(loc="lower right")
    return _saved(figure, path)


def calibration_plot(y, p, path) -> Path:
    """Reliability diagram: observed rate against mean predicted in 10 equal-frequency bins."""
    table = calibration_bins(y, p, bins=10)
    ece = evaluate(y, p)["ece"]
    figure, ax = _figure()
    ax.plot([0, 1], [0, 1], label="perfect calibration", **_CHANCE)
    ax.plot(table["mean_predicted"], table["observed_rate"], marker="o", label=f"model (ECE = {ece:.3f})")
    upper = min(1.0, max(table["mean_predicted"].max(), table["observed_rate"].max()) * 1.1 + 0.02)
    ax.set(xlim=(0, upper), ylim=(0, upper), xlabel="Mean predicted probability", ylabel="Observed non-performance rate",
           title="Calibration (10 equal-frequency bins)")
    ax.legend(loc="upper left")
    return _saved(figure, path)


def gains_plot(deciles_table: pd.DataFrame, path) -> Path:
    """Cumulative share of positives caught against share of cases reviewed, riskiest first."""
    n = deciles_table["n"].to_numpy(dtype="float64")
    positives = deciles_table["positives"].to_numpy(dtype="float64")
    if n.sum() == 0 or positives.sum() == 0:
        raise ValueError("a gains chart needs cases and at least one positive")
    share = np.r_[0.0, np.cumsum(n) / n.sum()]
    capture = np.r_[0.0, np.cumsum(positives) / positives.sum()]
    positive_rate = positives.sum() / n.sum()
    best = np.linspace(0, 1, 101)
    figure, ax = _figure()
    ax.plot(share, capture, marker="o", label="model")
    ax.plot(best, np.minimum(best / positive_rate, 1.0), color="green", linestyle=":", linewidth=1,
            label="perfect ranking")
    ax.plot([0, 1], [0, 1], label="random", **_CHANCE)
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="Share of cases (riskiest first)", ylabel="Share of non-performing cases caught",
           title="Cumulative gains by decile")
    ax.legend(loc="lower right")
    return _saved(figure, path)


def importance_plot(names, gains, path, top: int = 20) -> Path:
    """Horizontal bars of the `top` features by gain, largest at the top."""
    names, gains = list(names), np.asarray(gains, dtype="float64")
    if len(names) != len(gains):
        raise ValueError(f"{len(names)} names but {len(gains)} gains")
    order = np.argsort(-gains, kind="stable")[:top][::-1]
    figure, ax = _figure(7.0, max(3.0, 0.3 * len(order) + 1.2))
    ax.barh(np.arange(len(order)), gains[order], color="tab:blue")
    ax.set_yticks(np.arange(len(order)), [names[i] for i in order], fontsize=8)
    ax.set(xlabel="Total gain", title=f"Feature importance (top {len(order)} by gain)")
    return _saved(figure, path)


def _swarm_offsets(values: np.ndarray, half_height: float = 0.4, bins: int = 100) -> np.ndarray:
    """Vertical offsets that stack points of similar value outwards, as in a beeswarm."""
    offsets = np.zeros(len(values))
    if len(values) == 0 or values.max() == values.min():
        return offsets
    span = values.max() - values.min()
    bin_of = np.minimum(((values - values.min()) / span * bins).astype(int), bins - 1)
    order = np.lexsort((values, bin_of))
    # Rank of each point within its bin: 0, 1, 2... then alternate above and below the line.
    starts = np.r_[0, np.flatnonzero(np.diff(bin_of[order])) + 1]
    within = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    layer = np.ceil(within / 2) * np.where(within % 2 == 1, 1, -1)
    tallest = max(np.bincount(bin_of).max(), 2)
    offsets[order] = layer * (2 * half_height / tallest)
    return offsets


def _value_colours(column: pd.Series):
    """Colour by the value's rank within the column; categoricals and nulls grey."""
    grey = (0.6, 0.6, 0.6, 1.0)
    is_numeric = pd.api.types.is_numeric_dtype(column) and not isinstance(column.dtype, pd.CategoricalDtype)
    if not is_numeric:
        return [grey] * len(column)
    rank = pd.to_numeric(column, errors="coerce").rank(pct=True).to_numpy()
    colours = colormaps["coolwarm"](np.nan_to_num(rank, nan=0.5))
    colours[np.isnan(rank)] = grey
    return colours


def shap_summary_plot(contrib: np.ndarray, X: pd.DataFrame, path, top: int = 20, max_rows: int = 5000) -> Path:
    """Beeswarm-style SHAP summary: per feature, one point per case at its SHAP value.

    `contrib` is LightGBM's `pred_contrib` output without the last (bias)
    column, rows and columns matching `X`. Features are ordered by mean |SHAP|
    over all rows; at most `max_rows` rows (a fixed random sample) are drawn,
    since a denser cloud adds no information.
    """
    contrib = np.asarray(contrib, dtype="float64")
    if contrib.ndim != 2 or contrib.shape[0] != len(X):
        raise ValueError(f"contrib must be rows x features with {len(X)} rows, got shape {contrib.shape}")
    if contrib.shape[1] == X.shape[1] + 1:
        raise ValueError("contrib has one column more than X: drop the bias column (the last) of pred_contrib")
    if contrib.shape[1] != X.shape[1]:
        raise ValueError(f"contrib has {contrib.shape[1]} columns but X has {X.shape[1]}")
    order = np.argsort(-np.abs(contrib).mean(axis=0), kind="stable")[:top]
    rows = np.arange(len(X))
    if len(rows) > max_rows:
        rows = np.sort(np.random.default_rng(0).choice(rows, size=max_rows, replace=False))
    figure, ax = _figure(8.0, max(3.5, 0.4 * len(order) + 1.5))
    for position, feature in enumerate(order):
        y_at = len(order) - 1 - position
        values = contrib[rows, feature]
        colours = _value_colours(X.iloc[rows, feature])
        ax.scatter(values, y_at + _swarm_offsets(values), c=colours, s=6, linewidths=0, rasterized=True)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_yticks(np.arange(len(order)), [str(X.columns[i]) for i in order[::-1]], fontsize=8)
    ax.set(xlabel="SHAP value (contribution to log-odds)",
           title=f"SHAP summary (top {len(order)} features by mean |SHAP|)")
    value_scale = ScalarMappable(norm=Normalize(0, 1), cmap=colormaps["coolwarm"])
    colourbar = figure.colorbar(value_scale, ax=ax, ticks=[0, 1], aspect=40, pad=0.02)
    colourbar.ax.set_yticklabels(["low", "high"])
    colourbar.set_label("Value rank (grey: categorical/missing)", fontsize=8)
    return _saved(figure, path)

