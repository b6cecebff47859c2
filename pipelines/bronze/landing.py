"""The landing zone: find complete batches and check them against their manifest.

Layout (contract section 1):
    <landing>/<domain>/<dataset>/dt=YYYY-MM-DD/part-*.csv[.gz]|part-*.jsonl[.gz]
    <landing>/<domain>/<dataset>/dt=YYYY-MM-DD/_MANIFEST.json
    <landing>/<domain>/<dataset>/dt=YYYY-MM-DD/_SUCCESS
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field

from pyspark.sql import SparkSession

from pipelines.core import storage
from pipelines.core.contract import Dataset

__all__ = ["Batch", "discover_batches", "BatchRejected"]

log = logging.getLogger(__name__)

_DT_FOLDER = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")
_EXTENSIONS = {"csv": (".csv", ".csv.gz"), "jsonl": (".jsonl", ".jsonl.gz")}
MANIFEST, SUCCESS = "_MANIFEST.json", "_SUCCESS"


class BatchRejected(Exception):
    """A batch breaks the contract as a whole; nothing of it is loaded."""

    def __init__(self, reason_code: str, detail: str):
        super().__init__(f"{reason_code}: {detail}")
        self.reason_code = reason_code
        self.detail = detail


@dataclass
class Batch:
    """One `dt=` folder of one dataset."""

    dataset: Dataset
    batch_dt: dt.date
    uri: str
    is_complete: bool
    data_files: list[storage.FileEntry] = field(default_factory=list)
    manifest_rows: dict[str, int] = field(default_factory=dict)
    fingerprint: str = ""
    rejection: BatchRejected | None = None

    @property
    def label(self) -> str:
        return f"{self.dataset.name} dt={self.batch_dt.isoformat()}"

    def file_uris(self) -> list[str]:
        return [f.uri for f in self.data_files]


def _is_ignorable(name: str) -> bool:
    # Hadoop's local FS leaves ".name.crc" files; hidden files are not deliveries.
    return name.startswith(".")


def _parse_manifest(raw: bytes, batch: Batch) -> dict[str, int]:
    where = f"{batch.uri}/{MANIFEST}"
    try:
        manifest = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BatchRejected("manifest_invalid", f"{where}: not valid JSON ({exc})") from None
    except RecursionError:
        raise BatchRejected("manifest_invalid", f"{where}: nested too deeply to be a manifest") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise BatchRejected("manifest_invalid", f"{where}: needs an object with a 'files' object")
    if manifest.get("dataset") not in (None, batch.dataset.name):
        raise BatchRejected("manifest_mismatch",
                            f"{where}: names dataset {manifest.get('dataset')!r}, folder is {batch.dataset.name!r}")
    if manifest.get("dt") not in (None, batch.batch_dt.isoformat()):
        raise BatchRejected("manifest_mismatch",
                            f"{where}: names dt {manifest.get('dt')!r}, folder is {batch.batch_dt.isoformat()}")
    rows: dict[str, int] = {}
    for name, entry in manifest["files"].items():
        count = entry.get("rows") if isinstance(entry, dict) else None
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise BatchRejected("manifest_invalid", f"{where}: file {name!r} needs a non-negative integer 'rows'")
        rows[name] = count
    return rows


def _check_files(batch: Batch, entries: list[storage.FileEntry]) -> None:
    """Fill in the batch's data files; reject it if they disagree with the manifest."""
    files = [e for e in entries if not e.is_dir and not _is_ignorable(e.name) and e.name not in (MANIFEST, SUCCESS)]
    names = {f.name for f in files}
    listed = set(batch.manifest_rows)
    if listed - names:
        raise BatchRejected("file_missing", f"{batch.uri}: manifest lists {sorted(listed - names)}, not delivered")
    if names - listed:
        raise BatchRejected("file_unexpected", f"{batch.uri}: {sorted(names - listed)} delivered but not in the manifest")
    allowed = _EXTENSIONS[batch.dataset.format]
    wrong = sorted(n for n in names if not n.endswith(allowed))
    if wrong:
        raise BatchRejected("file_format", f"{batch.uri}: {wrong} are not {' or '.join(allowed)} files")
    batch.data_files = sorted(files, key=lambda f: f.name)


def _fingerprint(manifest: bytes, files: list[storage.FileEntry]) -> str:
    digest = hashlib.sha256(manifest)
    for f in sorted(files, key=lambda f: f.name):
        digest.update(f"{f.name}|{f.size}|{f.modified_ms}".encode())
    return digest.hexdigest()


def _load_batch(spark: SparkSession, dataset: Dataset, folder: storage.FileEntry, batch_dt: dt.date) -> Batch:
    entries = storage.list_dir(spark, folder.uri)
    names = {e.name for e in entries}
    batch = Batch(dataset=dataset, batch_dt=batch_dt, uri=folder.uri, is_complete=SUCCESS in names)
    if not batch.is_complete:
        return batch
    manifest_raw = storage.read_bytes(spark, f"{folder.uri}/{MANIFEST}") if MANIFEST in names else b""
    batch.fingerprint = _fingerprint(manifest_raw, [e for e in entries if not e.is_dir])
    try:
        if MANIFEST not in names:
            raise BatchRejected("manifest_missing", f"{folder.uri}: no {MANIFEST}")
        batch.manifest_rows = _parse_manifest(manifest_raw, batch)
        _check_files(batch, entries)
    except BatchRejected as rejected:
        batch.rejection = rejected
    return batch


def discover_batches(spark: SparkSession, landing: str, datasets: list[Dataset]) -> list[Batch]:
    """Every `dt=` folder of the given datasets, oldest first, complete or not."""
    batches: list[Batch] = []
    for dataset in datasets:
        for folder in storage.list_dir(spark, f"{landing}/{dataset.name}"):
            match = _DT_FOLDER.match(folder.name)
            if not folder.is_dir or not match:
                continue
            try:
                batch_dt = dt.date.fromisoformat(match.group(1))
            except ValueError:
                # Not silently: a mistyped delivery date would otherwise never load.
                log.error("batch folder %s/%s is not a real date: not ingested", dataset.name, folder.name)
                continue
            batches.append(_load_batch(spark, dataset, folder, batch_dt))
    return sorted(batches, key=lambda b: (b.dataset.name, b.batch_dt))
