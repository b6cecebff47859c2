"""Turning typed tables into contract files: CSV (RFC 4180) or JSONL, UTF-8 or
GBK, optionally gzip, BOM, CRLF, several parts; plus `_MANIFEST.json` and
`_SUCCESS`.

Formatting and quoting run as Arrow compute kernels over chunks of rows, so a
ten-million-row file never becomes ten million Python strings. gzip gets
mtime 0 and no file name, so the same input gives the same bytes.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .schema import Dataset

CHUNK_ROWS = 250_000
_NUMBER = r"^-?\d+(\.\d+)?$"


@dataclass(frozen=True)
class FileStyle:
    """How one batch of one dataset is laid out on disk (all valid per the contract)."""

    gzip: bool = False
    bom: bool = False
    crlf: bool = False
    parts: int = 1
    column_order: tuple[str, ...] | None = None
    lower_x: bool = False            # write some check characters as lower-case x
    json_nulls: str = "explicit"     # explicit: "key": null; omit: leave the key out
    extra_column: tuple[str, str] | None = None   # (name, value): the unexpected-column fault
    compresslevel: int = 6

    def order(self, ds: Dataset) -> tuple[str, ...]:
        return self.column_order or ds.column_names

    def suffix(self, ds: Dataset) -> str:
        return f".{ds.format}" + (".gz" if self.gzip else "")


def format_columns(table: pa.Table, ds: Dataset, style: FileStyle) -> dict[str, pa.Array]:
    """Every contract column as strings (null stays null), exactly as the file shows it."""
    out = {}
    for col in ds.columns:
        arr = table.column(col.name).combine_chunks()
        if col.kind == "date":
            arr = arr.cast(pa.string())
        elif col.kind == "ts":
            arr = pc.strftime(arr, format="%Y-%m-%dT%H:%M:%S+08:00") if ds.format == "jsonl" else arr.cast(pa.string())
        elif col.kind == "money":
            arr = _money(arr)
        elif col.kind == "int":
            arr = arr.cast(pa.string())
        elif col.kind == "id" and style.lower_x:
            arr = _lower_x(arr, pa.array(np.ones(len(arr), bool)))
        elif col.kind == "party_id" and style.lower_x:  # a credit code's X stays upper-case
            arr = _lower_x(arr, pc.equal(table.column("party_kind").combine_chunks(), "person"))
        out[col.name] = arr.cast(pa.string())
    return out


def _money(cents: pa.Array) -> pa.Array:
    values = cents.to_numpy(zero_copy_only=False)
    valid = ~np.asarray(cents.is_null())
    values = np.where(valid, values, 0).astype(np.int64)
    yuan = pa.array(values // 100).cast(pa.string())
    fen = pc.utf8_lpad(pa.array(values % 100).cast(pa.string()), 2, "0")
    text = pc.binary_join_element_wise(yuan, fen, ".")
    return pc.if_else(pa.array(valid), text, pa.nulls(len(text), pa.string()))


def _lower_x(ids: pa.Array, eligible: pa.Array) -> pa.Array:
    """Every third ID that ends in X is written with a lower-case x (valid: the contract normalises it)."""
    every_third = pc.and_(pa.array(np.arange(len(ids)) % 3 == 0), eligible)
    ends_x = pc.fill_null(pc.ends_with(ids, "X"), False)
    lowered = pc.binary_join_element_wise(pc.utf8_slice_codeunits(ids, 0, 17), "x", "")
    return pc.if_else(pc.and_(every_third, ends_x), lowered, ids)


def csv_field(arr: pa.Array) -> pa.Array:
    """RFC 4180: quote a field holding a comma, quote or line break; double inner quotes; null -> empty."""
    needs = pc.fill_null(pc.match_substring_regex(arr, '[",\r\n]'), False)
    if not pc.any(needs).as_py():  # the common case: skip building the quoted variant
        return pc.fill_null(arr, "")
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(arr, '"', '""'), '"', "")
    return pc.fill_null(pc.if_else(needs, quoted, arr), "")


def encode_lines(cols: dict[str, pa.Array], ds: Dataset, style: FileStyle) -> pa.Array:
    """One string per record, without the line terminator."""
    order = style.order(ds)
    if ds.format == "csv":
        return pc.binary_join_element_wise(*[csv_field(cols[name]) for name in order], ",")
    frags = []
    for name in order:
        arr = cols[name]
        kind = ds.column(name).kind
        value = _json_string(arr)
        if kind in ("money", "int"):
            value = pc.if_else(pc.fill_null(pc.match_substring_regex(arr, _NUMBER), False), arr, value)
        frag = pc.binary_join_element_wise(f'"{name}":', value, "")
        if style.json_nulls == "explicit":
            frag = pc.fill_null(frag, f'"{name}":null')
        frags.append(frag)
    body = pc.binary_join_element_wise(*frags, ",", null_handling="skip")
    return pc.binary_join_element_wise("{", body, "}", "")


def _json_string(arr: pa.Array) -> pa.Array:
    if pc.any(pc.fill_null(pc.match_substring_regex(arr, r'[\\"\n\r\t]'), False)).as_py():
        arr = _json_escape(arr)
    return pc.binary_join_element_wise('"', arr, '"', "")


def _json_escape(arr: pa.Array) -> pa.Array:
    for raw, esc in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        arr = pc.replace_substring(arr, raw, esc)
    return arr


def header(ds: Dataset, style: FileStyle) -> str | None:
    if ds.format != "csv":
        return None
    names = list(style.order(ds)) + ([style.extra_column[0]] if style.extra_column else [])
    return ",".join(names)


def lines_to_bytes(lines: pa.Array, terminator: str, encoding: str) -> bytes:
    if len(lines) == 0:
        return b""
    joined = pc.binary_join_element_wise(lines, terminator, "").cast(pa.large_string())
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64)[joined.offset: joined.offset + len(joined) + 1]
    data = joined.buffers()[2].to_pybytes()[offsets[0]: offsets[-1]]
    return data if encoding == "utf-8" else data.decode("utf-8").encode(encoding)


@dataclass
class PartWriter:
    """Streams one part file: BOM, header, then chunks of lines."""

    path: Path
    ds: Dataset
    style: FileStyle
    rows: int = 0
    _raw: object = field(default=None, repr=False)
    _out: object = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._raw = open(self.path, "wb")
        self._out = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0,
                                  compresslevel=self.style.compresslevel) if self.style.gzip else self._raw
        if self.style.bom:
            self._out.write(b"\xef\xbb\xbf")
        head = header(self.ds, self.style)
        if head is not None:
            self._out.write((head + self.terminator).encode(self.ds.encoding))

    @property
    def terminator(self) -> str:
        return "\r\n" if self.style.crlf else "\n"

    def write(self, lines: pa.Array | list[str]) -> None:
        if isinstance(lines, list):
            lines = pa.array(lines, type=pa.string())
        if self.style.extra_column:
            lines = pc.binary_join_element_wise(lines, csv_field(pa.array([self.style.extra_column[1]] * len(lines),
                                                                          pa.string())), ",")
        self._out.write(lines_to_bytes(lines, self.terminator, self.ds.encoding))
        self.rows += len(lines)

    def close(self) -> None:
        if self._out is not self._raw:
            self._out.close()
        self._raw.close()


def write_manifest(folder: Path, dataset: str, dt: str, rows: dict[str, int]) -> None:
    manifest = {"dataset": dataset, "dt": dt, "files": {name: {"rows": n} for name, n in sorted(rows.items())}}
    (folder / "_MANIFEST.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_success(folder: Path) -> None:
    (folder / "_SUCCESS").write_bytes(b"")


def write_plain_csv(path: Path, columns: dict[str, pa.Array | np.ndarray | list]) -> None:
    """A UTF-8 CSV of arbitrary columns (for truth/), with the same quoting as the landing files."""
    arrays = {}
    for name, values in columns.items():
        arr = values if isinstance(values, pa.Array) else pa.array(values)
        if pa.types.is_floating(arr.type):
            arr = pc.round(arr, 6)
        arrays[name] = csv_field(arr.cast(pa.string()))
    with open(path, "wb") as out:
        out.write((",".join(arrays) + "\n").encode("utf-8"))
        n = len(next(iter(arrays.values()))) if arrays else 0
        for start in range(0, n, CHUNK_ROWS):
            lines = pc.binary_join_element_wise(*[a.slice(start, CHUNK_ROWS) for a in arrays.values()], ",")
            out.write(lines_to_bytes(lines, "\n", "utf-8"))
