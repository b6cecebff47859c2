"""What each silver table is: its key, the unit it is recomputed by, and what
personal data it must not carry. Derived from the contract, so a new column
in the contract flows through without code changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.core.contract import Dataset, load_contract

__all__ = ["SilverTable", "silver_tables", "silver_table", "key_column_name"]

# Personal data that never leaves bronze (contract section 5). Entity
# resolution reads these from bronze; silver keeps only derived flags.
PERSONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "population/persons": ("name", "phone"),
    "court/parties": ("name",),
    "ecommerce/orders": ("buyer_name", "buyer_phone", "buyer_id_masked"),
    "social/accounts": ("phone", "nickname", "real_name"),
}

# Recompute units: all rows sharing a unit are rebuilt together. A person's
# versions form one SCD2 chain; a case's parties and listings travel together.
UNITS: dict[str, tuple[str, ...]] = {
    "population/persons": ("person_key",),
    "court/parties": ("case_no",),
    "court/dishonest": ("case_no",),
}


def key_column_name(dataset: Dataset, column: str) -> str:
    """`owner_id` -> `owner_key`; `id_number` -> `person_key` (`party_key` for parties)."""
    if column == "id_number":
        return "party_key" if dataset.name == "court/parties" else "person_key"
    return column[: -len("_id")] + "_key" if column.endswith("_id") else f"{column}_key"


@dataclass(frozen=True)
class SilverTable:
    dataset: Dataset
    renames: dict[str, str]          # bronze ID column -> silver key column
    dropped: tuple[str, ...]         # personal columns not carried

    @property
    def name(self) -> str:
        return self.dataset.table_name

    @property
    def key(self) -> tuple[str, ...]:
        return tuple(self.renames.get(c, c) for c in self.dataset.key)

    @property
    def unit(self) -> tuple[str, ...]:
        return UNITS.get(self.dataset.name, self.key)

    @property
    def is_scd2(self) -> bool:
        return self.dataset.name == "population/persons"


def _table(dataset: Dataset) -> SilverTable:
    renames = {c.name: key_column_name(dataset, c.name) for c in dataset.columns
               if c.type in ("id", "uscc_or_id")}
    return SilverTable(dataset, renames, PERSONAL_COLUMNS.get(dataset.name, ()))


def silver_tables() -> dict[str, SilverTable]:
    return {name: _table(ds) for name, ds in load_contract().items()}


def silver_table(name: str) -> SilverTable:
    return silver_tables()[name]
