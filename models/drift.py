"""Population stability: are tonight's cases like the ones the champion learned from?

At training, `drift_reference` bins the score and the most important features
over the training window (training and early-stopping folds) and the result is
logged with the model. Each night `drift_counts` bins the monitored cases with
the same edges in Spark (one aggregation, one small row to the driver), and
`psi` compares the two:

    PSI = sum over bins of (actual - expected) * ln(actual / expected)

Below 0.1 nothing to see; 0.1 to 0.25 investigate; above 0.25 the population
has shifted (the configured levels). A night's handful of cases gives a noisy
PSI, so fewer cases than `monitor.min_cases` is reported as `too_few_cases`,
never as an alert; the recent-filings window is what usually carries the signal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

__all__ = ["SCORE", "drift_reference", "bin_counts", "drift_counts", "psi", "psi_level", "drift_rows"]

SCORE = "score"          # the variable name of the calibrated probability in a reference
_EPS = 1e-4              # an empty bin counts as this share, so ln() stays finite
_MAX_LEVELS = 30         # categories beyond the most frequent 30 share one "other" bin


def _numeric_reference(values: pd.Series, bins: int) -> dict:
    """Quantile edges; a value holding more than one bin's share (0 for most counts and amounts) gets
    a bin of its own, and what lies above it its own quantiles, or a zero-inflated feature's edges
    would collapse to [0] and no change in its non-zero part could ever show."""
    present = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    if not len(present):
        return {"kind": "numeric", "edges": []}
    edges = set(np.quantile(present, [i / bins for i in range(1, bins)]).tolist())
    points, counts = np.unique(present, return_counts=True)
    for point in points[counts > len(present) / bins]:
        edges.add(float(np.nextafter(point, np.inf)))
        above = present[present > point]
        if len(above):
            edges.update(np.quantile(above, [0.25, 0.5, 0.75]).tolist())
    return {"kind": "numeric", "edges": sorted(edges)}


def _category_reference(values: pd.Series) -> dict:
    counts = values.dropna().astype(str).value_counts()
    return {"kind": "category", "levels": sorted(counts.index[:_MAX_LEVELS].tolist())}


def bin_counts(values: pd.Series, spec: dict) -> list[int]:
    """Counts per bin for pandas values: numeric bins (edges: v < e1, e1 <= v < e2, ...) or
    category levels then "other", and a last bin for nulls."""
    if spec["kind"] == "numeric":
        numbers = pd.to_numeric(values, errors="coerce")
        present = numbers.dropna().to_numpy(dtype=float)
        index = np.searchsorted(np.asarray(spec["edges"], dtype=float), present, side="right")
        counts = np.bincount(index, minlength=len(spec["edges"]) + 1).tolist()
        return [int(c) for c in counts] + [int(numbers.isna().sum())]
    text = values.dropna().astype(str)
    per_level = [int((text == level).sum()) for level in spec["levels"]]
    return per_level + [int(len(text) - sum(per_level)), int(values.isna().sum())]


def drift_reference(frame: pd.DataFrame, scores: np.ndarray, features: Sequence[str], categorical: Iterable[str],
                    bins: int) -> dict:
    """Bin edges and counts of the score and `features` over the training window (a JSON-able dict)."""
    categorical = set(categorical)
    variables = {}
    columns = {SCORE: pd.Series(scores, index=frame.index), **{name: frame[name] for name in features}}
    for name, values in columns.items():
        spec = _category_reference(values) if name in categorical else _numeric_reference(values, bins)
        variables[name] = {**spec, "counts": bin_counts(values, spec)}
    return {"n": int(len(frame)), "bins": bins, "variables": variables}


def _bin_column(column: Column, spec: dict) -> list[Column]:
    """Spark expressions counting, per bin, the rows of `column` that fall in it (same bins as `bin_counts`)."""
    if spec["kind"] == "numeric":
        value = column.cast("double")
        index = sum((F.when(value >= F.lit(edge), 1).otherwise(0) for edge in spec["edges"]), F.lit(0))
        bins = [F.count(F.when(value.isNotNull() & (index == i), 1)) for i in range(len(spec["edges"]) + 1)]
    else:
        text = column.cast("string")
        bins = [F.count(F.when(text == F.lit(level), 1)) for level in spec["levels"]]
        bins.append(F.count(F.when(text.isNotNull() & ~text.isin(spec["levels"]), 1)) if spec["levels"]
                    else F.count(text))
    return [*bins, F.count(F.when(column.isNull(), 1))]


def drift_counts(monitored: DataFrame, reference: dict, score_column: str = "probability") -> dict[str, list[int]]:
    """Per reference variable, the bin counts of `monitored` (one Spark aggregation)."""
    expressions, layout = [], []
    for name, spec in reference["variables"].items():
        column = F.col(score_column if name == SCORE else name)
        cells = _bin_column(column, spec)
        layout.append((name, len(expressions), len(cells)))
        expressions += [c.alias(f"c{len(expressions) + i}") for i, c in enumerate(cells)]
    row = monitored.agg(*expressions).first()
    return {name: [int(row[start + i]) for i in range(width)] for name, start, width in layout}


def psi(expected: Sequence[int], actual: Sequence[int]) -> float:
    """Population stability index of two count vectors over the same bins."""
    if len(expected) != len(actual):
        raise ValueError(f"bins differ: {len(expected)} expected, {len(actual)} actual")
    n_e, n_a = sum(expected), sum(actual)
    if n_e == 0 or n_a == 0:
        return float("nan")
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        pe, pa = max(e / n_e, _EPS), max(a / n_a, _EPS)
        total += (pa - pe) * math.log(pa / pe)
    return total


def psi_level(value: float, n_cases: int, investigate: float, shift: float, min_cases: int) -> str:
    if n_cases < min_cases or math.isnan(value):
        return "too_few_cases"
    return "shift" if value >= shift else "investigate" if value >= investigate else "ok"


def drift_rows(scope: str, reference: dict, counts: dict[str, list[int]], investigate: float, shift: float,
               min_cases: int) -> list[dict]:
    """One row per variable for one monitored population."""
    rows = []
    for name, spec in reference["variables"].items():
        actual = counts[name]
        value = psi(spec["counts"], actual)
        n_cases = sum(actual)
        rows.append({"scope": scope, "feature": name, "psi": value, "n_cases": n_cases,
                     "n_reference": int(sum(spec["counts"])),
                     "level": psi_level(value, n_cases, investigate, shift, min_cases)})
    return rows
