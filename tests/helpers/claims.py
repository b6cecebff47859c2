"""The figures README.md and BENCHMARKS.md state, read from the documents themselves, and the
margin each is held to.

A test that checks a documented figure reads it here, so the document and the test cannot drift
apart: change the code, re-measure, and update the document, or the suite fails. The one rule for
margins: a figure holds within two standard errors of the count behind it (a rate over its cases,
an AUC over its test window's positives and negatives). A figure whose margin would be wider than
the figure itself says nothing in the suite; it is stated in BENCHMARKS.md as a benchmark figure.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from helpers.paths import ROOT

__all__ = ["ModelFigures", "LinkageFigures", "BandFigure", "model_figures", "linkage_figures", "band_figures",
           "rate_margin", "auc_margin"]

Z = 2.0


def _text(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def _number(cell: str) -> float:
    return float(cell.strip().strip("*").replace(",", ""))


def _row(document: str, first_cell: str) -> list[str]:
    for line in _text(document).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"{document} has no table row starting with {first_cell!r}")


@dataclass(frozen=True)
class ModelFigures:
    auc: float
    ks: float
    pr_auc: float
    brier: float
    ece: float
    baseline_auc: float
    ceiling_auc: float


def model_figures() -> ModelFigures:
    """BENCHMARKS.md, "The model on the sample": the out-of-time table."""
    model = _row("BENCHMARKS.md", "LightGBM, calibrated (Platt)")
    return ModelFigures(*(_number(c) for c in model[1:6]),
                        baseline_auc=_number(_row("BENCHMARKS.md", "logistic-regression baseline")[1]),
                        ceiling_auc=_number(_row("BENCHMARKS.md", "generator's true probabilities (ceiling)")[1]))


@dataclass(frozen=True)
class LinkageFigures:
    records: int
    links: int
    precision: float
    recall: float


def linkage_figures(row: str = "sample, all") -> LinkageFigures:
    """BENCHMARKS.md, "Entity resolution against the generator's truth"."""
    cells = _row("BENCHMARKS.md", row)
    return LinkageFigures(int(_number(cells[1])), int(_number(cells[2])), _number(cells[3]), _number(cells[4]))


@dataclass(frozen=True)
class BandFigure:
    band: str
    share: float            # of the test window's cases
    observed_rate: float    # not performed within 180 days


def band_figures() -> dict[str, BandFigure]:
    """README.md, "Risk bands": `35 % of cases; 77 % of them ...` per band."""
    found = {}
    for band, label in (("高", "高 high"), ("中", "中 medium"), ("低", "低 low")):
        share, rate = re.findall(r"(\d+(?:\.\d+)?) %", _row("README.md", label)[2])[:2]
        found[band] = BandFigure(band, float(share) / 100, float(rate) / 100)
    return found


def rate_margin(rate: float, n: int) -> float:
    """Two binomial standard errors of a rate measured over `n` cases."""
    return Z * math.sqrt(max(rate * (1 - rate), 1e-12) / max(n, 1))


def auc_margin(auc: float, positives: int, negatives: int) -> float:
    """Two standard errors of an AUC (Hanley and McNeil, 1982)."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc)
                + (negatives - 1) * (q2 - auc * auc)) / (positives * negatives)
    return Z * math.sqrt(variance)
