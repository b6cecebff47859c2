"""The personal-data audit: where raw IDs, phones and names from the raw layer turn up.

`Needles` are the raw values of a landing zone's bronze tables. `find` looks for them in text by
extracting the shapes they can take (18-character ID numbers, 11-digit mobile numbers, runs of
Chinese characters) and intersecting, so a scan costs one pass over the text, not one per value.
Each `scan_*` returns findings as "place: kind value" lines; an empty list is a clean audit.
"""

from __future__ import annotations

import json
import re
import sqlite3
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from deltalake import DeltaTable

ID_SHAPE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9Xx])")
PHONE_SHAPE = re.compile(r"(?<![0-9])1[0-9]{10}(?![0-9])")
CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")
TEXT_SUFFIXES = {".md", ".csv", ".json", ".yaml", ".yml", ".txt", ".log", ".html", ".py", ".MLmodel", ""}


@dataclass(frozen=True)
class Needles:
    ids: frozenset[str]
    phones: frozenset[str]
    names: frozenset[str]
    secret: str

    @classmethod
    def from_bronze(cls, bronze_dir: Path, secret: str) -> Needles:
        def values(table: str, *columns: str) -> set[str]:
            path = bronze_dir / table
            if not (path / "_delta_log").is_dir():
                return set()
            frame = DeltaTable(str(path)).to_pandas(columns=list(columns))
            return {v for c in columns for v in frame[c].dropna().astype(str) if len(v) >= 2}

        ids = values("population_persons", "id_number") | {
            v for v in values("court_parties", "id_number") if ID_SHAPE.fullmatch(v)}
        phones = values("population_persons", "phone") | values("ecommerce_orders", "buyer_phone") \
            | values("social_accounts", "phone")
        names = values("population_persons", "name") | values("court_parties", "name") \
            | values("ecommerce_orders", "buyer_name") | values("social_accounts", "real_name")
        return cls(frozenset(i.upper() for i in ids), frozenset(phones), frozenset(names), secret)


def find(text: str, needles: Needles, names: bool = True, phones: bool = True) -> list[str]:
    """The raw values `text` holds: IDs, phones and names (unless turned off), the secret."""
    hits = [f"id {v}" for v in {m.upper() for m in ID_SHAPE.findall(text)} & needles.ids]
    if phones:
        hits += [f"phone {v}" for v in set(PHONE_SHAPE.findall(text)) & needles.phones]
    if names:
        grams = {run[i:i + k] for run in CJK_RUN.findall(text) for k in (2, 3, 4) for i in range(len(run) - k + 1)}
        hits += [f"name {v}" for v in grams & needles.names]
    if needles.secret and needles.secret in text:
        hits.append("the pseudonymisation secret")
    return sorted(hits)


def _text_of(path: Path) -> str | None:
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as book:          # cells live in the sheet and shared-string XML
            return "\n".join(book.read(n).decode("utf-8", "replace") for n in book.namelist() if n.endswith(".xml"))
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gbk"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")                    # binary (a pickled model, a picture): look at its bytes


def scan_files(root: Path, needles: Needles, names: bool = True, skip_delta: bool = True, phones: bool = True,
               exclude: Path | None = None) -> list[str]:
    """Every file below `root` but those below `exclude` (and Delta tables' data files: `scan_tables`
    reads those decoded)."""
    findings = []
    delta_roots = {p.parent for p in root.rglob("_delta_log")} if skip_delta else set()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if any(parent in delta_roots or parent == exclude for parent in path.parents):
            continue
        text = _text_of(path)
        findings += [f"{path.relative_to(root)}: {hit}" for hit in find(text, needles, names, phones)]
    return findings


def _plain(value):
    """Arrays and maps from Arrow (numpy arrays, lists of pairs) as JSON-able Python."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def scan_tables(layer_dir: Path, needles: Needles) -> list[str]:
    """Every string cell of every Delta table in a layer, decoded (parquet compresses what it stores)."""
    findings = []
    for table in sorted(p.parent for p in layer_dir.rglob("_delta_log")):
        frame = DeltaTable(str(table)).to_pandas()
        for column in frame.columns:
            cells = frame[column].dropna()
            if cells.empty or not pd.api.types.is_object_dtype(cells):
                continue                            # numbers, dates and booleans hold no text
            text = "\n".join(v if isinstance(v, str) else json.dumps(_plain(v), ensure_ascii=False, default=str)
                             for v in cells)
            findings += [f"{table.relative_to(layer_dir.parent)}.{column}: {hit}" for hit in find(text, needles)]
    return findings


def scan_mlflow(db: Path, needles: Needles) -> list[str]:
    """Every text value the tracking store holds: params, tags, metric keys, run and model descriptions."""
    findings = []
    with sqlite3.connect(db) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [r[1] for r in con.execute(f"PRAGMA table_info('{table}')") if r[2].upper() in ("TEXT", "VARCHAR")
                       or r[2].upper().startswith("VARCHAR")]
            for column in columns:
                values = [r[0] for r in con.execute(f'SELECT DISTINCT "{column}" FROM "{table}"') if r[0]]
                findings += [f"mlflow {table}.{column}: {hit}" for hit in find("\n".join(map(str, values)), needles)]
    return findings
