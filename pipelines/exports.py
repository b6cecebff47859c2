"""The filing clerks' nightly export: one CSV and one XLSX per court, and a Markdown summary.

Pure pandas and openpyxl, no Spark. The scoring job hands over a small pandas frame of
tonight's scored cases (one row per case); this module turns it into files a clerk opens in
Excel. Three properties matter more than looks:

* formula injection: a text cell that a spreadsheet would read as a formula gets a leading
  apostrophe (OWASP "CSV injection"), and XLSX text cells are typed as strings;
* the court code is data, not a path: it becomes a file-name stem that cannot leave the
  export folder, name a Windows device, or collide with another court's stem;
* a clerk never opens a half-written file: each file is written under a temporary name in
  the same folder and moved into place with `os.replace`.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import math
import os
import re
import secrets
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from models.metrics import BANDS

__all__ = [
    "EXPORT_COLUMNS", "INPUT_COLUMNS", "BANDS", "SHEET_NAME", "Sheet", "CLERK_SHEET",
    "clerk_table", "neutralised", "to_csv_bytes", "to_xlsx_bytes", "safe_file_stem",
    "write_text_atomic", "write_court_exports", "write_court_files", "nightly_summary",
]

log = logging.getLogger(__name__)

EXPORT_COLUMNS = ["案号", "立案日期", "被执行人", "证件号码(脱敏)", "执行标的", "风险概率", "风险等级", "主要风险因素"]
INPUT_COLUMNS = ["case_no", "court_code", "filed_on", "respondent_names", "masked_ids",
                 "claim_amount", "probability", "band", "reasons"]
DRIFT_COLUMNS = ["scope", "feature", "psi", "level", "n_cases"]
SHEET_NAME = "风险评估"

_NUMBER_FORMATS = {"执行标的": "#,##0.00", "风险概率": "0.0%"}
# OWASP CSV-injection advice: Excel, LibreOffice and Sheets evaluate a cell starting with these.
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# XML 1.0 cannot hold these (openpyxl raises IllegalCharacterError) and UTF-8 cannot encode lone
# surrogates; they are dropped from both files so that the CSV and the XLSX agree.
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_STEM_MAX_CHARS = 60
# Linux allows 255 bytes per name; a CJK character is 3-4 bytes and the temporary name adds ~30.
_STEM_MAX_BYTES = 180
_EXPORT_SUFFIXES = (".csv", ".xlsx")


# --- the table a clerk sees -------------------------------------------------------------------

def clerk_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Tonight's cases with the Chinese headers, riskiest first, every text cell formula-safe."""
    rows = _checked(rows)
    probability = _probabilities(rows)
    table = pd.DataFrame({
        "案号": [_text(v) for v in rows["case_no"]],
        "立案日期": [_date_text(v) for v in rows["filed_on"]],
        "被执行人": [_joined(v, "、") for v in rows["respondent_names"]],
        "证件号码(脱敏)": [_joined(v, "、") for v in rows["masked_ids"]],
        "执行标的": [_amount(v) for v in rows["claim_amount"]],
        "风险概率": probability.to_numpy(dtype=float),
        "风险等级": [_text(v) for v in rows["band"]],
        "主要风险因素": [_joined(v, "；") for v in rows["reasons"]],
    }, columns=EXPORT_COLUMNS)
    order = pd.DataFrame({
        "p": table["风险概率"],
        "date": table["立案日期"].where(table["立案日期"] != "", None),
        "case_no": table["案号"],
    })
    # Lexsort over several keys is stable, so full ties keep the input order.
    ranked = order.sort_values(["p", "date", "case_no"], ascending=[False, True, True], na_position="last").index
    table = table.loc[ranked].reset_index(drop=True)
    for column in EXPORT_COLUMNS:
        if column not in _NUMBER_FORMATS:
            table[column] = table[column].map(neutralised)
    return table


