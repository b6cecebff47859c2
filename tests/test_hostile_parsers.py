"""Hostile bytes at the pure-Python parsers of a delivery: manifests, CSV headers, gzip heads.

Whatever arrives, each either returns what it promises or rejects the batch with a reason
(`BatchRejected`); nothing else may escape, since an escaped exception would stop the whole
night instead of one batch.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import zlib

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipelines.bronze.landing import Batch, BatchRejected, _parse_manifest
from pipelines.bronze.read import _decode_header
from pipelines.core.contract import load_contract

DATASET = load_contract()["finance/balances"]
BATCH = Batch(DATASET, dt.date(2025, 7, 1), "file:///landing/finance/balances/dt=2025-07-01", True)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20)


@FAST
@given(st.binary(max_size=2000))
@example(b"[" * 100_000)                                    # deeper than Python's recursion limit
@example(b'{"files": {"part-0001.csv": {"rows": 1e999}}}')
@example(b'{"files": {"part-0001.csv": {"rows": true}}}')
@example("\ufeff{\"files\": {}}".encode())
def test_any_manifest_bytes_load_or_reject(raw):
    try:
        rows = _parse_manifest(raw, BATCH)
    except BatchRejected as rejected:
        assert rejected.reason_code in ("manifest_invalid", "manifest_mismatch")
        assert BATCH.uri in rejected.detail
    else:
        assert all(isinstance(k, str) and isinstance(v, int) and v >= 0 for k, v in rows.items())


@FAST
@given(json_values)
def test_any_json_manifest_loads_or_rejects(value):
    test_any_manifest_bytes_load_or_reject.hypothesis.inner_test(json.dumps(value).encode())


@FAST
@given(st.binary(max_size=3000), st.sampled_from(["utf-8", "gbk"]))
@example(b"account_id,as_of,balance\x00\n", "utf-8")                 # NUL in the header
@example(b'"account_id,as_of\n', "utf-8")                           # a quote never closed
@example(b"=cmd|' /C calc'!A0,as_of\n", "utf-8")                    # formula text as a column name
@example(("a" * 200_000 + "\n").encode(), "utf-8")                  # a field past csv's limit
@example(b"\xff\xfe\x00a\n", "gbk")
def test_any_header_bytes_parse_or_reject(raw, encoding):
    try:
        header = _decode_header(raw, encoding, "file:///x/part-0001.csv")
    except BatchRejected as rejected:
        assert rejected.reason_code in ("undecodable", "header_missing", "header_invalid")
        assert "part-0001.csv" in rejected.detail
    else:
        assert header and all(isinstance(name, str) for name in header)


def test_a_gzip_head_is_capped_and_garbage_is_a_zlib_error(tmp_path, monkeypatch):
    from pipelines.core import storage

    bomb = gzip.compress(b"a," * 5_000_000)                     # 10 MB that compress to about 10 kB
    monkeypatch.setattr(storage, "read_bytes", lambda spark, uri, limit: bomb[:limit])
    assert len(storage.read_head(None, "file:///x.csv.gz", limit=65536)) <= 65536
    monkeypatch.setattr(storage, "read_bytes", lambda spark, uri, limit: b"not gzip at all")
    with pytest.raises(zlib.error):
        storage.read_head(None, "file:///x.csv.gz")


def test_a_csv_gz_that_is_not_gzip_rejects_its_batch(monkeypatch):
    from pipelines.core import storage
    from pipelines.bronze.read import inspect_csv_headers

    entry = storage.FileEntry(name="part-0001.csv.gz", uri=f"{BATCH.uri}/part-0001.csv.gz", is_dir=False,
                              size=15, modified_ms=0)
    batch = Batch(DATASET, BATCH.batch_dt, BATCH.uri, True, data_files=[entry])
    monkeypatch.setattr(storage, "read_bytes", lambda spark, uri, limit: b"not gzip at all")
    with pytest.raises(BatchRejected) as rejected:
        inspect_csv_headers(None, batch)
    assert rejected.value.reason_code == "undecodable" and "part-0001.csv.gz" in rejected.value.detail
