"""The model's parts: the out-of-time split, the promotion gate, determinism, monotone constraints,
the registered wrapper's contract, and the capped training sample (the one test that needs Spark)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from models.registry import promotion_decision
from models.risk_model import RiskModel, design_matrix, fit_calibrator, search
from models.split import time_split


def _days(start: str, n: int, step: int = 3) -> pd.Series:
    first = dt.date.fromisoformat(start)
    return pd.Series([first + dt.timedelta(days=step * i) for i in range(n)])


def test_split_is_out_of_time_and_in_order():
    filed = _days("2022-01-01", 600)                       # about five years
    split = time_split(filed, test_months=6, calibration_months=6, early_stopping_share=0.2)
    b = split.bounds
    assert b["train"][1] < b["early_stopping"][0] <= b["early_stopping"][1] < b["calibration"][0]
    assert b["calibration"][1] < b["test"][0] and b["test"][1] == filed.max()
    assert b["test"][0] > (pd.Timestamp(filed.max()) - pd.DateOffset(months=6)).date()
    counts = split.fold.value_counts()
    training = counts[["train", "early_stopping"]].sum()
    assert counts.sum() == 600 and counts["early_stopping"] == pytest.approx(0.2 * training, abs=2)


def test_split_keeps_one_filing_day_in_one_fold():
    filed = pd.Series([dt.date(2024, 1, 1)] * 50 + [dt.date(2024, 1, 2)] * 50 + list(_days("2024-02-01", 200)))
    split = time_split(filed, test_months=3, calibration_months=3, early_stopping_share=0.5)
    per_day = pd.DataFrame({"day": filed, "fold": split.fold}).groupby("day")["fold"].nunique()
    assert (per_day == 1).all()


def test_split_refuses_a_history_too_short():
    with pytest.raises(ValueError, match="train|empty"):
        time_split(_days("2026-01-01", 30), test_months=6, calibration_months=6, early_stopping_share=0.2)


@pytest.mark.parametrize("candidate, champion, force, expected", [
    (0.80, None, False, True),        # first model
    (0.80, 0.79, False, True),        # beats by the margin
    (0.793, 0.79, False, False),      # better, but not by the margin
    (0.70, 0.79, False, False),       # worse
    (0.70, 0.79, True, True),         # forced, with a reason
])
def test_promotion_gate_both_ways(candidate, champion, force, expected):
    decision = promotion_decision(candidate, champion, margin=0.005, force=force,
                                  force_reason="court asked for the new features" if force else None)
    assert decision.promote is expected
    assert decision.reason


def test_forced_promotion_needs_a_reason():
    with pytest.raises(ValueError, match="reason"):
        promotion_decision(0.7, 0.8, margin=0.005, force=True)


def _frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "deposit_total": rng.gamma(1.0, 50_000, n),
        "dishonest_at_filing": rng.integers(0, 2, n).astype(float),
        "cause": rng.choice(["private_lending", "labor", "tort"], n),
        "noise": rng.normal(size=n),
    })
    logit = -0.00002 * frame["deposit_total"] + 1.5 * frame["dishonest_at_filing"] + (frame["cause"] == "tort")
    return frame, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)


NAMES, CATEGORICAL = ["deposit_total", "dishonest_at_filing", "cause", "noise"], ["cause"]
MONOTONE = {"deposit_total": -1, "dishonest_at_filing": 1}
GRID = {"num_leaves": [7, 15], "learning_rate": [0.1], "min_child_samples": [20]}


def _fit(seed: int = 7) -> RiskModel:
    frame, y = _frame(1200, seed=1)
    X, levels = design_matrix(frame, NAMES, CATEGORICAL)
    best, trials = search(X[:800], y[:800], X[800:1000], y[800:1000], GRID, MONOTONE, seed)
    assert len(trials) == 2
    booster = best["booster"]
    raw = booster.predict(X[1000:], raw_score=True, num_iteration=booster.best_iteration)
    return RiskModel(booster, fit_calibrator(raw, y[1000:], "sigmoid"), NAMES, CATEGORICAL, levels)


def test_training_is_deterministic_for_a_seed():
    frame, _ = _frame(300, seed=2)
    assert np.array_equal(_fit().predict_proba(frame), _fit().predict_proba(frame))


def test_monotone_constraints_hold():
    model = _fit()
    frame, _ = _frame(200, seed=3)
    richer = frame.assign(deposit_total=frame["deposit_total"] + 200_000)
    listed = frame.assign(dishonest_at_filing=1.0)
    assert (model.predict_proba(richer) <= model.predict_proba(frame) + 1e-12).all()
    assert (model.predict_proba(listed) >= model.predict_proba(frame.assign(dishonest_at_filing=0.0)) - 1e-12).all()


def test_the_model_takes_gold_columns_and_tolerates_unseen_categories():
    model = _fit()
    frame, _ = _frame(50, seed=4)
    frame["cause"] = frame["cause"].where(frame.index % 5 > 0, "a_cause_never_seen")
    frame["an_extra_gold_column"] = "ignored"
    p = model.predict_proba(frame)
    assert p.shape == (50,) and ((p > 0) & (p < 1)).all()


def test_a_large_training_set_is_sampled_alike_in_every_month_and_label(spark):
    from models.train import stratified_sample

    rows = [(f"C{month}-{label}-{i}", dt.date(2025, month, 1 + i % 28), label)
            for month, label, n in ((1, 0, 400), (1, 1, 100), (2, 0, 100), (2, 1, 400)) for i in range(n)]
    cases = spark.createDataFrame(rows, "case_no string, filed_on date, label int")
    kept, info = stratified_sample(cases, max_rows=250, seed=7)
    got = kept.toPandas()
    assert info == {"training_rows_total": 1000, "training_sample_fraction": 0.25}
    strata = got.groupby([pd.to_datetime(got["filed_on"]).dt.month, "label"]).size().to_dict()
    assert strata == {(1, 0): 100, (1, 1): 25, (2, 0): 25, (2, 1): 100}
    again, _ = stratified_sample(cases, max_rows=250, seed=7)
    assert sorted(again.toPandas()["case_no"]) == sorted(got["case_no"])           # the same cases on a re-run
    other, _ = stratified_sample(cases, max_rows=250, seed=8)
    assert sorted(other.toPandas()["case_no"]) != sorted(got["case_no"])
    everything, info = stratified_sample(cases, max_rows=1000, seed=7)
    assert everything.count() == 1000 and info["training_sample_fraction"] == 1.0