def _checked(rows: pd.DataFrame) -> pd.DataFrame:
    """The input frame, or a ValueError naming what is wrong with it."""
    missing = [c for c in INPUT_COLUMNS if c not in rows.columns]
    if missing and len(rows):
        raise ValueError(f"scored rows lack columns: {missing}")
    if missing:  # a night without cases may arrive as a bare DataFrame()
        rows = rows.reindex(columns=[*rows.columns, *missing])
    bad_bands = sorted({str(b) for b in rows["band"] if b not in BANDS})
    if bad_bands:
        raise ValueError(f"band must be one of {list(BANDS)}; got {bad_bands}")
    return rows


def _probabilities(rows: pd.DataFrame) -> pd.Series:
    probability = pd.to_numeric(rows["probability"], errors="raise").astype(float)
    outside = probability.notna() & ~probability.between(0.0, 1.0)
    if outside.any():
        raise ValueError(f"probability outside [0, 1] for cases {list(rows.loc[outside, 'case_no'])[:5]}")
    return probability


def neutralised(text: str) -> str:
    """The text as a spreadsheet must show it: never a formula. Idempotent."""
    text = _UNWRITABLE.sub("", text)
    return "'" + text if text.startswith(_FORMULA_TRIGGERS) else text


def _is_missing(value) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def _text(value) -> str:
    return "" if _is_missing(value) else str(value)


def _joined(items, separator: str) -> str:
    if _is_missing(items):
        return ""
    if isinstance(items, str):  # one name, not a sequence of characters
        items = [items]
    # Spark's toPandas gives arrays as numpy arrays, so accept any iterable.
    return separator.join(str(item).strip() for item in items if not _is_missing(item) and str(item).strip())


def _date_text(value) -> str:
    if _is_missing(value):
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return pd.Timestamp(value).date().isoformat()


