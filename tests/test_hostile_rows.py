"""Property-based: random and adversarial rows through the whole ingest (Spark), on top of the pure-Python
parsers of test_hostile_parsers.py.

A batch of population/persons (GBK CSV) and one of finance/transactions (JSONL) are built from valid rows
with fields swapped for hostile values: huge fields, control characters, formula text, `0000-00-00`,
invalid JSON, bytes of the wrong encoding, a file cut short. Whatever comes, ingest does not crash and
every row is accounted for: a batch is loaded (rows in files = loaded + quarantined + duplicates, each
quarantined row with its rule) or rejected whole with a reason. And where a well-formed file has one bad
line, that line alone is quarantined: the batch is loaded, never rejected for it.

`make test` runs a few examples of each property (the `default` profile of tests/conftest.py);
`make test-chaos` runs many (`--hypothesis-profile=chaos`).
"""

from __future__ import annotations

import csv
import io
import json

from hypothesis import given
from hypothesis import strategies as st
from helpers.landing import write_batch
from test_ingest import MAN, PERSON_COLS, TXN, person

from pipelines.bronze import ingest
from pipelines.core import catalog
from pipelines.core.contract import dataset

HOSTILE = st.one_of(
    st.text(max_size=40),                                                  # any Unicode, controls included
    st.sampled_from(["=cmd|' /C calc'!A0", "+SUM(1,2)", "-1+1", "@HYPERLINK(\"x\")", "\t=1", "0000-00-00",
                     "2026-02-30", "9999-99-99 99:99:99", "NaN", "1e309", "-0", "", " ", "\x00", "\u202e",
                     "'; DROP TABLE cases;--", "null", "\ufeff"]),
    st.integers(min_value=1000, max_value=200_000).map(lambda n: "长" * n),  # a huge field
)
PERSON_FIELDS = st.sampled_from(range(len(PERSON_COLS)))
TXN_FIELDS = st.sampled_from(sorted(TXN) + ["memo", "counterparty_id", "unknown_field"])


@st.composite
def person_rows(draw):
    rows = []
    for i in range(draw(st.integers(1, 12))):
        row = person(updated=f"2025-06-{1 + i % 28:02d} 08:00:00")
        for _ in range(draw(st.integers(0, 3))):
            row[draw(PERSON_FIELDS)] = draw(HOSTILE)
        rows.append(row)
    return rows


@st.composite
def txn_lines(draw):
    lines = []
    for i in range(draw(st.integers(1, 12))):
        record = {**TXN, "txn_id": f"t{i}"}
        for _ in range(draw(st.integers(0, 3))):
            record[draw(TXN_FIELDS)] = draw(st.one_of(HOSTILE, st.integers(), st.floats(), st.none(),
                                                      st.lists(st.integers(), max_size=3)))
        line = json.dumps(record, ensure_ascii=draw(st.booleans()))
        if draw(st.integers(0, 9)) == 0:
            line = line[: draw(st.integers(0, len(line)))]                  # invalid JSON
        lines.append(line.replace("\n", " ") or "{")
    return lines


def _csv_bytes(rows: list[list[str]], encoding: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(PERSON_COLS)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding, errors="replace")


@given(persons=person_rows(), txns=txn_lines(), persons_encoding=st.sampled_from(["gbk", "utf-8"]),
       cut=st.one_of(st.none(), st.floats(0.05, 0.95)), gzip_txns=st.booleans())
