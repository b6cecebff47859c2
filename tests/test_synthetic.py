"""The synthetic generator writes exactly what the contract promises.

The checks read the files back with nothing but the standard library (csv,
json, gzip) and an independent reading of the contract's rules, so a file the
generator gets wrong fails here rather than in the pipeline. Every record the
rules reject must be listed in truth/faults.csv, and every listed fault must
be rejected by them.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from synthetic import DATASETS, generate
from synthetic.ids import is_valid_id, is_valid_uscc

PERSONS, SEED = 400, 7
BACKFILL, DAILY = "2026-10-31", 6
BATCH_DTS = [str(dt.date(2026, 10, 31) + dt.timedelta(days=i)) for i in range(DAILY + 1)]


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    generate(out, PERSONS, SEED, backfill_dt=BACKFILL, daily_batches=DAILY, messy=True, faults=True)
    return out


@pytest.fixture(scope="module")
def records(sample) -> dict:
    return _landing_records(sample)


def _landing_records(root: Path) -> dict:
    """(dataset, dt) -> list of (file, row number, raw record, parsed dict or None)."""
    out = defaultdict(list)
    for name, ds in DATASETS.items():
        for folder in sorted((root / "landing" / name).glob("dt=*")):
            for path in sorted(folder.glob("part-*")):
                out[(name, folder.name[3:])].extend(_read(path, ds))
    return out


@pytest.fixture(scope="module")
def faults(sample) -> list[dict]:
    with open(sample / "truth" / "faults.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _text(path: Path, encoding: str) -> str:
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    return raw.decode(encoding)


def _read(path: Path, ds) -> list[tuple]:
    text = _text(path, "gbk" if ds.name == "population/persons" else "utf-8")
    rows = []
    if ds.format == "jsonl":
        for i, line in enumerate(text.splitlines(), 1):
            try:
                obj = json.loads(line)
                obj = obj if isinstance(obj, dict) else None
            except json.JSONDecodeError:
                obj = None
            if obj is not None:
                obj = {k: (None if v is None else (v if isinstance(v, str) else json.dumps(v))) for k, v in obj.items()}
            rows.append((path.name, i, line, obj))
        return rows
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    for i, fields in enumerate(reader, 1):
        obj = dict(zip(header, [f if f != "" else None for f in fields])) if len(fields) == len(header) else None
        rows.append((path.name, i, tuple(fields), obj))
    return rows


# ---------------------------------------------------------------- the rules

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TS = {"csv": re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"),
       "jsonl": re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$")}
_MONEY = re.compile(r"^-?\d+(\.\d{1,2})?$")
_PATTERNS = {"region": re.compile(r"^\d{6}$"), "phone": re.compile(r"^\d{11}$")}


def _day(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def _parses(kind: str, value: str, fmt: str) -> bool:
    if kind == "date":
        return bool(_DATE.match(value)) and _day(value) is not None
    if kind == "ts":
        if not _TS[fmt].match(value):
            return False
        try:
            dt.datetime.fromisoformat(value)
            return True
        except ValueError:
            return False
    if kind == "money":
        return bool(_MONEY.match(value))
    if kind == "int":
        return value.lstrip("-").isdigit()
    return True


def _reasons(ds, rec: dict | None, batch_dt: str) -> set[str]:
    """Every contract rule (sections 2, 3, 6) this record breaks, as reason codes."""
    if rec is None:
        return {"malformed_row"}
    found = set()
    for col in ds.columns:
        value = rec.get(col.name)
        if value is None:
            if col.required:
                found.add("required_missing")
            continue
        if not _parses(col.kind, value, ds.format):
            found.add("unparseable_value")
        elif col.kind == "enum" and value not in col.values:
            found.add("unknown_enum")
        elif col.kind == "id" and not is_valid_id(value):
            found.add("invalid_id")
        elif col.kind == "party_id" and not (is_valid_id(value) if rec.get("party_kind") == "person"
                                             else is_valid_uscc(value)):
            found.add("invalid_id")
        elif col.kind in _PATTERNS and not _PATTERNS[col.kind].match(value):
            found.add("invalid_format")
    if found:
        return found
    r = {c: rec.get(c) for c in ds.column_names}
    num = lambda c: float(r[c])
    broken = {
        "population/persons": lambda: (r["gender"] == "M") != (int(r["id_number"][16]) % 2 == 1)
        or r["birth_date"].replace("-", "") != r["id_number"][6:14] or not 1 <= len(r["name"]) <= 20
        or (r["phone"] is not None and not re.match(r"^1[3-9]\d{9}$", r["phone"])),
        "marriage/registrations": lambda: r["spouse_a_id"].upper() == r["spouse_b_id"].upper(),
        "finance/accounts": lambda: r["closed_on"] is not None and r["closed_on"] < r["opened_on"],
        "finance/balances": lambda: num("balance") < 0,
        "finance/transactions": lambda: num("amount") < 5000,
        "finance/loans": lambda: num("principal") <= 0 or r["maturity_on"] < r["issued_on"]
        or r["as_of"] < r["issued_on"] or num("outstanding") < 0 or int(r["overdue_days"]) < 0
        or (_day(r["as_of"]) + dt.timedelta(days=1)).day != 1,
        "finance/assets": lambda: (r["disposed_on"] is not None and r["disposed_on"] < r["acquired_on"])
        or num("declared_value") <= 0,
        "ecommerce/orders": lambda: num("amount") <= 0 or (r["buyer_id_masked"] is not None and not re.match(
            r"^\d{6}\*{8}\d{3}[0-9X]$", r["buyer_id_masked"])),
        "social/accounts": lambda: False,
        "social/links": lambda: r["src_account"] == r["dst_account"]
        or (r["until"] is not None and r["until"] < r["since"]),
        "court/cases": lambda: num("claim_amount") <= 0,
        "court/parties": lambda: r["role"] == "respondent" and r["party_kind"] != "person",
        "court/closures": lambda: num("amount_recovered") < 0,
        "court/dishonest": lambda: r["delisted_on"] is not None and r["delisted_on"] < r["listed_on"],
    }[ds.name]
    if broken():
        return {"rule_violation"}
    limit = _day(batch_dt) + dt.timedelta(days=1)
    if any(rec.get(c) and _day(rec[c]) > limit for c in ds.event):
        return {"event_time_future"}
    return set()


def _flag_batch(ds, rows: list[tuple], batch_dt: str) -> dict[tuple, set[str]]:
    """(file, row) -> reasons, for every record of one batch that must not load as is."""
    flagged, seen, by_key = {}, set(), defaultdict(set)
    for file, row, raw, rec in rows:
        reasons = _reasons(ds, rec, batch_dt)
        if reasons:
            flagged[(file, row)] = reasons
        elif raw in seen:
            flagged[(file, row)] = {"exact_duplicate"}
        else:
            seen.add(raw)
            key = tuple((rec.get(k) or "").upper() for k in ds.key)
            by_key[key].add((file, row, raw))
    for members in by_key.values():
        if len({raw for _, _, raw in members}) > 1:
            for file, row, _ in members:
                flagged[(file, row)] = {"key_conflict"}
    return flagged


# ---------------------------------------------------------------- tests

def test_same_seed_gives_identical_bytes(sample, tmp_path):
    again = tmp_path / "again"
    generate(again, PERSONS, SEED, backfill_dt=BACKFILL, daily_batches=DAILY, messy=True, faults=True)

    def digest(root: Path) -> dict[str, str]:
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}

    first, second = digest(sample), digest(again)
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []


def test_every_dataset_has_every_batch_with_manifest(sample, records, faults):
    mismatch = {(f["dataset"], f["dt"], f["file"]) for f in faults if f["kind"] == "manifest_mismatch"}
    waiting = {(f["dataset"], f["dt"]) for f in faults if f["kind"] == "missing_success"}
    assert len(mismatch) == 1 and len(waiting) == 1
    for name, ds in DATASETS.items():
        folders = sorted(p.name for p in (sample / "landing" / name).iterdir())
        assert folders == [f"dt={d}" for d in BATCH_DTS], name
        for d in BATCH_DTS:
            folder = sample / "landing" / name / f"dt={d}"
            manifest = json.loads((folder / "_MANIFEST.json").read_text(encoding="utf-8"))
            assert manifest["dataset"] == name and manifest["dt"] == d
            parts = sorted(p.name for p in folder.glob("part-*"))
            assert sorted(manifest["files"]) == parts and parts
            assert all(re.fullmatch(rf"part-\d{{4}}\.{ds.format}(\.gz)?", p) for p in parts)
            assert (folder / "_SUCCESS").exists() == ((name, d) not in waiting)
            counted = Counter(file for file, *_ in records[(name, d)])
            for part, meta in manifest["files"].items():
                expected = counted[part] + (1 if (name, d, part) in mismatch else 0)
                assert meta["rows"] == expected, (name, d, part)


def test_event_times_never_pass_batch_date_outside_faults(records, faults):
    future = {(f["dataset"], f["dt"], f["file"], f["row"]) for f in faults if f["kind"] == "event_time_future"}
    assert len(future) >= 10
    for (name, d), rows in records.items():
        ds = DATASETS[name]
        limit = _day(d) if d != BACKFILL else _day(BACKFILL)
        for file, row, _, rec in rows:
            if rec is None or (name, d, file, str(row)) in future:
                continue
            for col in ds.event:
                day = _day(rec.get(col))
                if day is not None and ds.column(col).kind in ("date", "ts"):
                    assert day <= limit + dt.timedelta(days=1), (name, d, file, row, col)


def test_rule_breaks_are_exactly_the_listed_faults(records, faults):
    listed = {(f["dataset"], f["dt"], f["file"], int(f["row"])): f for f in faults if f["row"]}
    found = {}
    for (name, d), rows in records.items():
        for (file, row), reasons in _flag_batch(DATASETS[name], rows, d).items():
            found[(name, d, file, row)] = reasons
    assert sorted(set(found) - set(listed)) == [], "records that break the contract but are not listed"
    assert sorted(set(listed) - set(found)) == [], "listed faults the contract rules do not catch"
    alias = {"invalid_format": {"rule_violation", "invalid_format"}, "rule_violation": {"rule_violation"}}
    for key, fault in listed.items():
        ok = {fault["reason"]} | alias.get(fault["reason"], set())
        if fault["dataset"] == "court/parties" and fault["reason"] == "rule_violation":
            ok |= {"invalid_id"}  # a person ID under party_kind company
        assert found[key] & (ok | {"invalid_format"} if fault["dataset"] == "social/accounts" else ok), (key, fault, found[key])


def test_every_fault_kind_is_present(faults):
    kinds = Counter(f["kind"] for f in faults)
    expected = {"malformed_row", "invalid_json", "required_missing", "unparseable_value", "unknown_enum",
                "invalid_id", "invalid_id_birth_date", "rule_violation", "event_time_future", "exact_duplicate",
                "key_conflict", "manifest_mismatch", "missing_success", "extra_column"}
    assert expected <= set(kinds), expected - set(kinds)
    for kind in expected - {"manifest_mismatch", "missing_success", "extra_column"}:
        assert kinds[kind] >= 2, kind
    assert kinds["key_conflict"] % 2 == 0


def test_identity_numbers_are_valid_outside_faults(records, faults):
    bad_rows = {(f["dataset"], f["dt"], f["file"], f["row"]) for f in faults if f["row"]}
    checked, lower_x = 0, 0
    for (name, d), rows in records.items():
        ds = DATASETS[name]
        id_cols = [c.name for c in ds.columns if c.kind == "id"]
        for file, row, _, rec in rows:
            if rec is None or (name, d, file, str(row)) in bad_rows:
                continue
            values = [rec.get(c) for c in id_cols]
            if name == "court/parties":
                values.append(rec["id_number"] if rec["party_kind"] == "person" else None)
                if rec["party_kind"] == "company":
                    assert is_valid_uscc(rec["id_number"]), rec
            for value in filter(None, values):
                assert is_valid_id(value), (name, d, file, row, value)
                checked += 1
                lower_x += value.endswith("x")
    assert checked > 1000 and lower_x > 0


def test_extra_column_batch_keeps_contract_columns(sample, faults):
    extra = next(f for f in faults if f["kind"] == "extra_column")
    folder = sample / "landing" / extra["dataset"] / f"dt={extra['dt']}"
    for part in folder.glob("part-*"):
        header = next(csv.reader(io.StringIO(_text(part, "utf-8"))))
        assert set(DATASETS[extra["dataset"]].column_names) < set(header)


def test_messy_formats_are_all_there(sample):
    files = list((sample / "landing").rglob("part-*"))
    raw = {p: (gzip.decompress(p.read_bytes()) if p.name.endswith(".gz") else p.read_bytes()) for p in files}
    assert any(p.name.endswith(".gz") for p in files)
    assert any(b.startswith(b"\xef\xbb\xbf") for b in raw.values())
    assert any(b"\r\n" in b for b in raw.values())
    assert any(p.name.startswith("part-0002") for p in files)
    persons = [b for p, b in raw.items() if "population" in str(p)]
    assert all(not b.startswith(b"\xef\xbb\xbf") for b in persons)
    with pytest.raises(UnicodeDecodeError):  # GBK, not UTF-8
        b"".join(persons).decode("utf-8")
    jsonl = b"".join(b for p, b in raw.items() if ".jsonl" in p.name)
    assert b":null" in jsonl
    parties = b"".join(b for p, b in raw.items() if "parties" in str(p))
    assert b'"' in parties  # quoted names with commas or line breaks
    headers = {next(csv.reader(io.StringIO(b.decode("utf-8-sig" if "population" not in str(p) else "gbk"))))[0]
               for p, b in raw.items() if ".csv" in p.name and "accounts" in str(p)}
    assert "owner_id" in headers  # columns in another order than the contract's


def test_truth_files_and_label_rate(sample):
    truth = sample / "truth"
    for name in ("case_truth.csv", "order_owner.csv", "social_account_owner.csv", "persons_latent.csv",
                 "faults.csv", "README.md"):
        assert (truth / name).exists(), name
    with open(truth / "case_truth.csv", encoding="utf-8", newline="") as fh:
        cases = list(csv.DictReader(fh))
    labels = Counter(c["label_at_last_dt"] for c in cases)
    labelled = labels["0"] + labels["1"]
    assert labelled >= 50
    assert 0.3 <= labels["1"] / labelled <= 0.6, labels
    probs = [float(c["true_probability"]) for c in cases]
    assert min(probs) < 0.2 and max(probs) > 0.8  # spread out, not all near the mean
    with open(truth / "order_owner.csv", encoding="utf-8", newline="") as fh:
        owners = [r["owner_id"] for r in csv.DictReader(fh)]
    assert 0 < owners.count("") < len(owners) / 3  # some buyers are outside the population


def test_label_agrees_with_delivered_closures(sample, records):
    closures = {}
    for d in BATCH_DTS:
        for _, _, _, rec in records[("court/closures", d)]:
            if rec and not _reasons(DATASETS["court/closures"], rec, d):
                closures[rec["case_no"]] = rec
    with open(sample / "truth" / "case_truth.csv", encoding="utf-8", newline="") as fh:
        truth = list(csv.DictReader(fh))
    for case in truth:
        got = closures.get(case["case_no"])
        if case["label_at_last_dt"] == "0":
            assert got and got["closure"] in ("executed_in_full", "settled")
            assert _day(got["closed_on"]) <= _day(case["filed_on"]) + dt.timedelta(days=180)
        if case["label_at_last_dt"] == "censored":
            assert got is None


def test_evasion_before_filing_is_observable(sample, records):
    def clean(name):
        return [rec for d in BATCH_DTS for _, _, _, rec in records[(name, d)]
                if rec and not _reasons(DATASETS[name], rec, d)]

    filed = {c["case_no"]: _day(c["filed_on"]) for c in clean("court/cases")}
    respondent_filings = defaultdict(list)
    for p in clean("court/parties"):
        if p["role"] == "respondent" and p["case_no"] in filed:
            respondent_filings[p["id_number"].upper()].append(filed[p["case_no"]])
    near = lambda who, day, days: any(timedelta_ok(day, f, days) for f in respondent_filings.get(who.upper(), []))
    divorces = [m for m in clean("marriage/registrations") if m["kind"] == "divorce"]
    paper = [m for m in divorces if near(m["spouse_a_id"], _day(m["registered_on"]), 90)
             or near(m["spouse_b_id"], _day(m["registered_on"]), 90)]
    gifts = [a for a in clean("finance/assets") if a["disposed_to_id"]
             and near(a["owner_id"], _day(a["disposed_on"]), 90)]
    assert paper, "no divorce weeks before a filing"
    assert gifts, "no asset handed to a person shortly before a filing"


def timedelta_ok(event: dt.date, filing: dt.date, days: int) -> bool:
    return filing - dt.timedelta(days=days) <= event < filing


def test_schema_matches_project_contract_copy():
    yaml = pytest.importorskip("yaml")
    conf = Path(__file__).resolve().parents[1] / "conf" / "contract.yaml"
    if not conf.exists():
        pytest.skip("no conf/contract.yaml")
    spec = yaml.safe_load(conf.read_text(encoding="utf-8"))["datasets"]
    for name, ds in DATASETS.items():
        assert tuple(spec[name]["columns"]) == ds.column_names, name
        assert tuple(spec[name]["key"]) == ds.key, name


def test_default_mode_reproduces_committed_sample(tmp_path):
    """The leakage-traps mode draws from its own stream: without it the committed sample comes out unchanged."""
    committed = Path(__file__).resolve().parents[1] / "data" / "sample"
    if not (committed / "truth" / "case_truth.csv").exists():
        pytest.skip("no committed sample")
    generate(tmp_path, 13000, 20261125, messy=True, faults=True)
    for sub in ("landing", "truth"):
        made = {p.relative_to(tmp_path): p for p in sorted((tmp_path / sub).rglob("*")) if p.is_file()}
        kept = {p.relative_to(committed): p for p in sorted((committed / sub).rglob("*")) if p.is_file()}
        assert made.keys() == kept.keys(), sub
        assert [str(k) for k in made if made[k].read_bytes() != kept[k].read_bytes()] == []


# ---------------------------------------------------------------- asset reappearance

REAPPEAR_PERSONS, REAPPEAR_SEED = 3000, 7


@pytest.fixture(scope="module")
def reappeared(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reappear")
    generate(out, REAPPEAR_PERSONS, REAPPEAR_SEED, messy=True, faults=True)
    return out


@pytest.fixture(scope="module")
def reappeared_records(reappeared) -> dict:
    return _landing_records(reappeared)


def test_reappearance_events_exist_in_the_nightly_window(reappeared):
    events = _truth(reappeared, "asset_reappearance.csv")
    assert len({e["case_no"] for e in events}) >= 3
    assert {e["kind"] for e in events} == {"asset", "transfer_in"}
    for e in events:
        day, delivered = _day(e["event_date"]), _day(e["delivered_dt"])
        assert _day(BATCH_DTS[1]) <= day <= delivered <= min(day + dt.timedelta(days=1), _day(BATCH_DTS[-1])), e
        assert float(e["amount"]) >= 50_000 and float(e["unpaid_amount"]) > 0, e


def test_reappearance_belongs_to_a_terminated_no_assets_respondent(reappeared, reappeared_records):
    def clean(name):
        return [rec for d in BATCH_DTS for _, _, _, rec in reappeared_records[(name, d)]
                if rec and not _reasons(DATASETS[name], rec, d)]

    closures = {c["case_no"]: c for c in clean("court/closures")}
    claims = {c["case_no"]: float(c["claim_amount"]) for c in clean("court/cases")}
    respondents = {(p["case_no"], p["id_number"].upper()) for p in clean("court/parties") if p["role"] == "respondent"}
    for e in _truth(reappeared, "asset_reappearance.csv"):
        closure = closures[e["case_no"]]
        assert closure["closure"] == "terminated_no_assets" and closure["closed_on"] == e["closed_on"], e
        assert _day(e["closed_on"]) <= _day(BATCH_DTS[1]) - dt.timedelta(days=30), e
        unpaid = claims[e["case_no"]] - float(closure["amount_recovered"])
        assert unpaid > 0 and abs(unpaid - float(e["unpaid_amount"])) < 0.01, e
        assert (e["case_no"], e["respondent_id"].upper()) in respondents, e


def test_reappearance_records_are_in_their_nightly_batch(reappeared, reappeared_records):
    """Each truth row is one clean landing record, delivered in a nightly batch that is not rejected whole."""
    faults = _truth(reappeared, "faults.csv")
    rejected = {(f["dataset"], f["dt"]) for f in faults if f["kind"] == "manifest_mismatch"}
    found = defaultdict(list)
    for (name, d), rows in reappeared_records.items():
        if name not in ("finance/assets", "finance/transactions", "finance/accounts"):
            continue
        flagged = _flag_batch(DATASETS[name], rows, d)
        key = "asset_id" if name == "finance/assets" else "txn_id" if name == "finance/transactions" else "account_id"
        for file, row, _, rec in rows:
            if rec and (file, row) not in flagged:
                found[(name, rec[key])].append((d, rec))
    for e in _truth(reappeared, "asset_reappearance.csv"):
        name = "finance/assets" if e["kind"] == "asset" else "finance/transactions"
        hits = found[(name, e["record_id"])]
        assert [d for d, _ in hits] == [e["delivered_dt"]], e
        assert e["delivered_dt"] != BACKFILL and (name, e["delivered_dt"]) not in rejected, e
        rec = hits[0][1]
        if e["kind"] == "asset":
            assert rec["owner_id"].upper() == e["respondent_id"].upper(), e
            assert rec["asset_type"] in ("vehicle", "real_estate") and rec["disposed_on"] is None, e
            assert rec["acquired_on"] == e["event_date"] and float(rec["declared_value"]) == float(e["amount"]), e
        else:
            assert rec["direction"] == "in" and float(rec["amount"]) == float(e["amount"]) >= 50_000, e
            assert _day(rec["booked_at"]) == _day(e["event_date"]), e
            accounts = [a for _, a in found[("finance/accounts", rec["account_id"])]]
            assert accounts and all(a["owner_id"].upper() == e["respondent_id"].upper() for a in accounts), e
            assert all(_day(a["opened_on"]) < _day(e["event_date"]) and (
                a["closed_on"] is None or _day(a["closed_on"]) > _day(e["event_date"])) for a in accounts), e


def test_committed_sample_has_reappearance_outside_the_rejected_batch():
    """The sample's transfers on the day of the rejected transactions batch arrive the next night instead."""
    committed = Path(__file__).resolve().parents[1] / "data" / "sample"
    if not (committed / "truth" / "asset_reappearance.csv").exists():
        pytest.skip("no committed sample")
    events = _truth(committed, "asset_reappearance.csv")
    rejected = {(f["dataset"], f["dt"]) for f in _truth(committed, "faults.csv") if f["kind"] == "manifest_mismatch"}
    assert 20 <= len({e["case_no"] for e in events}) <= 40
    dataset = {"asset": "finance/assets", "transfer_in": "finance/transactions"}
    assert all((dataset[e["kind"]], e["delivered_dt"]) not in rejected for e in events)
    assert any((dataset[e["kind"]], e["event_date"]) in rejected for e in events)


