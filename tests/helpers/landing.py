"""Build tiny landing zones by hand, exactly as an agency would deliver them."""

from __future__ import annotations

import gzip
import json
from pathlib import Path


def csv_text(header: list[str], rows: list[list[str]], newline: str = "\n") -> str:
    """A CSV document; cells are written as given (quote them yourself where needed)."""
    return newline.join([",".join(header), *[",".join(r) for r in rows]]) + newline


def jsonl_text(records: list[dict | str]) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records)


def count_rows(content: bytes, name: str, encoding: str) -> int:
    """Records in a data file, as its manifest counts them."""
    import csv
    import io
    import re
    import sys
    if name.endswith(".gz"):
        content = gzip.decompress(content)
    text = content.decode(encoding if encoding != "utf-8" else "utf-8-sig", errors="replace")
    if ".jsonl" in name:       # JSON Lines ends a record at \n, \r\n or \r only (not at U+2028 and the like)
        return sum(1 for line in re.split(r"\r\n|\r|\n", text) if line.strip())
    limit = csv.field_size_limit(sys.maxsize)   # an agency may send a field of any length
    try:
        return max(0, sum(1 for r in csv.reader(io.StringIO(text)) if r) - 1)
    finally:
        csv.field_size_limit(limit)


def write_batch(landing: Path, dataset: str, batch_dt: str, files: dict[str, str | bytes],
                encoding: str = "utf-8", rows: dict[str, int] | None = None,
                success: bool = True, manifest: bool = True) -> Path:
    """One `dt=` folder: data files, a manifest counting their records, `_SUCCESS`."""
    folder = landing / dataset / f"dt={batch_dt}"
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, content in files.items():
        data = content.encode(encoding) if isinstance(content, str) else content
        if name.endswith(".gz"):
            data = gzip.compress(data, mtime=0)
        (folder / name).write_bytes(data)
        counts[name] = count_rows(data, name, encoding)
    counts.update(rows or {})
    if manifest:
        (folder / "_MANIFEST.json").write_text(json.dumps(
            {"dataset": dataset, "dt": batch_dt, "files": {n: {"rows": c} for n, c in counts.items()}}))
    if success:
        (folder / "_SUCCESS").write_bytes(b"")
    return folder
