"""Deliberately broken input, one of each kind the contract's section 6 names,
so tests can check that the pipeline quarantines or rejects every one.

Each bad row gets a fresh key (never a real record's), so the clean data the
truth describes stays whole: a quarantined fault takes nothing with it. The
exceptions are the exact duplicate (a copy of a real line: loaded once) and
the key conflict (two fresh rows sharing a key: both quarantined).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from . import clock, ids
from .schema import Dataset
from .writer import FileStyle, csv_field, encode_lines

# Group A goes into the first nightly batch, group B into the second, BACKFILL into the back-fill.
GROUP_A = ("malformed_row", "required_missing", "unparseable_value", "unknown_enum", "invalid_id")
GROUP_B = ("rule_violation", "event_time_future", "exact_duplicate", "key_conflict", "invalid_id_birth_date")
BACKFILL = ("exact_duplicate", "malformed_row")

REASON = {"malformed_row": "malformed_row", "invalid_json": "malformed_row", "required_missing": "required_missing",
          "unparseable_value": "unparseable_value", "unknown_enum": "unknown_enum", "invalid_id": "invalid_id",
          "invalid_id_birth_date": "invalid_id", "rule_violation": "rule_violation",
          "event_time_future": "event_time_future", "exact_duplicate": "exact_duplicate",
          "key_conflict": "key_conflict"}

_BAD_ENUM = {"gender": "U", "education": "phd", "occupation": "teacher", "kind": "annulment",
             "account_type": "credit_card", "direction": "both", "channel": "wechat", "status": "restructured",
             "asset_type": "aircraft", "category": "luxury_goods", "relation": "neighbour", "cause": "divorce",
             "applicant_kind": "government", "role": "witness", "party_kind": "bank", "closure": "withdrawn",
             "ground": "unknown"}
# Which column each dataset breaks for the kinds that need a choice.
_ID_COLUMN = {"population/persons": "id_number", "marriage/registrations": "spouse_b_id",
              "finance/accounts": "owner_id", "finance/transactions": "counterparty_id",
              "finance/loans": "borrower_id", "finance/assets": "owner_id", "court/parties": "id_number",
              "court/dishonest": "id_number"}
_REQUIRED = {"population/persons": "name", "marriage/registrations": "registered_on", "finance/accounts": "bank_code",
             "finance/balances": "balance", "finance/transactions": "booked_at", "finance/loans": "outstanding",
             "finance/assets": "declared_value", "ecommerce/orders": "buyer_name", "social/accounts": "registered_at",
             "social/links": "since", "court/cases": "filed_on", "court/parties": "name",
             "court/closures": "closed_on", "court/dishonest": "listed_on"}


def reason_for(dataset: str, kind: str) -> str:
    """The section-6 reason code a pipeline should record for this fault."""
    if dataset == "social/accounts" and kind == "rule_violation":
        return "invalid_format"  # the only rule of social/accounts is the phone's shape
    return REASON[kind]


@dataclass
class Fault:
    row: int          # 1-based data record number in the file
    kind: str
    column: str
    detail: str


def applicable(ds: Dataset, kind: str) -> bool:
    if kind in ("invalid_id", "invalid_id_birth_date"):
        return ds.name in _ID_COLUMN
    if kind == "unknown_enum":
        return any(c.kind == "enum" for c in ds.columns)
    if kind == "event_time_future":
        return bool(ds.event)
    if kind == "unparseable_value":
        return ds.name != "court/parties"  # every parties column is a plain string
    return True


def inject(lines: list[str], rows: list[dict], fallback: list[dict], ds: Dataset, style: FileStyle,
           kinds: tuple[str, ...], dt: int, rng: np.random.Generator) -> tuple[list[str], list[Fault]]:
    """Insert one bad record per applicable kind into `lines` (the file's records, in order)."""
    tagged: list[tuple[str, tuple | None]] = [(line, None) for line in lines]
    templates = rows if rows else fallback
    for n, kind in enumerate(k for k in kinds if applicable(ds, k)):
        base = dict(templates[int(rng.integers(0, len(templates)))])
        if ds.name == "court/parties":  # break a respondent, who must be a person
            people = [r for r in templates if r["role"] == "respondent"] or templates
            base = dict(people[int(rng.integers(0, len(people)))])
        if kind == "exact_duplicate":
            clean = [i for i, (_, info) in enumerate(tagged) if info is None]
            if clean:
                src = clean[int(rng.integers(0, len(clean)))]
                pos = int(rng.integers(src + 1, len(tagged) + 1))
                original = tagged[src][0]
            else:  # an empty batch: deliver a known record twice
                original = _encode(base, ds, style)
                tagged.insert(0, (original, None))
                pos = len(tagged)
            tagged.insert(pos, (original, ("exact_duplicate", "", "second copy of an identical record")))
            continue
        fresh = _fresh_key(base, ds, n, rng)
        if kind == "key_conflict":
            twin = dict(fresh)
            col = _conflict_column(ds)
            twin[col] = _changed(twin[col], ds.column(col))
            for row in (fresh, twin):
                tagged.insert(int(rng.integers(0, len(tagged) + 1)),
                              (_encode(row, ds, style), ("key_conflict", col, "same key, different content")))
            continue
        line, col, detail = _broken(kind, fresh, ds, style, dt)
        if ds.format == "jsonl" and kind == "malformed_row":
            kind = "invalid_json"
        tagged.insert(int(rng.integers(0, len(tagged) + 1)), (line, (kind, col, detail)))
    faults = [Fault(i + 1, info[0], info[1], info[2]) for i, (_, info) in enumerate(tagged) if info]
    return [line for line, _ in tagged], faults


def _broken(kind: str, row: dict, ds: Dataset, style: FileStyle, dt: int) -> tuple[str, str, str]:
    name = ds.name
    if kind == "malformed_row":
        if ds.format == "jsonl":
            line = _encode(row, ds, style)
            return line[: len(line) // 2], "", "truncated JSON object"
        fields = [csv_field(pa.array([row[c]], pa.string()))[0].as_py() for c in style.order(ds)]
        return ",".join(fields[:-1]), "", f"{len(fields) - 1} fields instead of {len(fields)}"
    if kind == "required_missing":
        col = _REQUIRED[name]
        row[col] = None
        return _encode(row, ds, style), col, "required field empty"
    if kind == "unparseable_value":
        col = next(c.name for c in ds.columns if c.kind in ("date", "ts", "money", "int") and c.required
                   and c.name not in ds.key) if name != "court/closures" else "amount_recovered"
        k = ds.column(col).kind
        row[col] = {"date": "0000-00-00", "money": "12O0.50", "int": "abc",
                    "ts": "2026-13-01T25:61:00+08:00" if ds.format == "jsonl" else "2026-13-01 25:61:00"}[k]
        return _encode(row, ds, style), col, f"{k} that does not parse: {row[col]}"
    if kind == "unknown_enum":
        col = next(c.name for c in ds.columns if c.kind == "enum")
        row[col] = _BAD_ENUM[col]
        return _encode(row, ds, style), col, f"not a member: {row[col]}"
    if kind in ("invalid_id", "invalid_id_birth_date"):
        col = _ID_COLUMN[name]
        good = row[col] or _any_id(row, ds)
        row[col] = _bad_check(good) if kind == "invalid_id" else _bad_birth(good)
        what = "wrong check character" if kind == "invalid_id" else "birth date 30 February"
        return _encode(row, ds, style), col, f"{what}: {row[col]}"
    if kind == "event_time_future":
        col = ds.event[0]
        k = ds.column(col).kind
        future = dt + 5
        if col == "as_of":  # snapshots are month ends: take the next one after dt + 5
            future = int(clock.month_end(clock.month_index(np.array([dt + 5])))[0])
        text = clock.iso(future)
        row[col] = text if k == "date" else (f"{text}T10:00:00+08:00" if ds.format == "jsonl" else f"{text} 10:00:00")
        return _encode(row, ds, style), col, f"{row[col]} is after dt + 1 day"
    if kind == "rule_violation":
        col, value, detail = _rule_break(row, ds)
        row[col] = value
        return _encode(row, ds, style), col, detail
    raise ValueError(f"unknown fault kind {kind}")


def _rule_break(row: dict, ds: Dataset) -> tuple[str, str, str]:
    shift = lambda text, days: clock.iso(clock.day(text) + days)
    name = ds.name
    if name == "population/persons":
        return "gender", "F" if row["gender"] == "M" else "M", "gender disagrees with the ID's 17th digit"
    if name == "marriage/registrations":
        return "spouse_b_id", row["spouse_a_id"], "spouse_a_id == spouse_b_id"
    if name == "finance/accounts":
        return "closed_on", shift(row["opened_on"], -30), "closed_on < opened_on"
    if name == "finance/balances":
        return "balance", "-1250.00", "balance < 0"
    if name == "finance/transactions":
        return "amount", "4999.00", "amount < 5000"
    if name == "finance/loans":
        return "maturity_on", shift(row["issued_on"], -1), "maturity_on < issued_on"
    if name == "finance/assets":
        return "disposed_on", shift(row["acquired_on"], -10), "disposed_on < acquired_on"
    if name == "ecommerce/orders":
        return "amount", "0.00", "amount must be > 0"
    if name == "social/accounts":
        return "phone", "1381234567", "phone is 10 digits, not 11"
    if name == "social/links":
        return "dst_account", row["src_account"], "src_account == dst_account"
    if name == "court/cases":
        return "claim_amount", "0.00", "claim_amount must be > 0"
    if name == "court/parties":
        return "party_kind", "company", "a respondent must be a person"
    if name == "court/closures":
        return "amount_recovered", "-100.00", "amount_recovered < 0"
    if name == "court/dishonest":
        return "delisted_on", shift(row["listed_on"], -5), "delisted_on < listed_on"
    raise ValueError(name)


_CONFLICT = {"population/persons": "name", "marriage/registrations": "office_region", "finance/accounts": "bank_code",
             "finance/balances": "balance", "finance/transactions": "amount", "finance/loans": "outstanding",
             "finance/assets": "declared_value", "ecommerce/orders": "amount", "social/accounts": "nickname",
             "social/links": "since", "court/cases": "claim_amount", "court/parties": "name",
             "court/closures": "amount_recovered", "court/dishonest": "ground"}


def _conflict_column(ds: Dataset) -> str:
    return _CONFLICT[ds.name]


def _changed(value: str | None, column) -> str:
    """A different but individually valid value, so only the key conflict is wrong."""
    if column.kind == "money":
        return f"{float(value or 0) + 1:.2f}"
    if column.kind == "date":
        return clock.iso(clock.day(value) + 1)
    if column.kind == "region":
        return "320311" if value != "320311" else "320312"
    if column.kind == "enum":
        return next(v for v in column.values if v != value)
    return (value or "") + "2"


def _fresh_key(row: dict, ds: Dataset, n: int, rng: np.random.Generator) -> dict:
    """A copy of `row` under a key no real record has."""
    row = dict(row)
    first = ds.key[0]
    if ds.column(first).kind in ("id", "party_id") or ds.name == "court/parties":
        col = "id_number"
        row[col] = _new_id(row[col] if ids.is_valid_id(row[col] or "") else _any_id(row, ds), n, rng)
    elif first == "case_no":
        year = row["case_no"][1:5]
        court = row["case_no"][6:11]
        row["case_no"] = f"({year}){court}执{99000 + n + int(rng.integers(0, 900)) * 10}号"
    else:
        row[first] = f"{row[first]}F{n}"
    return row


def _any_id(row: dict, ds: Dataset) -> str:
    for c in ds.columns:
        if c.kind == "id" and row.get(c.name) and ids.is_valid_id(row[c.name]):
            return row[c.name]
    return "11010519491231002X"


def _new_id(valid: str, n: int, rng: np.random.Generator) -> str:
    """Same region, birth date and sex; another sequence number; a correct check character."""
    seq = int(valid[14:17])
    new_seq = (seq + 2 * (101 + n * 7 + int(rng.integers(0, 40)))) % 1000
    body = int(valid[:14] + f"{new_seq:03d}")
    return valid[:14] + f"{new_seq:03d}" + str(ids.check_chars(np.array([body]))[0])


def _bad_check(valid: str) -> str:
    right = valid[17].upper()
    return valid[:17] + ("0" if right != "0" else "1")


def _bad_birth(valid: str) -> str:
    body = valid[:6] + valid[6:10] + "0230" + valid[14:17]
    return body + str(ids.check_chars(np.array([int(body)]))[0])


def _encode(row: dict, ds: Dataset, style: FileStyle) -> str:
    cols = {c: pa.array([row.get(c)], pa.string()) for c in ds.column_names}
    return encode_lines(cols, ds, style)[0].as_py()
