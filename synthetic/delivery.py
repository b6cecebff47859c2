"""From one typed table per dataset to batch folders in the landing zone.

A record goes to the batch of the day it is delivered: the back-fill holds
everything delivered up to its date, each nightly batch what arrived that
day. For "latest delivery wins" datasets a batch carries one row per key, its
latest state that day. File styles (gzip, BOM, CRLF, parts, column order,
JSON nulls) vary by dataset and batch when `messy` is on; faults are placed
by a fixed plan so tests know where to look.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import clock, faults
from .clock import Calendar
from .schema import Dataset
from .writer import CHUNK_ROWS, FileStyle, PartWriter, encode_lines, format_columns, write_manifest, write_success

_BIG = {"population/persons", "finance/balances", "finance/transactions", "finance/loans", "ecommerce/orders",
        "social/accounts", "social/links", "finance/accounts", "finance/assets"}

# (back-fill style, nightly style) per dataset when messy; nightly styles alternate by batch.
_MESSY = {
    "population/persons": (dict(gzip=True, parts=2, lower_x=True), dict(crlf=True, lower_x=True)),
    "marriage/registrations": (dict(bom=True, crlf=True), dict()),
    "finance/accounts": (dict(gzip=True, column_order=("owner_id", "account_id", "account_type", "bank_code",
                                                       "closed_on", "opened_on")), dict()),
    "finance/balances": (dict(gzip=True, parts=2), dict(bom=True)),
    "finance/transactions": (dict(gzip=True, parts=2, json_nulls="explicit"), dict(json_nulls="omit")),
    "finance/loans": (dict(gzip=True, parts=2, crlf=True), dict()),
    "finance/assets": (dict(gzip=True, bom=True, lower_x=True),
                       dict(column_order=("asset_id", "asset_type", "owner_id", "acquired_on", "region",
                                          "declared_value", "disposed_on", "disposed_to_id"))),
    "ecommerce/orders": (dict(gzip=True, parts=2, json_nulls="omit"), dict(json_nulls="explicit", gzip=True)),
    "social/accounts": (dict(gzip=True, json_nulls="explicit"), dict(json_nulls="omit")),
    "social/links": (dict(gzip=True, json_nulls="omit"), dict(json_nulls="explicit")),
    "court/cases": (dict(bom=True, crlf=True), dict()),
    "court/parties": (dict(column_order=("case_no", "id_number", "name", "role", "party_kind"), lower_x=True),
                      dict(bom=True, lower_x=True)),
    "court/closures": (dict(crlf=True), dict()),
    "court/dishonest": (dict(bom=True, lower_x=True), dict(crlf=True)),
}


@dataclass(frozen=True)
class FaultPlan:
    """Where the batch-level faults go (index into the nightly batches) and whether rows break."""

    rows: bool
    manifest_mismatch: tuple[str, int] | None
    missing_success: tuple[str, int] | None
    extra_column: tuple[str, int] | None

    @staticmethod
    def build(enabled: bool, daily: int) -> "FaultPlan":
        if not enabled or daily == 0:
            return FaultPlan(enabled, None, None, None)
        at = lambda i: min(i, daily - 1)
        return FaultPlan(True, ("finance/transactions", at(2)), ("ecommerce/orders", daily - 1),
                         ("finance/accounts", at(3)))


def style_for(name: str, batch: int, messy: bool, compresslevel: int) -> FileStyle:
    if not messy:
        return FileStyle(gzip=batch == 0 and name in _BIG, compresslevel=compresslevel)
    backfill, nightly = _MESSY[name]
    options = backfill if batch == 0 else nightly
    if batch > 0 and batch % 2 == 0:  # every other night the agency forgets its quirks
        options = {k: v for k, v in options.items() if k in ("gzip", "column_order")}
    return FileStyle(compresslevel=compresslevel, **options)


def batches(table: pa.Table, ds: Dataset, cal: Calendar) -> list[tuple[int, pa.Table]]:
    deliver = table.column("_deliver").to_numpy()
    key = table.column("_key").to_numpy() if "_key" in table.column_names else None
    data = table.select(list(ds.column_names))
    out = []
    for i, dt in enumerate(cal.batch_dts):
        mask = deliver <= dt if i == 0 else deliver == dt
        rows = np.flatnonzero(mask)
        if ds.latest_wins and rows.size:
            # Rows are in delivery order, so the last row of a key is its state that day.
            _, last = np.unique(key[rows][::-1], return_index=True)
            rows = np.sort(rows[::-1][last])
        out.append((dt, data.take(pa.array(rows, pa.int64()))))
    return out


def on_time(table: pa.Table, ds: Dataset) -> pa.Table:
    """Deliver every record in the batch of its event day: no late share, no back-dated corrections.

    A row's event day is the latest of its event times, because an update row of
    a latest-wins dataset is delivered for its change (the disposal, the
    closure, the delisting). Rows are re-sorted by that day, updates after the
    record they update, which `batches` relies on. A correction of an earlier
    delivery (a balance fixed later under the same key) is dropped: delivered
    on time it would land in the same batch as the figure it corrects.
    """
    if "_correction" in table.column_names:
        table = table.filter(pc.invert(table.column("_correction").combine_chunks()))
    if not ds.event:  # court/parties: delivered with its case already
        return table
    day = np.full(table.num_rows, np.iinfo(np.int64).min)
    events_set = np.zeros(table.num_rows, np.int64)
    for name in ds.event:
        column = table.column(name).combine_chunks()
        present = np.asarray(column.is_valid())
        if pa.types.is_timestamp(column.type):
            days = column.cast(pa.int64()).fill_null(0).to_numpy() // clock.DAY_SECONDS
        else:
            days = column.cast(pa.int32()).fill_null(0).to_numpy().astype(np.int64)
        day = np.where(present, np.maximum(day, days), day)
        events_set += present
    order = np.lexsort((events_set, day))  # stable: ties keep the generator's order
    deliver = table.schema.get_field_index("_deliver")
    table = table.set_column(deliver, "_deliver", pa.array(day.astype(np.int32)))
    return table.take(pa.array(order))


def deliver_dataset(landing: Path, ds: Dataset, table: pa.Table, cal: Calendar, messy: bool, plan: FaultPlan,
                    seed: int, compresslevel: int) -> tuple[list[dict], dict[str, int]]:
    """Write every batch of one dataset; returns the injected faults and the rows per batch."""
    rng = np.random.default_rng([seed, zlib.crc32(ds.name.encode())])
    fallback = _templates(table, ds)
    fault_rows, counts = [], {}
    for i, (dt, rows) in enumerate(batches(table, ds, cal)):
        folder = landing / ds.name / f"dt={clock.iso(dt)}"
        folder.mkdir(parents=True, exist_ok=True)
        style = style_for(ds.name, i, messy, compresslevel)
        if plan.extra_column == (ds.name, i - 1):
            style = replace(style, extra_column=("branch_name", "徐州分行营业部"))
            fault_rows.append(_batch_fault(ds, dt, "", "extra_column", "unexpected column branch_name; must load"))
        kinds = _row_kinds(plan, ds, i)
        files = _write_parts(folder, ds, rows, style, kinds, dt, rng, fallback, fault_rows)
        counts[clock.iso(dt)] = sum(files.values())
        if plan.manifest_mismatch == (ds.name, i - 1):
            first = sorted(files)[0]
            files[first] += 1
            fault_rows.append(_batch_fault(ds, dt, first, "manifest_mismatch",
                                           f"manifest says {files[first]} rows, file has {files[first] - 1}"))
        write_manifest(folder, ds.name, clock.iso(dt), files)
        if plan.missing_success == (ds.name, i - 1):
            fault_rows.append(_batch_fault(ds, dt, "", "missing_success", "no _SUCCESS: batch still arriving"))
        else:
            write_success(folder)
    return fault_rows, counts


def _row_kinds(plan: FaultPlan, ds: Dataset, batch: int) -> tuple[str, ...]:
    if not plan.rows:
        return ()
    return {0: faults.BACKFILL, 1: faults.GROUP_A, 2: faults.GROUP_B}.get(batch, ())


def _write_parts(folder: Path, ds: Dataset, rows: pa.Table, style: FileStyle, kinds: tuple[str, ...], dt: int,
                 rng: np.random.Generator, fallback: list[dict], fault_rows: list[dict]) -> dict[str, int]:
    n_parts = style.parts if rows.num_rows >= style.parts else 1
    bounds = np.linspace(0, rows.num_rows, n_parts + 1).astype(int)
    files = {}
    for p in range(n_parts):
        name = f"part-{p + 1:04d}{style.suffix(ds)}"
        writer = PartWriter(folder / name, ds, style)
        part = rows.slice(bounds[p], bounds[p + 1] - bounds[p])
        starts = range(0, max(part.num_rows, 1), CHUNK_ROWS)
        for c, start in enumerate(starts):
            chunk = part.slice(start, CHUNK_ROWS)
            cols = format_columns(chunk, ds, style)
            lines = encode_lines(cols, ds, style)
            if kinds and p == 0 and c == 0:
                sample = {k: v.slice(0, 200).to_pylist() for k, v in cols.items()}
                templates = [dict(zip(sample, vals)) for vals in zip(*sample.values())]
                new_lines, found = faults.inject(lines.to_pylist(), templates, fallback, ds, style, kinds, dt, rng)
                writer.write(new_lines)
                fault_rows.extend({"dataset": ds.name, "dt": clock.iso(dt), "file": name, "row": f.row,
                                   "kind": f.kind, "reason": faults.reason_for(ds.name, f.kind), "column": f.column,
                                   "detail": f.detail} for f in found)
            else:
                writer.write(lines)
        writer.close()
        files[name] = writer.rows
    return files


def _templates(table: pa.Table, ds: Dataset) -> list[dict]:
    """A few formatted records of the dataset, for faults in a batch that is otherwise empty."""
    head = table.slice(0, 50)
    cols = format_columns(head, ds, FileStyle())
    sample = {k: v.to_pylist() for k, v in cols.items()}
    return [dict(zip(sample, vals)) for vals in zip(*sample.values())]


def _batch_fault(ds: Dataset, dt: int, file: str, kind: str, detail: str) -> dict:
    return {"dataset": ds.name, "dt": clock.iso(dt), "file": file, "row": "", "kind": kind, "reason": kind,
            "column": "", "detail": detail}
