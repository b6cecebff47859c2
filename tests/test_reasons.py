"""Top reasons: TreeSHAP contributions of a tiny LightGBM model, and the clerk-facing Chinese text."""

from __future__ import annotations

from decimal import Decimal

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from features.catalogue import load_dictionary
from models.reasons import CATEGORY_LABELS, COMBINED_REASONS, contributions, reason_text, top_reasons
from pipelines.core.contract import dataset

FEATURES = ["max_overdue_days_24m", "deposit_total", "divorced_12m", "disposed_to_spouse_value_12m", "cause"]
CAUSES = ["private_lending", "financial_loan", "sales_contract", "labor", "tort", "other"]
DRIVER = "max_overdue_days_24m"
PAIR = "divorced_12m+disposed_to_spouse_value_12m"


@pytest.fixture(scope="module")
def model():
    """300 synthetic cases in which a long overdue loan all but decides non-performance."""
    rng = np.random.default_rng(1)
    n = 300
    overdue = rng.integers(0, 365, n)
    X = pd.DataFrame({
        "max_overdue_days_24m": overdue.astype(float),
        "deposit_total": np.where(np.arange(n) % 37 == 0, np.nan, rng.gamma(1.0, 30_000, n).round(2)),
        "divorced_12m": rng.integers(0, 2, n).astype(float),
        "disposed_to_spouse_value_12m": np.where(rng.random(n) < 0.2, rng.gamma(2.0, 100_000, n), 0.0),
        "cause": pd.Categorical(rng.choice(CAUSES, n), categories=CAUSES),
    }, index=pd.Index([f"C{i:04d}" for i in range(n)], name="case_no"))
    y = ((overdue > 180) ^ (rng.random(n) < 0.05)).astype(int)
    params = {"objective": "binary", "num_leaves": 7, "min_data_in_leaf": 30, "learning_rate": 0.2,
              "seed": 1, "deterministic": True, "num_threads": 1, "force_col_wise": True, "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(X, y, categorical_feature=["cause"]), num_boost_round=30)
    return booster, X


def test_contributions_sum_to_the_raw_score(model):
    booster, X = model
    by_feature, bias = contributions(booster, X[FEATURES[::-1]])   # reordered: read in model order

    assert list(by_feature.columns) == FEATURES
    assert by_feature.index.equals(X.index) and bias.index.equals(X.index)
    np.testing.assert_allclose(by_feature.sum(axis=1) + bias, booster.predict(X, raw_score=True), rtol=0, atol=1e-9)


def test_contributions_name_the_missing_feature(model):
    booster, X = model
    with pytest.raises(ValueError, match="deposit_total"):
        contributions(booster, X.drop(columns="deposit_total"))


def test_the_driving_feature_is_the_first_reason_of_high_risk_rows(model):
    booster, X = model
    by_feature, _ = contributions(booster, X)
    reasons = top_reasons(by_feature, X, k=4)

    high = booster.predict(X, raw_score=True) > 2
    assert high.sum() > 50
    assert (reasons.loc[high, "reason_codes"].str[0] == DRIVER).all()
    assert reasons.loc[high, "reason_1"].str.match(r"近两年最长逾期天数：\d+天$").all()


def test_reasons_are_positive_contributions_best_first(model):
    booster, X = model
    by_feature, _ = contributions(booster, X)
    reasons = top_reasons(by_feature, X, k=4)

    assert list(reasons.columns) == ["reason_1", "reason_2", "reason_3", "reason_4", "reason_codes", "reason_contributions"]
    for case_no, row in reasons.iterrows():
        amounts = row["reason_contributions"]
        positive = by_feature.loc[case_no][by_feature.loc[case_no] > 0]
        assert all(a > 0 for a in amounts)
        assert amounts == sorted(amounts, reverse=True)
        texts = [row[f"reason_{i}"] for i in range(1, 5)]
        assert texts == [t for t in texts if t is not None] + [None] * (4 - len(amounts))
        if PAIR not in row["reason_codes"]:
            assert len(amounts) == min(4, len(positive))
            assert amounts == pytest.approx(positive.sort_values(ascending=False).iloc[:4].tolist())
        if PAIR in row["reason_codes"]:
            merged = texts[row["reason_codes"].index(PAIR)]
            assert merged.startswith("立案前12个月内离婚且资产转移给配偶或前配偶（价值") and merged.endswith("元）")
        cause_texts = [t for t in texts if t and t.startswith("案由：")]
        assert all(t.removeprefix("案由：") in CATEGORY_LABELS["cause"].values() for t in cause_texts)
    assert reasons["reason_codes"].map(lambda codes: PAIR in codes).any()


def hand_built(rows: list[dict[str, float]], values: list[dict[str, object]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    index = pd.Index([f"C{i}" for i in range(len(rows))], name="case_no")
    return pd.DataFrame(rows, index=index, columns=FEATURES), pd.DataFrame(values, index=index, columns=FEATURES)


VALUES = {"max_overdue_days_24m": 200.0, "deposit_total": 1_234_567.0, "divorced_12m": 1.0,
          "disposed_to_spouse_value_12m": 320_000.0, "cause": "private_lending"}


def test_fewer_reasons_than_k_when_fewer_contributions_are_positive():
    contrib, X = hand_built(
        [{"max_overdue_days_24m": 0.9, "deposit_total": -0.4, "divorced_12m": 0.0,
          "disposed_to_spouse_value_12m": -0.1, "cause": 0.2},
         {**dict.fromkeys(FEATURES, -0.3), "cause": 0.1},
         dict.fromkeys(FEATURES, -0.3)],
        [VALUES, {**VALUES, "cause": None}, VALUES])

    reasons = top_reasons(contrib, X, k=4)

    assert reasons.loc["C0", "reason_codes"] == ["max_overdue_days_24m", "cause"]
    assert reasons.loc["C0", "reason_contributions"] == [0.9, 0.2]
    assert reasons.loc["C0", ["reason_1", "reason_2", "reason_3", "reason_4"]].tolist() == [
        "近两年最长逾期天数：200天", "案由：民间借贷纠纷", None, None]
    assert reasons.loc["C1", "reason_codes"] == ["cause"]
    assert reasons.loc["C1", "reason_1"] == "案由：无记录"
    assert reasons.loc["C2", "reason_codes"] == [] and reasons.loc["C2", "reason_contributions"] == []
    assert reasons.loc["C2", ["reason_1", "reason_2", "reason_3", "reason_4"]].isna().all()


def test_a_combined_reason_takes_one_slot_ranked_by_its_sum_and_frees_one():
    contrib, X = hand_built(
        [{"max_overdue_days_24m": 0.8, "disposed_to_spouse_value_12m": 0.6, "divorced_12m": 0.5,
          "deposit_total": 0.1, "cause": -0.2}],
        [VALUES])

    reasons = top_reasons(contrib, X, k=3)

    assert reasons.loc["C0", "reason_codes"] == [PAIR, "max_overdue_days_24m", "deposit_total"]
    assert reasons.loc["C0", "reason_contributions"] == pytest.approx([1.1, 0.8, 0.1])
    assert reasons.loc["C0", ["reason_1", "reason_2", "reason_3"]].tolist() == [
        "立案前12个月内离婚且资产转移给配偶或前配偶（价值32万元）", "近两年最长逾期天数：200天", "银行存款总额：123.5万元"]


def test_a_pair_outside_the_top_k_or_without_both_facts_stays_apart():
    contrib, X = hand_built(
        [{"divorced_12m": 0.8, "max_overdue_days_24m": 0.6, "disposed_to_spouse_value_12m": 0.5,
          "deposit_total": 0.1, "cause": -0.2}] * 2,
        [VALUES, {**VALUES, "divorced_12m": 0.0}])

    just_outside = top_reasons(contrib.iloc[:1], X.iloc[:1], k=2)
    not_divorced = top_reasons(contrib.iloc[1:], X.iloc[1:], k=3)

    assert just_outside.iloc[0]["reason_codes"] == ["divorced_12m", "max_overdue_days_24m"]
    assert not_divorced.iloc[0]["reason_codes"] == ["divorced_12m", "max_overdue_days_24m", "disposed_to_spouse_value_12m"]
    assert not_divorced.iloc[0]["reason_1"] == "立案前一年内离婚：否"
    assert not_divorced.iloc[0]["reason_3"] == "财产转移给配偶或前配偶：32万元"


def test_top_reasons_refuses_frames_that_do_not_line_up():
    contrib, X = hand_built([dict.fromkeys(FEATURES, 0.1)], [VALUES])
    with pytest.raises(ValueError, match="cause"):
        top_reasons(contrib, X.drop(columns="cause"))
    with pytest.raises(ValueError, match="index"):
        top_reasons(contrib, X.set_axis(["other"]))


@pytest.mark.parametrize(("feature", "value", "text"), [
    ("deposit_total", 32_000, "银行存款总额：3.2万元"),
    ("deposit_total", 1_234_567, "银行存款总额：123.5万元"),
    ("deposit_total", 10_000, "银行存款总额：1万元"),
    ("deposit_total", 9_999.6, "银行存款总额：1万元"),
    ("deposit_total", 9_999.4, "银行存款总额：9999元"),
    ("deposit_total", 850.5, "银行存款总额：851元"),
    ("deposit_total", 0, "银行存款总额：0元"),
    ("deposit_total", Decimal("45000.00"), "银行存款总额：4.5万元"),
    ("deposit_change_4q", -32_000, "近一年存款变化：-3.2万元"),
    ("deposit_total", None, "银行存款总额：无记录"),
    ("deposit_total", np.nan, "银行存款总额：无记录"),
    ("deposit_total", pd.NA, "银行存款总额：无记录"),
    ("divorced_12m", 1, "立案前一年内离婚"),
    ("divorced_12m", 1.0, "立案前一年内离婚"),
    ("divorced_12m", 0, "立案前一年内离婚：否"),
    ("divorced_12m", None, "立案前一年内离婚：无记录"),
    ("loans_outstanding", 3.0, "未结清贷款笔数：3"),
    ("max_overdue_days_24m", 45, "近两年最长逾期天数：45天"),
    ("years_since_registration_change", 3.46, "户籍迁移时间：3.5年"),
    ("years_since_registration_change", 2.0, "户籍迁移时间：2年"),
    ("age_at_filing", 45, "被执行人年龄：45岁"),
    ("luxury_share_12m", 0.35, "奢侈品消费占比高：35%"),
    ("spend_to_income_12m", 2.4, "消费明显高于收入：2.4倍"),
    ("orders_link_evidence", 2.5, "网购数据匹配强度：2.5"),
    ("cause", "private_lending", "案由：民间借贷纠纷"),
    ("cause", "not_in_the_contract", "案由：not_in_the_contract"),
    ("cause", np.nan, "案由：无记录"),
    ("education", "bachelor", "学历：本科"),
    ("occupation", "self_employed", "职业：个体经营者"),
    ("marital_status", "divorced", "婚姻状况：离异"),
    ("applicant_kind", "bank", "申请执行人类型：银行"),
    ("hukou_province", "44", "户籍省份：广东省"),
])
def test_reason_text(feature, value, text):
    assert reason_text(feature, value) == text


def test_reason_text_names_an_unknown_feature():
    with pytest.raises(KeyError, match="no_such_feature"):
        reason_text("no_such_feature", 1)


def test_every_feature_has_a_reason_phrase():
    assert not [f.name for f in load_dictionary() if not f.reason_zh.strip()]


# Where each categorical feature's codes come from (marital_status is derived in features/identity.py).
CATEGORY_SOURCES = {
    "education": ("population/persons", "education"),
    "occupation": ("population/persons", "occupation"),
    "cause": ("court/cases", "cause"),
    "applicant_kind": ("court/cases", "applicant_kind"),
}


def test_every_category_code_has_a_chinese_label():
    categorical = {f.name for f in load_dictionary() if f.is_categorical}
    assert categorical == set(CATEGORY_LABELS)
    for feature, (source, column) in CATEGORY_SOURCES.items():
        unlabelled = set(dataset(source).column(column).values) - set(CATEGORY_LABELS[feature])
        assert not unlabelled, f"{feature}: no Chinese label for {sorted(unlabelled)}"
    assert set(CATEGORY_LABELS["marital_status"]) == {"married", "divorced", "none_registered"}


def test_combined_reasons_name_dictionary_features():
    names = {f.name for f in load_dictionary()}
    assert all({rule.feature_a, rule.feature_b} <= names for rule in COMBINED_REASONS)
