"""Why a case scores high: TreeSHAP contributions turned into the phrases a filing clerk reads.

    by_feature, bias = contributions(booster, X)       # log-odds; by_feature.sum(axis=1) + bias == raw score
    reasons = top_reasons(by_feature, X, k=4)          # reason_1..reason_4, reason_codes, reason_contributions
    reason_text("deposit_total", 32_000)               # "银行存款总额：3.2万元"

`reason_text` is the one formatter of a feature's value; scoring uses it too, so a
reason reads the same wherever it is shown.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from functools import cache
from typing import NamedTuple

import lightgbm
import numpy as np
import pandas as pd

from features.catalogue import Feature, load_dictionary
from features.text import number_text as _number
from features.text import yuan_text as _yuan

__all__ = ["CATEGORY_LABELS", "COMBINED_REASONS", "CombinedReason", "contributions", "reason_text", "top_reasons"]

logger = logging.getLogger(__name__)

NULL_TEXT = "无记录"
FLAG_OFF_TEXT = "否"

# Chinese labels of the category codes, by feature; a code missing here is shown as it is.
# The codes are the contract's enums (conf/contract.yaml), marital_status's values from
# features/identity.py, and hukou_province the first two digits of the GB/T 2260 region code.
CATEGORY_LABELS: dict[str, dict[str, str]] = {
    "education": {
        "primary": "小学", "junior_high": "初中", "senior_high": "高中", "vocational": "中专/大专",
        "bachelor": "本科", "master": "硕士", "doctorate": "博士", "unknown": "不详",
    },
    "occupation": {
        "farmer": "农民", "worker": "工人", "civil_servant": "公务员", "professional": "专业技术人员",
        "self_employed": "个体经营者", "unemployed": "无业", "retired": "退休", "student": "学生", "other": "其他",
    },
    "marital_status": {"married": "已婚", "divorced": "离异", "none_registered": "无婚姻登记"},
    "cause": {
        "private_lending": "民间借贷纠纷", "financial_loan": "金融借款合同纠纷", "sales_contract": "买卖合同纠纷",
        "labor": "劳动争议", "tort": "侵权责任纠纷", "other": "其他",
    },
    "applicant_kind": {"person": "自然人", "company": "企业", "bank": "银行"},
    "hukou_province": {
        "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
        "21": "辽宁省", "22": "吉林省", "23": "黑龙江省",
        "31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省", "37": "山东省",
        "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区", "46": "海南省",
        "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省", "54": "西藏自治区",
        "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区", "65": "新疆维吾尔自治区",
        "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
    },
}


class CombinedReason(NamedTuple):
    """Two features told as one sentence when both are among a row's top reasons.

    `template` takes `{a}` and `{b}`, the two values formatted as in `reason_text`.
    """

    feature_a: str
    feature_b: str
    template: str


COMBINED_REASONS: tuple[CombinedReason, ...] = (
    CombinedReason("divorced_12m", "disposed_to_spouse_value_12m", "立案前12个月内离婚且资产转移给配偶或前配偶（价值{b}）"),
)


_UNIT_FORMATS: dict[str, Callable[[float], str]] = {
    "CNY": _yuan,
    "count": _number,
    "days": lambda x: f"{_number(x, 0)}天",
    "years": lambda x: f"{_number(x)}年",
    "share": lambda x: f"{_number(100 * x, 0)}%",
    "ratio": lambda x: f"{_number(x)}倍",
}

# Where the dictionary's unit reads wrongly in Chinese: an age is in 岁, and the two
# link-evidence features count agreeing identifiers (0-3), which "倍" would misstate.
_FEATURE_FORMATS: dict[str, Callable[[float], str]] = {
    "age_at_filing": lambda x: f"{_number(x, 0)}岁",
    "orders_link_evidence": _number,
    "social_link_evidence": _number,
}


def _is_null(value: object) -> bool:
    if isinstance(value, float):            # the common case (numpy floats too), kept cheap for 100k rows
        return value != value
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


@cache
def _default_by_name() -> dict[str, Feature]:
    return {f.name: f for f in load_dictionary()}


def _dictionary_by_name(dictionary: Iterable[Feature] | None) -> dict[str, Feature]:
    return _default_by_name() if dictionary is None else {f.name: f for f in dictionary}


def _feature(name: str, by_name: dict[str, Feature]) -> Feature:
    try:
        return by_name[name]
    except KeyError:
        raise KeyError(f"{name!r} is not in the feature dictionary (features/dictionary.yaml)") from None


def _value_text(feature: Feature, value: object) -> str:
    """The value alone, as a clerk reads it: "3.2万元", "45天", "民间借贷纠纷", "无记录"."""
    if _is_null(value):
        return NULL_TEXT
    if feature.unit == "category":
        return CATEGORY_LABELS.get(feature.name, {}).get(str(value), str(value))
    if feature.unit == "flag":
        return "是" if float(value) else FLAG_OFF_TEXT
    return _FEATURE_FORMATS.get(feature.name, _UNIT_FORMATS[feature.unit])(float(value))


def _reason_text(feature: Feature, value: object) -> str:
    if feature.unit == "flag" and not _is_null(value) and float(value):
        return feature.reason_zh
    return f"{feature.reason_zh}：{_value_text(feature, value)}"


def reason_text(feature_name: str, value: object, dictionary: Iterable[Feature] | None = None) -> str:
    """The feature's `reason_zh` with the row's value: "银行存款总额：3.2万元"; a set flag is the phrase alone."""
    return _reason_text(_feature(feature_name, _dictionary_by_name(dictionary)), value)


def contributions(booster: lightgbm.Booster, X: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """TreeSHAP contributions in log-odds: (one column per model feature, the bias), both indexed like X.

    X may hold more columns than the model; it is read in the model's feature order, so a
    reordered frame cannot shift a contribution onto the wrong feature. Per row,
    `by_feature.sum(axis=1) + bias` equals `booster.predict(X, raw_score=True)`.
    """
    started = time.perf_counter()
    names = booster.feature_name()
    missing = [n for n in names if n not in X.columns]
    if missing:
        raise ValueError(f"X lacks model feature column(s): {missing}")
    raw = booster.predict(X[names], pred_contrib=True)
    if raw.shape[1] != len(names) + 1:
        raise ValueError(f"expected {len(names) + 1} contribution columns (binary model), got {raw.shape[1]}")
    by_feature = pd.DataFrame(raw[:, :-1], index=X.index, columns=names)
    bias = pd.Series(raw[:, -1], index=X.index, name="bias")
    logger.info("contributions: %d rows in, %d rows out, %.2fs", len(X), len(by_feature), time.perf_counter() - started)
    return by_feature, bias


def _is_present(value: object) -> bool:
    # A combined sentence asserts both facts (a divorce, assets passed to the spouse), so it is
    # used only when both values are there and non-zero, whatever sign SHAP gave an absent one.
    return not _is_null(value) and float(value) != 0


def _walk(candidates: np.ndarray, values: dict[int, object], features: list[Feature], k: int,
          rules: list[tuple[int, int, str]]) -> list[tuple[str, list[int], str]]:
    """One row's reasons, merging rule pairs: (code, feature positions, text) per slot.

    `candidates` are the row's positive features by position, best first, and `values` their
    values. The walk stops when k slots are full, so a pair merges only if both made the cut.
    """
    slots: list[tuple[str, list[int], str]] = []
    for position in (int(p) for p in candidates if p >= 0):
        if len(slots) == k:
            break
        for a, b, template in rules:
            partner = b if position == a else a if position == b else None
            if partner is None or not (_is_present(values.get(a)) and _is_present(values.get(b))):
                continue
            slot = next((i for i, (_, members, _) in enumerate(slots) if members == [partner]), None)
            if slot is not None:
                text = template.format(a=_value_text(features[a], values[a]), b=_value_text(features[b], values[b]))
                slots[slot] = (f"{features[a].name}+{features[b].name}", [partner, position], text)
                break
        else:
            slots.append((features[position].name, [position], _reason_text(features[position], values[position])))
    return slots


def top_reasons(contrib: pd.DataFrame, X: pd.DataFrame, k: int = 4,
                dictionary: Iterable[Feature] | None = None) -> pd.DataFrame:
    """Per row, the k features that raise the risk most, best first, as Chinese text.

    Only positive contributions count, so a row may have fewer than k reasons (the rest are
    None). Columns: `reason_1..reason_k` (text), `reason_codes` (feature names; a combined
    reason's code is "a+b") and `reason_contributions` (log-odds; a combined reason's is the
    sum of its two), the lists aligned with the reason slots. A pair of `COMBINED_REASONS`
    within a row's top reasons becomes one sentence in one slot, ranked by that sum, and the
    next positive feature fills the slot it frees.
    """
    started = time.perf_counter()
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    names = list(contrib.columns)
    missing = [n for n in names if n not in X.columns]
    if missing:
        raise ValueError(f"X lacks contribution column(s): {missing}")
    if not contrib.index.equals(X.index):
        raise ValueError("contrib and X must share one index (row order included)")
    by_name = _dictionary_by_name(dictionary)
    features = [_feature(name, by_name) for name in names]

    n_rows, n_features = contrib.shape
    rules = [(names.index(r.feature_a), names.index(r.feature_b), r.template)
             for r in COMBINED_REASONS if r.feature_a in names and r.feature_b in names]
    # Each merge frees one slot, so k + len(rules) candidates are all a row can ever use.
    width = min(k + len(rules), n_features)
    matrix = contrib.to_numpy(dtype=float)
    order = np.argsort(-matrix, axis=1, kind="stable")[:, :width]
    candidates = np.where(np.take_along_axis(matrix, order, axis=1) > 0, order, -1)

    column_values: dict[int, np.ndarray] = {}

    def values_of(position: int) -> np.ndarray:
        if position not in column_values:
            column_values[position] = X[names[position]].to_numpy(dtype=object)
        return column_values[position]

    codes = np.full((n_rows, k), None, dtype=object)
    texts = np.full((n_rows, k), None, dtype=object)
    amounts = np.full((n_rows, k), np.nan)
    for slot in range(min(k, width)):
        chosen = candidates[:, slot]
        for position in np.unique(chosen[chosen >= 0]):
            rows = np.flatnonzero(chosen == position)
            codes[rows, slot] = names[position]
            amounts[rows, slot] = matrix[rows, position]
            texts[rows, slot] = [_reason_text(features[position], v) for v in values_of(position)[rows]]

    # Only rows holding both features of a pair among their candidates can merge; they are
    # few, so they alone take the per-row walk and overwrite their slots.
    may_merge = np.zeros(n_rows, dtype=bool)
    for a, b, _ in rules:
        may_merge |= (candidates == a).any(axis=1) & (candidates == b).any(axis=1)
    for row in np.flatnonzero(may_merge):
        row_values = {int(p): values_of(p)[row] for p in candidates[row] if p >= 0}
        slots = [(matrix[row, members].sum(), code, text)
                 for code, members, text in _walk(candidates[row], row_values, features, k, rules)]
        # A combined reason carries the sum of its two, which may outrank the slot before it.
        slots.sort(key=lambda s: -s[0])
        codes[row], texts[row], amounts[row] = None, None, np.nan
        for slot, (amount, code, text) in enumerate(slots):
            codes[row, slot], texts[row, slot], amounts[row, slot] = code, text, amount

    counts = (codes != None).sum(axis=1)  # noqa: E711 (elementwise on an object array)
    out = pd.DataFrame({f"reason_{slot + 1}": texts[:, slot] for slot in range(k)}, index=contrib.index)
    out["reason_codes"] = [list(codes[row, :n]) for row, n in enumerate(counts)]
    out["reason_contributions"] = [amounts[row, :n].tolist() for row, n in enumerate(counts)]
    logger.info("top_reasons: %d rows in, %d rows out, %d checked for combined reasons, %.2fs",
                n_rows, len(out), int(may_merge.sum()), time.perf_counter() - started)
    return out
