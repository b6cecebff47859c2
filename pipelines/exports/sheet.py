"""The one writer of court files: a `Sheet` rendered as CSV and XLSX, one pair per court.

Pure pandas and openpyxl, no Spark. Every file a clerk opens (the risk files, the
asset watch's, the whereabouts') is written here. Three properties matter more than looks:

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
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from pipelines.core import faults
from pipelines.core.timing import stage

__all__ = ["Sheet", "neutralised", "to_csv_bytes", "to_xlsx_bytes", "safe_file_stem", "write_text_atomic",
           "write_court_files"]

log = logging.getLogger(__name__)


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


def _number_text(value, number_format: str, grouped: bool = False) -> str:
    """A number as the CSV (or Excel, `grouped`) shows it under its format."""
    if _is_missing(value):
        return ""
    if number_format.endswith("%"):
        return _percent_text(value)
    if number_format.endswith(".00"):
        return f"{float(value):,.2f}" if grouped else f"{float(value):.2f}"
    return f"{int(value)}"


def to_csv_bytes(table: pd.DataFrame, sheet: Sheet) -> bytes:
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


def to_xlsx_bytes(table: pd.DataFrame, sheet: Sheet) -> bytes:
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
            if faults.armed(f"file/{path.name}:during"):   # the crash tests: die with half a file written
                handle.write(data[:len(data) // 2])
                handle.flush()
                faults.kill()
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    faults.point(f"file/{path.name}:after")
    return path


def write_court_files(tables: Mapping[str, pd.DataFrame], folder: Path, sheet: Sheet) -> dict[str, dict[str, Path]]:
    """Write one CSV and one XLSX per court (`<stem><suffix>.csv|.xlsx`) and remove the folder's other exports.

    Every file is rendered before any is written, so a bad value fails the run without touching
    last night's files; stale `*.csv`/`*.xlsx` go only after all writes succeeded.
    """
    with stage(f"files.{sheet.name}", log) as timed:
        written = _write_court_files(tables, Path(folder), sheet)
        timed.rows, timed.fields["courts"] = sum(len(t) for t in tables.values()), len(written)
    return written


def _write_court_files(tables: Mapping[str, pd.DataFrame], folder: Path, sheet: Sheet) -> dict[str, dict[str, Path]]:
    stems = {court: safe_file_stem(court) + sheet.file_suffix for court in sorted(tables)}
    folded = Counter(stem.casefold() for stem in stems.values())
    clashes = sorted(court for court, stem in stems.items() if folded[stem.casefold()] > 1)
    if clashes:  # needs a SHA-256 prefix collision; refuse rather than let one court overwrite another
        raise ValueError(f"court codes share a file name: {clashes!r}")
    rendered = {court: {"csv": to_csv_bytes(tables[court], sheet), "xlsx": to_xlsx_bytes(tables[court], sheet)}
                for court in stems}

    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve(strict=True)
    written: dict[str, dict[str, Path]] = {}
    for court, contents in rendered.items():
        written[court] = {kind: _write_bytes_atomic(_inside(root, f"{stems[court]}.{kind}"), data)
                          for kind, data in contents.items()}
    kept = {path.name.casefold() for paths in written.values() for path in paths.values()}
    removed = _remove_stale_exports(root, kept) + _remove_dead_temporaries(root)
    if removed:
        log.info("%s: removed %d stale file(s) from %s", sheet.name, len(removed), root)
    return written


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


# `_write_bytes_atomic`'s temporary names: ".<name>.tmp-<writer's pid>-<8 hex digits>".
_TEMPORARY = re.compile(r"\..+\.tmp-(\d+)-[0-9a-f]{8}")


def _remove_dead_temporaries(root: Path) -> list[Path]:
    """Remove the temporaries of writers that died before moving them into place (a killed night).

    Only those whose process is gone: a temporary of a running writer is in flight. (Jobs that write
    exports hold the lake's run lock, so a live one is rare; a pid reused since leaves its file for
    a later night.)"""
    removed = []
    for entry in sorted(root.iterdir()):
        match = _TEMPORARY.fullmatch(entry.name)
        if match is None or not entry.is_file() or entry.is_symlink() or _is_running(int(match.group(1))):
            continue
        entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _is_running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:      # another user's live process
        return True
    return True




