"""Nightly scoring: bands, the distributed scorer against the model itself, which cases a night takes,
and re-running a night."""

import datetime as dt

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from deltalake import DeltaTable
from sklearn.linear_model import LogisticRegression
from helpers.paths import CONF

from models.risk_model import RiskModel, design_matrix
from models.registry import Champion
from models.scoring import band_of, score_cases, score_frame
from pipelines.core.config import load_settings
from pipelines.core import catalog

FEATURES = ["deposit_total", "claim_amount", "cause"]
D = dt.date


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(7)
    n = 600
    frame = pd.DataFrame({"deposit_total": rng.exponential(20_000, n), "claim_amount": rng.exponential(50_000, n),
                          "cause": rng.choice(["labor", "tort", "private_lending"], n)})
    y = (frame["claim_amount"] / (frame["deposit_total"] + 1_000) + rng.normal(0, 1, n) > 2).astype(int)
    X, levels = design_matrix(frame, FEATURES, ["cause"])
    booster = lgb.train({"objective": "binary", "verbosity": -1, "num_leaves": 7, "seed": 1, "deterministic": True},
                        lgb.Dataset(X, y), num_boost_round=30)
    calibrator = LogisticRegression().fit(booster.predict(X, raw_score=True).reshape(-1, 1), y)
    return RiskModel(booster, calibrator, FEATURES, ["cause"], levels)


def _cases(rows):
    return pd.DataFrame(rows, columns=["case_no", "court_code", "filed_on", "deposit_total", "claim_amount", "cause"])


CASES = _cases([
    ("(2026)苏0312执1号", "苏0312", D(2026, 11, 1), 0.0, 500_000.0, "private_lending"),
    ("(2026)苏0312执2号", "苏0312", D(2026, 11, 2), 900_000.0, 1_000.0, "labor"),
    ("(2026)苏0381执1号", "苏0381", D(2026, 11, 2), None, 80_000.0, None),
    ("(2026)苏0381执2号", "苏0381", D(2026, 11, 3), 5_000.0, 60_000.0, "tort"),     # filed after night 1
])


def test_bands_are_inclusive_at_their_lower_threshold():
    p = np.array([0.0, 0.3499, 0.35, 0.5999, 0.6, 1.0])
    assert band_of(p, high=0.6, medium=0.35).tolist() == ["低", "低", "中", "中", "高", "高"]


def test_score_frame_gives_the_model_probability_a_band_and_reasons(model):
    settings = load_settings(CONF)
    out = score_frame(CASES, model, settings.scoring)
    np.testing.assert_allclose(out["probability"], model.predict_proba(CASES))
    assert out["band"].tolist() == band_of(out["probability"].to_numpy(), 0.6, 0.35).tolist()
    risky = out.iloc[0]
    assert risky["band"] == "高" and 1 <= len(risky["reasons"]) <= settings.scoring.reasons
    assert len(risky["reasons"]) == len(risky["reason_codes"]) == len(risky["reason_contributions"])
    assert all(c > 0 for c in risky["reason_contributions"])
    assert any(text.startswith("执行标的额") for text in risky["reasons"])   # the dictionary's Chinese phrase


def _lake(spark, tmp_path, cases):
    settings = load_settings(CONF, landing=str(tmp_path / "landing"), lake=str(tmp_path / "lake"))
    gold = cases.assign(label=None, label_status="censored", label_as_of=D(2026, 11, 3))
    spark.createDataFrame(gold.astype(object).where(gold.notna(), None),
                          "case_no string, court_code string, filed_on date, deposit_total double, "
                          "claim_amount double, cause string, label int, label_status string, label_as_of date") \
        .write.format("delta").save(settings.table(catalog.CASE_FEATURES))
    return settings


def _scores(settings):
    return DeltaTable(settings.table(catalog.CASE_SCORES)).to_pandas().sort_values(["run_date", "case_no"])


def test_nights_score_each_case_once_as_the_model_does_and_a_rerun_replaces_the_night(spark, tmp_path, model):
    settings = _lake(spark, tmp_path, CASES)
    champion = Champion("zhixing-execution-risk", "3", "run-x", model)

    first = score_cases(spark, settings, champion, D(2026, 11, 2))
    assert first.cases == 3 and sum(first.bands.values()) == 3
    second = score_cases(spark, settings, champion, D(2026, 11, 3))
    assert second.cases == 1                                     # only the case filed since
    again = score_cases(spark, settings, champion, D(2026, 11, 3))
    assert again.cases == 1

    scores = _scores(settings)
    assert scores["case_no"].is_unique and len(scores) == 4
    assert scores.groupby("run_date")["case_no"].apply(list).to_dict() == {
        D(2026, 11, 2): ["(2026)苏0312执1号", "(2026)苏0312执2号", "(2026)苏0381执1号"],
        D(2026, 11, 3): ["(2026)苏0381执2号"]}
    expected = pd.Series(model.predict_proba(CASES), index=CASES["case_no"])
    np.testing.assert_allclose(scores.set_index("case_no")["probability"].sort_index(), expected.sort_index())
    assert set(scores["model_version"]) == {"3"} and scores["scored_at"].notna().all()
    assert (scores["filed_on"] <= scores["run_date"]).all()


def test_a_night_with_no_new_cases_scores_nothing(spark, tmp_path, model):
    settings = _lake(spark, tmp_path, CASES.iloc[:1])
    champion = Champion("zhixing-execution-risk", "1", "run-x", model)
    assert score_cases(spark, settings, champion, D(2026, 10, 31)).cases == 0    # filed after the run date
    assert score_cases(spark, settings, champion, D(2026, 11, 1)).cases == 1
    assert score_cases(spark, settings, champion, D(2026, 11, 2)).cases == 0
    assert len(_scores(settings)) == 1
