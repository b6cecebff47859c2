"""The nightly summary (summary.md): cases per court and band, the commonest reasons, drift, notes."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import Counter

import pandas as pd

from models.metrics import BANDS
from pipelines.exports.scored import checked, court_codes_of
from pipelines.exports.sheet import _is_missing, _text

__all__ = ["nightly_summary", "DRIFT_COLUMNS"]

DRIFT_COLUMNS = ["scope", "feature", "psi", "level", "n_cases"]


def nightly_summary(run_date: dt.date | str, rows: pd.DataFrame, drift: pd.DataFrame | None,
                    notes: list[str]) -> str:
    """Markdown for the night: cases per court and band, the commonest reasons, drift, notes."""
    rows = checked(rows)
    label = run_date.isoformat() if isinstance(run_date, dt.date) else _md_text(run_date)
    lines = [f"# 执行风险夜间汇总 Nightly risk summary — {label}", ""]
    if rows.empty:
        lines += ["今晚没有新立案的案件 — no new cases were filed tonight (0 cases scored).", ""]
    else:
        lines += [f"列入本院文件的新立案案件 Cases in the clerks' files: **{len(rows)}**", ""]
        lines += _band_section(rows) + _reason_section(rows)
    lines += _drift_section(drift) + _notes_section(notes or [])
    return "\n".join(lines).rstrip("\n") + "\n"


def _band_section(rows: pd.DataFrame) -> list[str]:
    counts = Counter(zip(court_codes_of(rows), rows["band"]))
    lines = ["## 各法院风险等级 Cases by court and band", "",
             "| 法院 court | 高 | 中 | 低 | 合计 |", "|---|---:|---:|---:|---:|"]
    for court in sorted(set(court_codes_of(rows))):
        per_band = [counts[(court, band)] for band in BANDS]
        lines.append(f"| {_md_text(court) or '（空）'} | " + " | ".join(map(str, per_band)) + f" | {sum(per_band)} |")
    totals = [sum(n for (_, band), n in counts.items() if band == b) for b in BANDS]
    lines += ["| **合计** | " + " | ".join(map(str, totals)) + f" | {sum(totals)} |", ""]
    return lines


def _reason_section(rows: pd.DataFrame) -> list[str]:
    """The ten commonest feature phrases: "银行存款总额：3.2万元" counts as "银行存款总额"."""
    phrases: Counter[str] = Counter()
    for reasons in rows["reasons"]:
        if _is_missing(reasons):
            continue
        for reason in [reasons] if isinstance(reasons, str) else reasons:
            phrase = "" if _is_missing(reason) else str(reason).split("：", 1)[0].strip()
            if phrase:
                phrases[phrase] += 1
    lines = ["## 今晚主要风险因素 Top reasons tonight", ""]
    if not phrases:
        return lines + ["（今晚的案件没有风险因素）", ""]
    lines += ["| # | 风险因素 reason | 次数 count |", "|---:|---|---:|"]
    top = sorted(phrases.items(), key=lambda item: (-item[1], item[0]))[:10]
    lines += [f"| {rank} | {_md_text(phrase)} | {n} |" for rank, (phrase, n) in enumerate(top, start=1)]
    return lines + [""]


def _drift_section(drift: pd.DataFrame | None) -> list[str]:
    lines = ["## 特征漂移 Drift (PSI)", ""]
    if drift is None:
        return lines + ["（未运行漂移检查 — no drift check ran）", ""]
    missing = [c for c in DRIFT_COLUMNS if c not in drift.columns]
    if missing:
        raise ValueError(f"drift frame lacks columns: {missing}")
    if drift.empty:
        return lines + ["（无漂移结果 — no drift results）", ""]
    ordered = (drift.assign(psi_value=pd.to_numeric(drift["psi"], errors="coerce"),
                            scope_text=drift["scope"].astype(str), feature_text=drift["feature"].astype(str))
               .sort_values(["psi_value", "scope_text", "feature_text"], ascending=[False, True, True],
                            na_position="last"))
    shifted = ordered[ordered["level"] == "shift"]
    if len(shifted):
        names = "、".join(f"{_md_text(r.feature)} ({_md_text(r.scope)})" for r in shifted.itertuples())
        lines += [f"⚠️ **SHIFT** — {len(shifted)} 个特征分布显著漂移 features shifted: {names}", ""]
    lines += ["| 范围 scope | 特征 feature | PSI | 等级 level | 案件数 cases |", "|---|---|---:|---|---:|"]
    for r in ordered.itertuples():
        psi = "—" if _is_missing(r.psi_value) else f"{r.psi_value:.3f}"
        level = "**SHIFT**" if r.level == "shift" else _md_text(r.level)
        cases = "—" if _is_missing(r.n_cases) else str(int(r.n_cases))
        lines.append(f"| {_md_text(r.scope)} | {_md_text(r.feature)} | {psi} | {level} | {cases} |")
    return lines + [""]


def _notes_section(notes: list[str]) -> list[str]:
    lines = ["## 备注 Notes", ""]
    return lines + ([f"- {_md_text(note)}" for note in notes] or ["（无）"]) + [""]


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~#])")

_MD_LIST_START = re.compile(r"^(\d+)([.)])|^([+\-=])")


def _md_text(value) -> str:
    """Any text as one line of literal Markdown: court codes and notes are data, not markup."""
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in _text(value))
    text = _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))
    # A leading "-", "+" or "1." would start a nested list inside a bullet.
    return _MD_LIST_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}" if m.group(1) else f"\\{m.group(3)}", text)