def test_reappearance_is_deterministic(reappeared, tmp_path):
    generate(tmp_path, REAPPEAR_PERSONS, REAPPEAR_SEED, messy=True, faults=True)
    for rel in ("truth/asset_reappearance.csv", "truth/faults.csv"):
        assert (tmp_path / rel).read_bytes() == (reappeared / rel).read_bytes(), rel
    for name in ("finance/assets", "finance/transactions"):
        for d in BATCH_DTS[1:]:
            for part in (reappeared / "landing" / name / f"dt={d}").glob("part-*"):
                assert part.read_bytes() == (tmp_path / "landing" / name / f"dt={d}" / part.name).read_bytes()


# ---------------------------------------------------------------- leakage traps

TRAP_PERSONS, TRAP_SEED = 2000, 11
TRAP_FAMILIES = {
    ("population/persons", "updated_at"), ("marriage/registrations", "registered_on"),
    ("finance/assets", "disposed_on"), ("finance/accounts", "closed_on"), ("finance/transactions", "booked_at"),
    ("ecommerce/orders", "ordered_at"), ("court/dishonest", "listed_on"), ("court/closures", "closed_on"),
    ("social/links", "since"), ("social/accounts", "registered_at"),
}


@pytest.fixture(scope="module")
def trapped(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("traps")
    generate(out, TRAP_PERSONS, TRAP_SEED, messy=True, leakage_traps=True)
    return out


@pytest.fixture(scope="module")
def trapped_records(trapped) -> dict:
    return _landing_records(trapped)


def _truth(root: Path, name: str) -> list[dict]:
    with open(root / "truth" / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _event_day(ds, rec: dict) -> dt.date:
    """The latest event time of a record: for an update row, the change it delivers."""
    return max(_day(rec[c]) for c in ds.event if rec.get(c))


def test_leakage_traps_deliver_every_record_on_its_event_day(trapped_records):
    filed = {rec["case_no"]: _day(rec["filed_on"]) for (name, _), rows in trapped_records.items()
             if name == "court/cases" for *_, rec in rows}
    checked = 0
    for (name, d), rows in trapped_records.items():
        ds = DATASETS[name]
        for file, row, _, rec in rows:
            day = _event_day(ds, rec) if ds.event else filed[rec["case_no"]]
            if d == BACKFILL:
                assert day <= _day(BACKFILL), (name, d, file, row)
            else:  # never later than its day (none late), never ahead of it (nothing from the future)
                assert day == _day(d), (name, d, file, row)
            checked += 1
    assert checked > 50_000


def test_leakage_traps_keep_the_contract(trapped_records):
    broken = {(name, d): flagged for (name, d), rows in trapped_records.items()
              if (flagged := _flag_batch(DATASETS[name], rows, d))}
    assert broken == {}


def test_leakage_traps_cover_every_family(trapped):
    traps = _truth(trapped, "leakage_traps.csv")
    assert TRAP_FAMILIES <= {(t["dataset"], t["event_column"]) for t in traps}
    for dataset in ("population/persons", "finance/assets", "finance/accounts"):
        assert {t["timing"] for t in traps if t["dataset"] == dataset} == {"on_filing_day", "after_filing"}
    for t in traps:
        assert _day(BACKFILL) < _day(t["filed_on"]) <= _day(t["event_date"]) <= _day(BATCH_DTS[-1]), t
        assert (t["timing"] == "on_filing_day") == (t["event_date"] == t["filed_on"]), t
        assert t["record_key"] and t["would_change"], t
    daily = {c["case_no"] for c in _truth(trapped, "case_truth.csv") if _day(c["filed_on"]) > _day(BACKFILL)}
    trapped_cases = {t["case_no"] for t in traps}
    assert trapped_cases <= daily and 2 * len(trapped_cases) >= len(daily)


def test_leakage_trap_records_are_in_the_landing_zone(trapped, trapped_records):
    by_key = defaultdict(list)
    for (name, d), rows in trapped_records.items():
        for *_, rec in rows:
            by_key[(name, "|".join(rec[k] for k in DATASETS[name].key).upper())].append((d, rec))
    cases = {c["case_no"]: c for c in _truth(trapped, "case_truth.csv")}
    for t in _truth(trapped, "leakage_traps.csv"):
        hits = [(d, rec) for d, rec in by_key[(t["dataset"], t["record_key"].upper())]
                if _day(rec.get(t["event_column"])) == _day(t["event_date"])]
        assert [d for d, _ in hits] == [t["event_date"]], t  # one record, in the batch of its event day
        if t["trap"] == "prior_case_closure":  # an earlier case, open before the filing
            assert _day(cases[t["record_key"]]["filed_on"]) < _day(t["filed_on"])


def test_leakage_trap_orders_use_an_existing_buyer_identity(trapped, trapped_records):
    owner = {r["order_id"]: r["owner_id"] for r in _truth(trapped, "order_owner.csv")}
    orders = [rec for (name, _), rows in trapped_records.items() if name == "ecommerce/orders" for *_, rec in rows]
    traps = [t for t in _truth(trapped, "leakage_traps.csv") if t["trap"] == "luxury_order"]
    assert traps
    for t in traps:
        order = next(o for o in orders if o["order_id"] == t["record_key"])
        assert owner[order["order_id"]] == t["respondent_id"] and order["category"] == "luxury"
        assert any(owner[o["order_id"]] == t["respondent_id"] and _day(o["ordered_at"]) < _day(t["filed_on"])
                   and (o["buyer_name"], o["buyer_phone"]) == (order["buyer_name"], order["buyer_phone"])
                   for o in orders), t


def test_leakage_traps_list_snapshots_when_a_month_end_is_in_the_window(tmp_path):
    """With the window over a quarter end, loan and balance snapshots after a filing are traps too."""
    generate(tmp_path, TRAP_PERSONS, TRAP_SEED, backfill_dt="2026-12-27", leakage_traps=True)
    snapshots = [t for t in _truth(tmp_path, "leakage_traps.csv") if t["event_column"] == "as_of"]
    assert {t["dataset"] for t in snapshots} == {"finance/loans", "finance/balances"}
    assert all(t["event_date"] == "2026-12-31" and t["filed_on"] <= t["event_date"] for t in snapshots)
