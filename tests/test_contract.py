"""The project's copy of the contract matches the specification it was written from."""

import re
from pathlib import Path

import pytest

from pipelines.core.contract import load_contract

SPEC = Path(__file__).resolve().parents[2] / "shared" / "contract" / "CONTRACT.md"


def _spec_columns() -> dict[str, list[str]]:
    """Dataset -> column names, parsed from the tables of CONTRACT.md section 2."""
    text = SPEC.read_text(encoding="utf-8")
    section = text.split("## 2. Datasets", 1)[1].split("## 3.", 1)[0]
    columns: dict[str, list[str]] = {}
    for block in re.split(r"^### ", section, flags=re.M)[1:]:
        name = block.split("\n", 1)[0].strip()
        names = []
        for line in block.splitlines():
            match = re.match(r"^\| ([a-z_, ]+) \| ", line)
            if match and match.group(1) != "column":
                names += [n.strip() for n in match.group(1).split(",")]
        columns[name] = names
    return columns


def test_fourteen_datasets():
    contract = load_contract()
    assert len(contract) == 14
    assert {d.format for d in contract.values()} == {"csv", "jsonl"}
    assert contract["population/persons"].encoding == "gbk"


@pytest.mark.skipif(not SPEC.exists(), reason="the contract specification is not beside this checkout")
def test_columns_match_the_specification():
    spec = _spec_columns()
    ours = {name: list(d.column_names) for name, d in load_contract().items()}
    assert ours == spec


def test_table_names_follow_the_interface():
    assert load_contract()["finance/transactions"].table_name == "finance_transactions"