def test_hostile_rows_never_crash_ingest_and_every_row_is_accounted_for(
        spark, tmp_path_factory, persons, txns, persons_encoding, cut, gzip_txns):
    from pipelines.core.config import load_settings
    from helpers.paths import CONF

    root = tmp_path_factory.mktemp("hostile")
    land = root / "landing"
    persons_file = _csv_bytes(persons, persons_encoding)
    folder = write_batch(land, "population/persons", "2025-07-01", {"part-0001.csv": persons_file}, encoding="gbk")
    if cut is not None:                                   # a file cut short after its manifest was written
        (folder / "part-0001.csv").write_bytes(persons_file[: int(len(persons_file) * cut)])
    txn_name = "part-0001.jsonl.gz" if gzip_txns else "part-0001.jsonl"
    write_batch(land, "finance/transactions", "2025-07-01", {txn_name: "".join(t + "\n" for t in txns)})

    settings_ = load_settings(CONF, landing=str(land), lake=str(root / "lake"))
    report = ingest(spark, settings_)

    assert sorted(r.dataset for r in report.results) == ["finance/transactions", "population/persons"]
    for result in report.results:
        assert result.status in ("loaded", "rejected"), result
        if result.status == "rejected":
            assert result.reason_code and result.reason_detail, result
            continue
        table = settings_.table(catalog.lookup("bronze", result.dataset.replace("/", "_")))
        loaded = spark.read.format("delta").load(table).count()
        quarantine = spark.read.format("delta").load(f"{table}_quarantine")
        assert (loaded, quarantine.count()) == (result.rows_loaded, result.rows_quarantined), result
        assert result.rows_in_files == result.rows_manifest == (
            result.rows_loaded + result.rows_quarantined + result.rows_duplicate), result
        assert quarantine.where("reason_code IS NULL OR source_row IS NULL").count() == 0
    if cut is None and persons_encoding == "gbk":
        persons_result = next(r for r in report.results if r.dataset == "population/persons")
        assert persons_result.status == "loaded" or persons_result.reason_code == "undecodable", persons_result


# One field of one line made to break its rule, whatever else it holds: control characters, quotes,
# line breaks inside the quoted field, formula text, any script.
EDUCATION = next(c.values for c in dataset("population/persons").columns if c.name == "education")
ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
BREAKERS = {
    "gender": ANY_TEXT.filter(lambda v: v.strip().upper() not in ("M", "F", "")),
    "birth_date": ANY_TEXT.filter(lambda v: v.strip() not in ("1980-01-01", "")),
    "education": ANY_TEXT.filter(lambda v: v.strip() not in (*EDUCATION, "")),
    "id_number": ANY_TEXT.filter(lambda v: v.strip().upper() != MAN),
    "phone": ANY_TEXT.filter(lambda v: v.strip() != "" and not v.strip().isdigit()),
}
TXN_BREAKERS = {
    "direction": ANY_TEXT.filter(lambda v: v.strip() not in ("in", "out")),
    "amount": st.one_of(st.floats(max_value=4999.99, allow_nan=False), st.sampled_from(["", "abc", "1e999"])),
    "booked_at": ANY_TEXT.filter(lambda v: "T" not in v),
}


@given(n=st.integers(2, 10), bad=st.integers(0, 9), column=st.sampled_from(sorted(BREAKERS)), data=st.data(),
       txn_column=st.sampled_from(sorted(TXN_BREAKERS)), truncated=st.booleans())
def test_one_bad_line_quarantines_one_row_and_loads_the_rest(spark, tmp_path_factory, n, bad, column, data,
                                                            txn_column, truncated):
    from helpers.paths import CONF

    from pipelines.core.config import load_settings

    bad %= n
    rows = [person(updated=f"2025-06-{1 + i:02d} 08:00:00") for i in range(n)]
    rows[bad][PERSON_COLS.index(column)] = data.draw(BREAKERS[column], label="bad value")
    records = [{**TXN, "txn_id": f"t{i}"} for i in range(n)]
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    if truncated:
        lines[bad] = lines[bad][: len(lines[bad]) // 2]                          # invalid JSON
    else:
        lines[bad] = json.dumps({**records[bad], txn_column: data.draw(TXN_BREAKERS[txn_column], label="bad txn")},
                                ensure_ascii=False)
    root = tmp_path_factory.mktemp("one_bad_line")
    land = root / "landing"
    write_batch(land, "population/persons", "2025-07-01", {"part-0001.csv": _csv_bytes(rows, "utf-8")})
    write_batch(land, "finance/transactions", "2025-07-01", {"part-0001.jsonl": "".join(x + "\n" for x in lines)})

    settings_ = load_settings(CONF, landing=str(land), lake=str(root / "lake"))
    report = ingest(spark, settings_)

    for result in report.results:
        assert result.status == "loaded", result
        assert (result.rows_in_files, result.rows_loaded, result.rows_quarantined, result.rows_duplicate) == (
            n, n - 1, 1, 0), result
        table = settings_.table(catalog.lookup("bronze", result.dataset.replace("/", "_")))
        quarantined = spark.read.format("delta").load(f"{table}_quarantine").select("source_row", "reason_code")
        ((row, reason),) = quarantined.collect()
        assert row == bad + 1 and reason, (row, reason)
