"""The audit's own check: it finds what it looks for, wherever it is put, and nothing else."""

from __future__ import annotations

import sqlite3

import pandas as pd
from deltalake import write_deltalake
from openpyxl import Workbook
from helpers.pii_audit import Needles, find, scan_files, scan_mlflow, scan_tables

RAW_ID, PHONE, NAME, SECRET = "32031219800101123X", "13912345678", "欧阳娜娜", "a-secret-of-some-length"
NEEDLES = Needles(frozenset({RAW_ID}), frozenset({PHONE}), frozenset({NAME}), SECRET)


def test_find_sees_each_kind_in_running_text_and_nothing_else():
    text = f"案件当事人{NAME}（身份证{RAW_ID.lower()}，电话{PHONE}）{SECRET}"
    assert find(text, NEEDLES) == ["id " + RAW_ID, "name " + NAME, f"phone {PHONE}", "the pseudonymisation secret"]
    assert find(text, NEEDLES, names=False) == ["id " + RAW_ID, f"phone {PHONE}", "the pseudonymisation secret"]
    assert find("3203121980010112345 139123456789 欧阳 320312********123X", NEEDLES) == []   # longer runs, masks


def test_scans_reach_tables_files_workbooks_and_the_tracking_store(tmp_path):
    write_deltalake(str(tmp_path / "lake" / "gold" / "t"), pd.DataFrame({"note": ["ok", f"x{PHONE}y"], "n": [1, 2]}))
    assert scan_tables(tmp_path / "lake" / "gold", NEEDLES) == [f"gold/t.note: phone {PHONE}"]

    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "card.md").write_text(f"model card {NAME}", encoding="utf-8")
    (tmp_path / "files" / "gbk.csv").write_bytes(f"id,{RAW_ID}\n".encode("gbk"))
    book = Workbook()
    book.active.append(["电话", PHONE])
    book.save(tmp_path / "files" / "court.xlsx")
    assert scan_files(tmp_path / "files", NEEDLES) == [
        f"card.md: name {NAME}", f"court.xlsx: phone {PHONE}", f"gbk.csv: id {RAW_ID}"]

    with sqlite3.connect(tmp_path / "mlflow.db") as con:
        con.execute("CREATE TABLE params (key VARCHAR(250), value VARCHAR(8000))")
        con.execute("INSERT INTO params VALUES ('gold_table', ?)", (f"lake {SECRET}",))
    assert scan_mlflow(tmp_path / "mlflow.db", NEEDLES) == ["mlflow params.value: the pseudonymisation secret"]