def _amount(value) -> float:
    """Yuan rounded half-up to the fen, as a clerk would round (not binary float rounding)."""
    if _is_missing(value):
        return math.nan
    try:
        return float(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    except InvalidOperation as error:
        raise ValueError(f"claim_amount is not a finite amount: {value!r}") from error


def _percent_text(probability: float) -> str:
    if _is_missing(probability):
        return ""
    # Through the decimal text of the float, so that 0.7325 shows 73.3% as Excel's "0.0%" does.
    percent = (Decimal(repr(float(probability))) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{percent}%"


# --- file contents ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Sheet:
    """One kind of court file: its columns, the Excel number format of the numeric ones, its sheet name.

    Every other column is text: formula-neutralised in both files and typed as a string in XLSX.
    `wrap` columns hold several lines (a lead per line) and wrap in Excel.
    """

    name: str
    columns: tuple[str, ...]
    number_formats: dict[str, str] = field(default_factory=dict)
    wrap: tuple[str, ...] = ()
    file_suffix: str = ""        # "<court stem><suffix>.csv"


CLERK_SHEET = Sheet(SHEET_NAME, tuple(EXPORT_COLUMNS), _NUMBER_FORMATS)


def _number_text(value, number_format: str, grouped: bool = False) -> str:
    """A number as the CSV (or Excel, `grouped`) shows it under its format."""
    if _is_missing(value):
        return ""
    if number_format.endswith("%"):
        return _percent_text(value)
    if number_format.endswith(".00"):
        return f"{float(value):,.2f}" if grouped else f"{float(value):.2f}"
    return f"{int(value)}"


def to_csv_bytes(table: pd.DataFrame, sheet: Sheet = CLERK_SHEET) -> bytes:
    """A court table as RFC 4180 CSV in UTF-8 with a BOM (without it Excel garbles Chinese)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(sheet.columns)
    for record in table[list(sheet.columns)].itertuples(index=False, name=None):
        writer.writerow([
            _number_text(value, sheet.number_formats[column]) if column in sheet.number_formats
            else neutralised(_text(value))
            for column, value in zip(sheet.columns, record)
        ])
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx_bytes(table: pd.DataFrame, sheet: Sheet = CLERK_SHEET) -> bytes:
    """A court table as one XLSX sheet: bold frozen header, filter, number formats, text as strings."""
    workbook = Workbook()
    worksheet = workbook.active
    worksheet.title = sheet.name
    workbook.properties.creator = "zhixing"
    columns = list(sheet.columns)
    widths = {column: _display_width(column) + 3 for column in columns}  # +3: the filter button
    for column_index, column in enumerate(columns, start=1):
        worksheet.cell(row=1, column=column_index, value=column).font = Font(bold=True)
    wrapped = Alignment(wrap_text=True, vertical="top")
    for row_index, record in enumerate(table[columns].itertuples(index=False, name=None), start=2):
        for column_index, (column, value) in enumerate(zip(columns, record), start=1):
            cell = worksheet.cell(row=row_index, column=column_index)
            if column in sheet.number_formats:
                cell.value = None if _is_missing(value) else float(value)
                cell.number_format = sheet.number_formats[column]
                shown = _number_text(cell.value, sheet.number_formats[column], grouped=True)
            else:
                cell.value = shown = neutralised(_text(value))
                cell.data_type = "s"  # never "f", whatever the text looks like
            if column in sheet.wrap:
                cell.alignment = wrapped
                shown = max(shown.split("\n"), key=_display_width, default="")
            widths[column] = max(widths[column], _display_width(shown) + 2)
    for column_index, column in enumerate(columns, start=1):
        worksheet.column_dimensions[get_column_letter(column_index)].width = min(widths[column], 60)
    worksheet.freeze_panes = "A2"
    worksheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(table) + 1}"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _display_width(text: str) -> int:
    """Columns the text takes in Excel: CJK characters are about two Latin ones wide."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


# --- file names and writing -------------------------------------------------------------------

def safe_file_stem(court_code: str) -> str:
    """A file-name stem for the court, safe whatever the code holds, distinct for distinct codes.

    Letters and digits are kept ("苏0312" stays "苏0312"); anything else becomes "_". A code that
    had to change gets "-" and 8 hex digits of its SHA-256, and an unchanged stem never holds "-",
    so two codes cannot meet on one stem. Codes with Latin-style cased letters count as changed:
    Windows and macOS shares fold case, and "ab" and "AB" would otherwise be one file there.
    """
    if not isinstance(court_code, str):
        raise TypeError(f"court code must be a string, got {type(court_code).__name__}")
    digest = hashlib.sha256(court_code.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    body = "".join(ch if unicodedata.category(ch)[0] in "LN" else "_"
                   for ch in unicodedata.normalize("NFKC", court_code))
    if not body.strip("_"):
        return f"court-{digest}"
    if body.upper() in _WINDOWS_RESERVED:
        body = "court_" + body
    has_case = any(ch.lower() != ch.upper() for ch in body)
    if body == court_code and not has_case and _fits(body, _STEM_MAX_CHARS, _STEM_MAX_BYTES):
        return body
    suffix = f"-{digest}"
    body = body[:_STEM_MAX_CHARS - len(suffix)]
    while not _fits(body, _STEM_MAX_CHARS - len(suffix), _STEM_MAX_BYTES - len(suffix)):
        body = body[:-1]
    return body + suffix


def _fits(text: str, max_chars: int, max_bytes: int) -> bool:
    return len(text) <= max_chars and len(text.encode("utf-8")) <= max_bytes


def write_text_atomic(path: Path, text: str) -> Path:
    """Write UTF-8 text so that readers see the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _write_bytes_atomic(path, text.encode("utf-8"))


def _write_bytes_atomic(path: Path, data: bytes) -> Path:
    # Same folder, so os.replace is a rename on one file system; O_EXCL so that nothing planted
    # under the temporary name (a symlink, say) is followed.
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def write_court_exports(rows: pd.DataFrame, folder: Path, courts: Iterable[str]) -> dict[str, dict[str, Path]]:
    """Write `<stem>.csv` and `<stem>.xlsx` per court and remove the night's other exports.

    Courts are `courts` together with those in `rows`; a court without cases tonight gets
    header-only files. Returns {court code: {"csv": path, "xlsx": path}}.
    """
    if isinstance(courts, (str, bytes)):
        raise TypeError("courts must be an iterable of court codes, not a single string")
    rows = _checked(rows)
    codes = _court_codes(rows)
    tables = {court: clerk_table(rows[(codes == court).to_numpy()]) for court in sorted({*courts, *codes})}
    return write_court_files(tables, folder, CLERK_SHEET)


def write_court_files(tables: Mapping[str, pd.DataFrame], folder: Path, sheet: Sheet) -> dict[str, dict[str, Path]]:
    """Write one CSV and one XLSX per court (`<stem><suffix>.csv|.xlsx`) and remove the folder's other exports.

    Every file is rendered before any is written, so a bad value fails the run without touching
    last night's files; stale `*.csv`/`*.xlsx` go only after all writes succeeded.
    """
    started = time.perf_counter()
    stems = {court: safe_file_stem(court) + sheet.file_suffix for court in sorted(tables)}
    folded = Counter(stem.casefold() for stem in stems.values())
    clashes = sorted(court for court, stem in stems.items() if folded[stem.casefold()] > 1)
    if clashes:  # needs a SHA-256 prefix collision; refuse rather than let one court overwrite another
        raise ValueError(f"court codes share a file name: {clashes!r}")
    rendered = {court: {"csv": to_csv_bytes(tables[court], sheet), "xlsx": to_xlsx_bytes(tables[court], sheet)}
                for court in stems}

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve(strict=True)
    written: dict[str, dict[str, Path]] = {}
    for court, contents in rendered.items():
        written[court] = {kind: _write_bytes_atomic(_inside(root, f"{stems[court]}.{kind}"), data)
                          for kind, data in contents.items()}
    kept = {path.name.casefold() for paths in written.values() for path in paths.values()}
    removed = _remove_stale_exports(root, kept)
    log.info("%s files: %d rows, %d courts, %d files written, %d stale removed, %.2fs", sheet.name,
             sum(len(t) for t in tables.values()), len(written), 2 * len(written), len(removed),
             time.perf_counter() - started)
    return written


def _court_codes(rows: pd.DataFrame) -> pd.Series:
    is_bad = ~rows["court_code"].map(lambda code: isinstance(code, str))
    if is_bad.any():
        raise ValueError(f"court_code missing or not text for cases {list(rows.loc[is_bad, 'case_no'])[:5]}")
    return rows["court_code"].astype(object)


def _inside(root: Path, name: str) -> Path:
    """root/name, or a ValueError when it would land anywhere but directly in root."""
    target = root / name
    if target.parent != root or target.resolve().parent != root:
        raise ValueError(f"export file {name!r} would leave the folder {root}")
    return target


def _remove_stale_exports(root: Path, kept_casefolded: set[str]) -> list[Path]:
    removed = []
    for entry in sorted(root.iterdir()):
        name = entry.name
        if entry.suffix.lower() not in _EXPORT_SUFFIXES or name.casefold() in kept_casefolded:
            continue
        # Dot-files are in-flight temporaries; "~$" files are Excel's locks on a workbook a clerk has open.
        if name.startswith((".", "~$")) or not (entry.is_symlink() or entry.is_file()):
            continue
        entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


# --- the nightly summary ----------------------------------------------------------------------

def nightly_summary(run_date: dt.date | str, rows: pd.DataFrame, drift: pd.DataFrame | None,
                    notes: list[str]) -> str:
    """Markdown for the night: cases per court and band, the commonest reasons, drift, notes."""
    rows = _checked(rows)
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
    counts = Counter(zip(_court_codes(rows), rows["band"]))
    lines = ["## 各法院风险等级 Cases by court and band", "",
             "| 法院 court | 高 | 中 | 低 | 合计 |", "|---|---:|---:|---:|---:|"]
    for court in sorted(set(_court_codes(rows))):
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
