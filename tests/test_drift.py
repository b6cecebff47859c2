"""Population stability: the PSI, its levels, and the same bins in pandas (training) and Spark (nightly)."""

import math

import numpy as np
import pandas as pd
import pytest

from models.drift import SCORE, bin_counts, drift_counts, drift_reference, drift_rows, psi, psi_level


def test_psi_of_identical_distributions_is_zero_and_grows_with_the_shift():
    assert psi([10, 20, 30, 40], [1, 2, 3, 4]) == pytest.approx(0.0)
    small = psi([25, 25, 25, 25], [30, 25, 25, 20])
    large = psi([25, 25, 25, 25], [70, 10, 10, 10])
    assert 0 < small < 0.1 < 0.25 < large


def test_psi_matches_the_formula_and_survives_empty_bins():
    expected, actual = [50, 50], [80, 20]
    by_hand = (0.8 - 0.5) * math.log(0.8 / 0.5) + (0.2 - 0.5) * math.log(0.2 / 0.5)
    assert psi(expected, actual) == pytest.approx(by_hand)
    assert math.isfinite(psi([100, 0], [50, 50]))          # an empty reference bin is floored, not infinite
    with pytest.raises(ValueError, match="bins differ"):
        psi([1, 2], [1, 2, 3])


@pytest.mark.parametrize(("value", "n", "level"), [
    (0.05, 500, "ok"), (0.1, 500, "investigate"), (0.2499, 500, "investigate"), (0.25, 500, "shift"),
    (0.9, 99, "too_few_cases"), (float("nan"), 500, "too_few_cases")])
def test_levels_follow_the_configured_thresholds(value, n, level):
    assert psi_level(value, n, investigate=0.1, shift=0.25, min_cases=100) == level


def test_numeric_bins_put_edges_in_the_upper_bin_and_count_nulls_last():
    spec = {"kind": "numeric", "edges": [1.0, 2.0]}
    assert bin_counts(pd.Series([0.5, 1.0, 1.5, 2.0, 9.0, None]), spec) == [1, 2, 2, 1]


def test_category_bins_have_other_and_null():
    spec = {"kind": "category", "levels": ["a", "b"]}
    assert bin_counts(pd.Series(["a", "a", "b", "zzz", None]), spec) == [2, 1, 1, 1]


def test_reference_bins_the_score_and_features_by_quantile():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"deposit_total": rng.exponential(1000, 1000), "cause": rng.choice(["labor", "tort"], 1000)})
    ref = drift_reference(frame, rng.uniform(size=1000), ["deposit_total", "cause"], ["cause"], bins=10)
    assert ref["n"] == 1000 and set(ref["variables"]) == {SCORE, "deposit_total", "cause"}
    counts = ref["variables"]["deposit_total"]["counts"]
    assert len(counts) == 11 and counts[-1] == 0 and all(95 <= c <= 105 for c in counts[:-1])
    assert ref["variables"]["cause"]["levels"] == ["labor", "tort"]
    same = drift_rows("night", ref, {k: v["counts"] for k, v in ref["variables"].items()}, 0.1, 0.25, 100)
    assert {r["level"] for r in same} == {"ok"} and max(r["psi"] for r in same) == pytest.approx(0.0)


def test_spark_counts_the_same_bins_as_pandas(spark):
    rng = np.random.default_rng(1)
    train = pd.DataFrame({"deposit_total": rng.exponential(1000, 400), "cause": rng.choice(["labor", "tort"], 400)})
    ref = drift_reference(train, rng.uniform(size=400), ["deposit_total", "cause"], ["cause"], bins=5)
    tonight = pd.DataFrame({
        "probability": [0.1, 0.5, 0.99, None, 0.3],
        "deposit_total": [0.0, 500.0, 1e6, None, ref["variables"]["deposit_total"]["edges"][1]],
        "cause": ["labor", "other", None, "tort", "tort"]})
    on_spark = drift_counts(spark.createDataFrame(tonight.astype(object).where(tonight.notna(), None),
                                                  "probability double, deposit_total double, cause string"), ref)
    for name, spec in ref["variables"].items():
        column = tonight["probability" if name == SCORE else name]
        assert on_spark[name] == bin_counts(column, spec), name
    assert sum(on_spark["cause"]) == 5


def test_a_shifted_population_is_flagged(spark):
    rng = np.random.default_rng(2)
    train = pd.DataFrame({"deposit_total": rng.exponential(1000, 2000)})
    ref = drift_reference(train, rng.beta(2, 3, 2000), ["deposit_total"], [], bins=10)
    shifted = pd.DataFrame({"probability": rng.beta(5, 1, 300), "deposit_total": rng.exponential(1000, 300)})
    rows = drift_rows("recent", ref, drift_counts(spark.createDataFrame(shifted), ref), 0.1, 0.25, 100)
    levels = {r["feature"]: r["level"] for r in rows}
    assert levels == {SCORE: "shift", "deposit_total": "ok"}


def test_a_zero_inflated_feature_gets_a_bin_for_zero_and_its_non_zero_part_is_watched(spark):
    rng = np.random.default_rng(3)
    n = 2000
    transfers = np.where(rng.uniform(size=n) < 0.08, rng.exponential(5, n), 0.0)     # 8 % non-zero
    ref = drift_reference(pd.DataFrame({"transfers_to_persons_90d": transfers}), rng.uniform(size=n),
                          ["transfers_to_persons_90d"], [], bins=10)
    spec = ref["variables"]["transfers_to_persons_90d"]
    assert len(spec["edges"]) >= 3 and spec["counts"][1] == int((transfers == 0).sum())   # zeros: one bin
    later = np.where(rng.uniform(size=500) < 0.19, rng.exponential(5, 500), 0.0)           # 19 % non-zero
    counts = drift_counts(spark.createDataFrame(pd.DataFrame({"probability": rng.uniform(size=500),
                                                              "transfers_to_persons_90d": later})), ref)
    assert counts["transfers_to_persons_90d"] == bin_counts(pd.Series(later), spec)
    level = {r["feature"]: r["level"] for r in drift_rows("recent", ref, counts, 0.1, 0.25, 100)}
    assert level["transfers_to_persons_90d"] in ("investigate", "shift")
