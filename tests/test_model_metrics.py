"""The evaluation toolkit: hand-checkable metrics, deciles, slices and charts (no Spark)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score, roc_curve

from models.metrics import (DECILE_COLUMNS, SLICE_COLUMNS, age_band, auc_ceiling_share, calibration_bins, deciles,
                            evaluate, fairness_gaps, slices)
from models.plots import calibration_plot, gains_plot, importance_plot, roc_plot, shap_summary_plot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _scores_with_ties(n: int = 400, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = np.round(rng.uniform(0, 1, n), 1)          # rounded: many ties
    y = (rng.uniform(0, 1, n) < p).astype(int)
    return y, p


# --- evaluate -------------------------------------------------------------------------------------

def test_perfect_ranking_has_auc_and_ks_one():
    metrics = evaluate([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert metrics["auc"] == 1.0
    assert metrics["ks"] == 1.0
    assert metrics["pr_auc"] == 1.0
    assert metrics["positive_rate"] == 0.5
    assert metrics["n"] == 4


def test_reversed_ranking_has_auc_zero_and_ks_one_because_ks_is_absolute():
    metrics = evaluate([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9])
    assert metrics["auc"] == 0.0
    assert metrics["ks"] == 1.0


def test_brier_by_hand():
    # (0.2^2 + 0.4^2 + 0.5^2 + 0.1^2) / 4 = 0.115
    assert evaluate([0, 1, 0, 1], [0.2, 0.6, 0.5, 0.9])["brier"] == pytest.approx(0.115)


def test_calibrated_constant_has_zero_ece_whatever_the_row_order():
    y = np.r_[np.ones(30), np.zeros(70)]                 # sorted by label: the worst order for ties
    for labels in (y, y[::-1]):
        metrics = evaluate(labels, np.full(100, 0.3))
        assert metrics["ece"] == pytest.approx(0.0, abs=1e-12)
        assert metrics["auc"] == 0.5


def test_ece_by_hand():
    # Ten bins of ten; each bin predicts 0.5, the riskiest five bins are all positive, the rest all negative.
    p = np.r_[np.full(50, 0.5 + 1e-9), np.full(50, 0.5)]
    y = np.r_[np.ones(50), np.zeros(50)]
    assert evaluate(y, p)["ece"] == pytest.approx(0.5)


def test_matches_sklearn_with_ties():
    y, p = _scores_with_ties()
    metrics = evaluate(y, p)
    fpr, tpr, _ = roc_curve(y, p)
    assert metrics["auc"] == pytest.approx(roc_auc_score(y, p))
    assert metrics["pr_auc"] == pytest.approx(average_precision_score(y, p))
    assert metrics["brier"] == pytest.approx(brier_score_loss(y, p))
    assert metrics["ks"] == pytest.approx(np.max(np.abs(tpr - fpr)))


def test_one_class_gives_null_ranking_metrics():
    metrics = evaluate([0, 0, 0], [0.1, 0.2, 0.3])
    assert math.isnan(metrics["auc"]) and math.isnan(metrics["ks"]) and math.isnan(metrics["pr_auc"])
    assert metrics["brier"] == pytest.approx((0.01 + 0.04 + 0.09) / 3)


@pytest.mark.parametrize("y, p, message", [
    ([0, 1], [0.1], "has 2 values"),
    ([0, 2], [0.1, 0.2], "0/1"),
    ([0, None], [0.1, 0.2], "0/1"),
    ([0, 1], [0.1, 1.2], r"\[0, 1\]"),
    ([0, 1], [0.1, float("nan")], r"\[0, 1\]"),
    ([], [], "no cases"),
])
def test_bad_input_says_what_is_wrong(y, p, message):
    with pytest.raises(ValueError, match=message):
        evaluate(y, p)


def test_calibration_bins_go_from_low_to_high_scores():
    p = np.arange(100) / 100
    table = calibration_bins((p >= 0.5).astype(int), p)
    assert table["n"].tolist() == [10] * 10
    assert table["mean_predicted"].is_monotonic_increasing
    assert table["observed_rate"].tolist() == [0.0] * 5 + [1.0] * 5


# --- deciles --------------------------------------------------------------------------------------

def _hundred_cases() -> tuple[np.ndarray, np.ndarray]:
    """p falls with the row; 5 positives in decile 1, 3 in decile 2, 2 in decile 3, none after."""
    p = (100 - np.arange(100)) / 101
    y = np.zeros(100, dtype=int)
    y[[0, 2, 4, 6, 8]] = 1
    y[[10, 15, 19]] = 1
    y[[21, 29]] = 1
    return y, p


def test_deciles_of_a_hundred_cases_by_hand():
    y, p = _hundred_cases()
    shuffled = np.random.default_rng(1).permutation(100)
    table = deciles(y[shuffled], p[shuffled])
    assert table.columns.tolist() == DECILE_COLUMNS
    assert table["decile"].tolist() == list(range(1, 11))
    assert table["n"].tolist() == [10] * 10
    assert table["positives"].tolist() == [5, 3, 2, 0, 0, 0, 0, 0, 0, 0]
    # overall rate 10/100 = 0.1
    assert table["observed_rate"].tolist() == pytest.approx([0.5, 0.3, 0.2] + [0.0] * 7)
    assert table["lift"].tolist() == pytest.approx([5.0, 3.0, 2.0] + [0.0] * 7)
    assert table["cumulative_capture"].tolist() == pytest.approx([0.5, 0.8, 1.0] + [1.0] * 7)
    assert table["cumulative_lift"].tolist() == pytest.approx([5.0, 4.0, 10 / 3, 2.5, 2.0, 10 / 6, 10 / 7, 1.25, 10 / 9, 1.0])
    assert table["mean_predicted"].iloc[0] == pytest.approx(np.mean((100 - np.arange(10)) / 101))


def test_deciles_with_all_scores_tied_share_positives_evenly_whatever_the_row_order():
    y = np.r_[np.ones(20), np.zeros(80)]
    for labels in (y, y[::-1]):
        table = deciles(labels, np.full(100, 0.2))
        assert table["n"].tolist() == [10] * 10
        assert table["positives"].tolist() == pytest.approx([2.0] * 10)
        assert table["lift"].tolist() == pytest.approx([1.0] * 10)


def test_deciles_of_fifteen_cases_and_of_five():
    y, p = _scores_with_ties(15, seed=3)
    table = deciles(y, p)
    assert len(table) == 10 and table["n"].sum() == 15 and set(table["n"]) == {1, 2}
    assert table["positives"].sum() == pytest.approx(y.sum())
    assert table["cumulative_share"].iloc[-1] == pytest.approx(1.0)

    few = deciles([1, 0, 1, 0, 0], [0.9, 0.8, 0.7, 0.2, 0.1])
    assert len(few) == 10 and few["n"].sum() == 5
    assert few.loc[few["n"] == 0, "observed_rate"].isna().all()


# --- slices and fairness --------------------------------------------------------------------------

def _slice_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "y": [1, 0, 1, 0, 0, 0, 1, 0],
        "p": [0.9, 0.6, 0.4, 0.1, 0.7, 0.2, 0.8, 0.3],
        "region": ["east", "east", "east", "east", "west", "west", None, None],
        "age": [25, 35, 45, 65, np.nan, 31, 52, -1],
    })


def test_slices_by_hand_with_a_one_class_slice_and_nulls():
    frame = _slice_frame()
    table = slices(frame, "y", "p", {"region": "region", "age_band": frame["age"].map(age_band)}, threshold=0.5)
    assert table.columns.tolist() == SLICE_COLUMNS
    east = table.set_index(["slice", "value"]).loc[("region", "east")]
    assert (east["n"], east["positives"]) == (4, 2)
    assert east["observed_rate"] == 0.5
    assert east["predicted_positive_rate"] == 0.5     # 0.9 and 0.6 flagged
    assert east["tpr"] == 0.5                         # of positives 0.9 and 0.4, only 0.9 flagged
    assert east["auc"] == 0.75                        # pairs (0.9>0.6, 0.9>0.1, 0.4<0.6, 0.4>0.1)
    assert east["mean_predicted"] == pytest.approx(0.5)
    west = table.set_index(["slice", "value"]).loc[("region", "west")]
    assert math.isnan(west["auc"]) and math.isnan(west["tpr"])      # no positives
    assert table.query("slice == 'region'")["value"].tolist() == ["east", "unknown", "west"]
    assert table.query("slice == 'age_band'")["n"].sum() == 8
    assert table.query("slice == 'age_band' and value == 'unknown'")["n"].item() == 2


def test_slices_refuse_a_series_on_another_index():
    frame = _slice_frame()
    with pytest.raises(ValueError, match="frame's index"):
        slices(frame, "y", "p", {"region": frame["region"].reset_index(drop=True).set_axis(range(10, 18))}, 0.5)
    with pytest.raises(ValueError, match="no column 'court'"):
        slices(frame, "y", "p", {"court": "court"}, 0.5)


def test_fairness_gaps_ignore_small_slices():
    table = pd.DataFrame({
        "slice": ["region"] * 4 + ["sex"] * 2,
        "value": ["east", "west", "north", "tiny", "F", "M"],
        "n": [100, 50, 30, 29, 80, 20],
        "predicted_positive_rate": [0.30, 0.10, 0.20, 0.90, 0.2, 0.5],
        "tpr": [0.60, 0.70, math.nan, 0.0, 0.5, 0.9],
    })
    gaps = fairness_gaps(table).set_index("slice")
    region = gaps.loc["region"]
    assert (region["values_compared"], region["values_ignored"]) == (3, 1)
    assert region["predicted_positive_rate_gap"] == pytest.approx(0.20)
    assert (region["predicted_positive_rate_highest"], region["predicted_positive_rate_lowest"]) == ("east", "west")
    assert region["tpr_gap"] == pytest.approx(0.10)                 # north has no TPR, tiny is ignored
    sex = gaps.loc["sex"]
    assert (sex["values_compared"], sex["values_ignored"]) == (1, 1)
    assert math.isnan(sex["predicted_positive_rate_gap"]) and math.isnan(sex["tpr_gap"])
    assert fairness_gaps(table, min_n=10).loc[1, "values_ignored"] == 0


@pytest.mark.parametrize("age, band", [
    (18, "<30"), (29.9, "<30"), (30, "30-39"), (39.5, "30-39"), (40, "40-49"), (59, "50-59"), (60, "60+"),
    (None, "unknown"), (np.nan, "unknown"), (pd.NA, "unknown"), (-3, "unknown"), ("abc", "unknown"),
])
def test_age_band(age, band):
    assert age_band(age) == band


def test_auc_ceiling_share():
    assert auc_ceiling_share(0.7, 0.9) == pytest.approx(0.5)
    assert auc_ceiling_share(0.9, 0.9) == pytest.approx(1.0)
    assert math.isnan(auc_ceiling_share(0.7, 0.5))


# --- plots ----------------------------------------------------------------------------------------

def _is_png(path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(8) == PNG_SIGNATURE and path.stat().st_size > 1000


def test_plots_write_png_files(tmp_path):
    y, p = _scores_with_ties(200)
    written = [
        roc_plot(y, p, tmp_path / "roc.png"),
        calibration_plot(y, p, tmp_path / "calibration.png"),
        gains_plot(deciles(y, p), tmp_path / "gains.png"),
        importance_plot(["debt", "deposits", "age"], [12.0, 30.5, 2.0], tmp_path / "nested" / "importance.png"),
    ]
    assert [path.name for path in written] == ["roc.png", "calibration.png", "gains.png", "importance.png"]
    assert all(_is_png(path) for path in written)


def test_shap_summary_plot_with_a_categorical_and_nulls(tmp_path):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({
        "debt": rng.lognormal(10, 1, 300),
        "deposits": np.where(rng.uniform(size=300) < 0.2, np.nan, rng.uniform(0, 1e5, 300)),
        "court_level": pd.Categorical(rng.choice(["basic", "intermediate"], 300)),
    })
    contrib = rng.normal(0, [0.5, 0.2, 0.05], size=(300, 3))
    path = shap_summary_plot(contrib, X, tmp_path / "shap.png", top=2, max_rows=100)
    assert _is_png(path)
    with pytest.raises(ValueError, match="bias column"):
        shap_summary_plot(np.c_[contrib, np.zeros(300)], X, tmp_path / "bad.png")
