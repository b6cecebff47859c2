"""The filing clerks' nightly export: clerk table, safe file names, atomic per-court files, summary."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import unicodedata
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from pipelines.exports import sheet as exports
from pipelines.exports.risk import EXPORT_COLUMNS, SHEET_NAME, clerk_table, write_court_exports
from pipelines.exports.scored import INPUT_COLUMNS
from pipelines.exports.sheet import safe_file_stem, write_text_atomic
from pipelines.exports.summary import nightly_summary

BOM = b"\xef\xbb\xbf"


def case(case_no, court="苏0312", filed_on=date(2026, 3, 1), probability=0.5, band="中",
         names=("张三",), ids=("320311********123X",), amount=1000.0, reasons=("银行存款总额：3.2万元",)):
    return {"case_no": case_no, "court_code": court, "filed_on": filed_on,
            "respondent_names": None if names is None else list(names),
            "masked_ids": None if ids is None else list(ids),
            "claim_amount": amount, "probability": probability, "band": band,
            "reasons": None if reasons is None else list(reasons)}


def scored(*cases) -> pd.DataFrame:
    return pd.DataFrame(list(cases), columns=INPUT_COLUMNS)


def read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- clerk_table ------------------------------------------------------------------------------

def test_clerk_table_has_the_chinese_headers_and_clerk_formatted_cells():
    rows = scored(case("(2026)苏0312执601号", names=["张三", "李四"], ids=["320311********123X", "320311********5678"],
                       amount=Decimal("1234.565"), probability=0.732, band="高",
                       reasons=["银行存款总额：3.2万元", "近12个月离婚"]),
                  case("(2026)苏0312执602号", names=None, ids=None, amount=None, reasons=None, probability=0.1, band="低"))
    table = clerk_table(rows)
    assert list(table.columns) == EXPORT_COLUMNS
    first = table.iloc[0].to_dict()
    assert first == {"案号": "(2026)苏0312执601号", "立案日期": "2026-03-01", "被执行人": "张三、李四",
                     "证件号码(脱敏)": "320311********123X、320311********5678", "执行标的": 1234.57,
                     "风险概率": 0.732, "风险等级": "高", "主要风险因素": "银行存款总额：3.2万元；近12个月离婚"}
    second = table.iloc[1]
    assert (second["被执行人"], second["证件号码(脱敏)"], second["主要风险因素"]) == ("", "", "")
    assert pd.isna(second["执行标的"])


def test_clerk_table_sorts_by_probability_then_filing_date_then_case_no():
    rows = scored(case("C-low", probability=0.2),
                  case("B-late", probability=0.9, filed_on=date(2026, 3, 5)),
                  case("A-early-2", probability=0.9, filed_on=date(2026, 3, 1)),
                  case("A-early-1", probability=0.9, filed_on=date(2026, 3, 1)),
                  case("D-mid", probability=0.55))
    # "-" inside is harmless; only a leading trigger is neutralised
    assert list(clerk_table(rows)["案号"]) == ["A-early-1", "A-early-2", "B-late", "D-mid", "C-low"]


@pytest.mark.parametrize("hostile", ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"])
def test_clerk_table_neutralises_every_text_cell_that_looks_like_a_formula(hostile):
    rows = scored(case(hostile, names=[hostile, "李四"], ids=[hostile], reasons=[hostile], amount=-5.0))
    row = clerk_table(rows).iloc[0]
    assert row["案号"] == "'" + hostile
    for column in ["被执行人", "证件号码(脱敏)", "主要风险因素"]:   # list items are stripped, then neutralised
        assert row[column].startswith("'") or row[column] == hostile.strip() + ("、李四" if column == "被执行人" else "")
        assert not row[column].startswith(("=", "+", "-", "@", "\t", "\r")), column
    assert row["执行标的"] == -5.0   # numbers are not touched


def test_clerk_table_rejects_bad_input_with_a_clear_error():
    with pytest.raises(ValueError, match="band"):
        clerk_table(scored(case("X", band="极高")))
    with pytest.raises(ValueError, match="probability"):
        clerk_table(scored(case("X", probability=1.5)))
    with pytest.raises(ValueError, match="reasons"):
        clerk_table(scored(case("X")).drop(columns=["reasons"]))


# --- safe_file_stem ---------------------------------------------------------------------------

def short_hash(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()[:8]


def test_safe_file_stem_keeps_a_plain_court_code_and_hashes_a_changed_one():
    assert safe_file_stem("苏0312") == "苏0312"
    assert safe_file_stem("苏0312\n") == f"苏0312_-{short_hash('苏0312' + chr(10))}"
    assert safe_file_stem("") == f"court-{short_hash('')}"
    assert safe_file_stem("..") == f"court-{short_hash('..')}"
    assert safe_file_stem("苏０３１２") != "苏0312"                     # NFKC-equal but a different code
    assert safe_file_stem("CON").casefold() not in {"con", "con.csv"}
    assert safe_file_stem("AB").casefold() != safe_file_stem("ab").casefold()   # case-folding shares


HOSTILE_CODES = ["../../etc/passwd", "a/b", "a\\b", "a_b", "a:b", "..", ".", "", "   ", "CON", "con", "Lpt1", "NUL",
                 "苏0312", "苏0312\n", "苏0312 ", "苏０３１２", "\x00\x1f", "\u202etxt.exe", "苏" * 200, "𠀀" * 100]


@pytest.mark.parametrize("code", HOSTILE_CODES)
def test_safe_file_stem_is_a_plain_bounded_name_whatever_the_code(code):
    stem = safe_file_stem(code)
    assert stem and "/" not in stem and "\\" not in stem and not stem.startswith((".", "-"))
    assert all(unicodedata.category(ch)[0] in "LN" or ch in "_-" for ch in stem)
    assert len(stem) <= 60 and len(stem.encode("utf-8")) <= 180
    assert stem.split("-")[0].upper() not in {"CON", "PRN", "AUX", "NUL", "COM1", "LPT1"}


def test_safe_file_stems_never_collide_even_when_codes_sanitise_alike():
    stems = [safe_file_stem(code) for code in HOSTILE_CODES]
    assert len({stem.casefold() for stem in stems}) == len(HOSTILE_CODES)


# --- write_court_exports ----------------------------------------------------------------------

def test_csv_has_a_bom_the_chinese_headers_and_clerk_formatted_numbers(tmp_path):
    rows = scored(case("(2026)苏0312执601号", probability=0.7325, amount=1234.5, names=["张三", "李四"]))
    paths = write_court_exports(rows, tmp_path, ["苏0312"])
    data = paths["苏0312"]["csv"].read_bytes()
    assert data.startswith(BOM) and b"\r\n" in data
    header, row = read_csv(paths["苏0312"]["csv"])
    assert header == EXPORT_COLUMNS
    assert row == ["(2026)苏0312执601号", "2026-03-01", "张三、李四", "320311********123X", "1234.50", "73.3%", "中",
                   "银行存款总额：3.2万元"]


def test_each_court_gets_only_its_cases_and_a_quiet_court_a_header_only_file(tmp_path):
    rows = scored(case("A1", court="苏0312", probability=0.3), case("B1", court="苏0311"),
                  case("A2", court="苏0312", probability=0.8))
    paths = write_court_exports(rows, tmp_path, ["苏0312", "苏0301"])
    assert set(paths) == {"苏0312", "苏0311", "苏0301"}
    assert [r[0] for r in read_csv(paths["苏0312"]["csv"])[1:]] == ["A2", "A1"]
    assert [r[0] for r in read_csv(paths["苏0311"]["csv"])[1:]] == ["B1"]
    assert read_csv(paths["苏0301"]["csv"]) == [EXPORT_COLUMNS]
    quiet = openpyxl.load_workbook(paths["苏0301"]["xlsx"])[SHEET_NAME]
    assert [c.value for c in quiet[1]] == EXPORT_COLUMNS and quiet.max_row == 1
    assert files_in(tmp_path) == sorted(f"{c}.{k}" for c in ["苏0312", "苏0311", "苏0301"] for k in ["csv", "xlsx"])


def test_hostile_court_codes_stay_inside_the_folder_and_do_not_collide(tmp_path):
    folder = tmp_path / "exports" / "night"
    courts = ["../../etc/passwd", "a/b", "a_b", "a:b", "..", "", "CON", "苏0312\n", "苏0312"]
    rows = scored(*(case(f"case-{i}", court=code) for i, code in enumerate(courts)))
    paths = write_court_exports(rows, folder, courts)
    written = [p for kinds in paths.values() for p in kinds.values()]
    assert len(written) == 2 * len(courts) == len({p.name for p in written})
    assert all(p.resolve().parent == folder.resolve() for p in written)
    assert [p for p in tmp_path.rglob("*") if p.is_file() and p.parent != folder] == []
    for i, code in enumerate(courts):     # each file holds its own court's case
        assert read_csv(paths[code]["csv"])[1][0] == f"case-{i}"


def test_a_code_whose_path_would_leave_the_folder_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(exports, "safe_file_stem", lambda code: "../escaped")
    with pytest.raises(ValueError, match="leave the folder"):
        write_court_exports(scored(), tmp_path / "night", ["x"])
    assert not (tmp_path / "escaped.csv").exists()


def test_formula_injection_is_neutralised_in_csv_and_xlsx(tmp_path):
    rows = scored(case("=1+1", names=["@cmd", "张三"], reasons=["-2+3", "+SUM(A1)"]))
    paths = write_court_exports(rows, tmp_path, [])["苏0312"]
    row = read_csv(paths["csv"])[1]
    assert (row[0], row[2], row[7]) == ("'=1+1", "'@cmd、张三", "'-2+3；+SUM(A1)")
    sheet = openpyxl.load_workbook(paths["xlsx"])[SHEET_NAME]
    for cell in (sheet["A2"], sheet["C2"], sheet["H2"]):
        assert cell.value.startswith("'") and cell.data_type == "s"


def test_xlsx_reads_back_with_chinese_text_number_formats_and_a_usable_header(tmp_path):
    rows = scored(case("(2026)苏0312执601号", probability=0.732, amount=1234567.891, band="高", names=["王五"]))
    sheet = openpyxl.load_workbook(write_court_exports(rows, tmp_path, [])["苏0312"]["xlsx"])[SHEET_NAME]
    assert [c.value for c in sheet[1]] == EXPORT_COLUMNS and all(c.font.bold for c in sheet[1])
    assert [c.value for c in sheet[2]] == ["(2026)苏0312执601号", "2026-03-01", "王五", "320311********123X",
                                           1234567.89, 0.732, "高", "银行存款总额：3.2万元"]
    assert sheet["E2"].number_format == "#,##0.00" and sheet["F2"].number_format == "0.0%"
    assert sheet["F2"].data_type == "n"
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:H2"
    assert sheet.column_dimensions["A"].width >= 20


def test_writing_leaves_no_temporary_files(tmp_path):
    write_court_exports(scored(case("A1"), case("B1", court="苏0311")), tmp_path, ["苏0301"])
    assert [name for name in files_in(tmp_path) if name.startswith(".") or "tmp" in name] == []
    assert len(files_in(tmp_path)) == 6


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    write_court_exports(scored(case("OLD")), tmp_path, [])
    before = {name: (tmp_path / name).read_bytes() for name in files_in(tmp_path)}
    real_replace = os.replace

    def failing_replace(source, target):
        if str(target).endswith(".xlsx"):
            assert Path(source).exists()     # the temporary was fully written before the failure
            raise OSError("disk full")
        real_replace(source, target)

    monkeypatch.setattr(exports.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_court_exports(scored(case("NEW")), tmp_path, [])
    assert files_in(tmp_path) == ["苏0312.csv", "苏0312.xlsx"]
    assert (tmp_path / "苏0312.xlsx").read_bytes() == before["苏0312.xlsx"]


def test_a_bad_value_fails_before_any_file_is_touched(tmp_path, monkeypatch):
    write_court_exports(scored(case("OLD"), case("OLD-B", court="苏0311")), tmp_path, [])
    before = {name: (tmp_path / name).read_bytes() for name in files_in(tmp_path)}
    monkeypatch.setattr(exports, "to_xlsx_bytes", lambda table, sheet: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        write_court_exports(scored(case("NEW")), tmp_path, [])
    assert {name: (tmp_path / name).read_bytes() for name in files_in(tmp_path)} == before


def test_rerunning_with_fewer_courts_removes_stale_exports_but_nothing_else(tmp_path):
    write_court_exports(scored(case("A1"), case("B1", court="苏0311")), tmp_path, [])
    for keep in ["notes.txt", "summary.md", "~$苏0311.xlsx"]:
        (tmp_path / keep).write_text("keep")
    (tmp_path / "archive.csv").mkdir()
    write_court_exports(scored(case("A2")), tmp_path, [])
    assert files_in(tmp_path) == sorted(["archive.csv", "notes.txt", "summary.md", "~$苏0311.xlsx",
                                         "苏0312.csv", "苏0312.xlsx"])
    assert read_csv(tmp_path / "苏0312.csv")[1][0] == "A2"


def test_a_night_without_cases_still_writes_header_only_files(tmp_path):
    paths = write_court_exports(pd.DataFrame(), tmp_path / "new", ["苏0312"])
    assert read_csv(paths["苏0312"]["csv"]) == [EXPORT_COLUMNS]
    with pytest.raises(TypeError):
        write_court_exports(pd.DataFrame(), tmp_path, "苏0312")   # one string is not a list of courts


def test_write_text_atomic_replaces_the_whole_file(tmp_path):
    target = tmp_path / "summary" / "2026-03-02.md"
    write_text_atomic(target, "旧的\n" * 100)
    assert write_text_atomic(target, "新的\n") == target
    assert target.read_bytes() == "新的\n".encode("utf-8") and files_in(target.parent) == ["2026-03-02.md"]


# --- nightly_summary --------------------------------------------------------------------------

def test_summary_counts_courts_by_band_lists_top_reasons_and_shouts_shift():
    rows = scored(case("A1", band="高", probability=0.9, reasons=["银行存款总额：3.2万元", "近12个月离婚"]),
                  case("A2", band="高", probability=0.8, reasons=["银行存款总额：0元"]),
                  case("A3", band="中", reasons=["近12个月离婚", "银行存款总额：1.0万元"]),
                  case("B1", court="苏0311", band="低", probability=0.1, reasons=[]))
    drift = pd.DataFrame({"scope": ["all", "苏0312", "all"], "feature": ["deposit_total", "cause", "age"],
                          "psi": [0.12, 0.31, 0.01], "level": ["investigate", "shift", "ok"], "n_cases": [400, 120, 400]})
    text = nightly_summary(date(2026, 3, 2), rows, drift, ["模型版本 v3", "- 1. not a list"])
    assert text.startswith("# ") and "2026-03-02" in text.splitlines()[0]
    assert "**4**" in text
    assert "| 苏0311 | 0 | 0 | 1 | 1 |" in text
    assert "| 苏0312 | 2 | 1 | 0 | 3 |" in text
    assert "| **合计** | 2 | 1 | 1 | 4 |" in text
    assert "| 1 | 银行存款总额 | 3 |" in text and "| 2 | 近12个月离婚 | 2 |" in text
    assert "⚠️ **SHIFT**" in text and "cause (苏0312)" in text                          # the banner
    assert "| 苏0312 | cause | 0.310 | **SHIFT** | 120 |" in text and "| investigate |" in text   # the row
    assert text.index("| cause |") < text.index("| deposit\\_total |") < text.index("| age |")   # psi descending
    assert "- 模型版本 v3" in text and "- \\- 1. not a list" in text


def test_summary_of_a_night_without_cases_still_renders():
    for empty in (pd.DataFrame(), scored()):
        text = nightly_summary(date(2026, 3, 2), empty, None, [])
        assert "no new cases were filed" in text and "2026-03-02" in text
        assert "SHIFT" not in text and "| 苏" not in text


def test_summary_keeps_a_hostile_court_code_inside_its_table_cell():
    text = nightly_summary("2026-03-02", scored(case("A1", court="a|b\n# c")), None, [])
    row = next(line for line in text.splitlines() if line.startswith("| a"))
    assert row == "| a\\|b \\# c | 0 | 1 | 0 | 1 |"
    assert not any(line.startswith("# c") for line in text.splitlines())
