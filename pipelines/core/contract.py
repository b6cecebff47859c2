"""The source data contract as typed, validated objects.

Loaded from `conf/contract.yaml`, the project's own copy of the contract's
schemas. Every other module asks this one what a dataset looks like; nothing
hard-codes column lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pyspark.sql import types as T

__all__ = ["Column", "Dataset", "CONTRACT_FILE", "load_contract", "dataset"]

CONTRACT_FILE = Path(__file__).resolve().parents[2] / "conf" / "contract.yaml"

ColumnType = Literal["id", "uscc_or_id", "string", "enum", "date", "timestamp", "money", "integer"]
_TYPES = set(ColumnType.__args__)  # type: ignore[attr-defined]
_KNOWN_RULES = {"gender_matches_id", "birth_date_matches_id", "as_of_is_month_end", "respondent_is_person"}
_COLUMN_KEYS = {"type", "required", "pattern", "values", "min", "gt", "gte", "differs",
                "min_len", "max_len", "upper"}

MONEY = T.DecimalType(18, 2)
_SPARK_TYPES: dict[str, T.DataType] = {
    "id": T.StringType(), "uscc_or_id": T.StringType(), "string": T.StringType(),
    "enum": T.StringType(), "date": T.DateType(), "timestamp": T.TimestampType(),
    "money": MONEY, "integer": T.IntegerType(),
}


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool = False
    pattern: str | None = None
    values: tuple[str, ...] = ()
    min: float | None = None
    gt: float | None = None
    gte: str | None = None
    differs: str | None = None
    min_len: int | None = None
    max_len: int | None = None
    upper: bool = False

    @property
    def spark_type(self) -> T.DataType:
        return _SPARK_TYPES[self.type]

    @property
    def is_required(self) -> bool:
        # Enums carry their own "unknown"/"other" member, so empty is a defect.
        return self.required or self.type == "enum"


@dataclass(frozen=True)
class Dataset:
    name: str                       # "finance/transactions"
    format: Literal["csv", "jsonl"]
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    event_time: tuple[str, ...]
    encoding: str = "utf-8"
    latest_wins: bool = False
    rules: tuple[str, ...] = field(default=())

    @property
    def domain(self) -> str:
        return self.name.split("/")[0]

    @property
    def table_name(self) -> str:
        """Lake table name: `finance/transactions` -> `finance_transactions`."""
        return self.name.replace("/", "_")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.is_required)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")

    def spark_schema(self) -> T.StructType:
        """The typed contract columns, in contract order."""
        return T.StructType([T.StructField(c.name, c.spark_type, True) for c in self.columns])


def _parse_dataset(name: str, spec: dict) -> Dataset:
    columns = []
    for col_name, col_spec in spec["columns"].items():
        unknown = set(col_spec) - _COLUMN_KEYS
        if unknown:
            raise ValueError(f"contract {name}.{col_name}: unknown attribute(s) {sorted(unknown)}")
        if col_spec["type"] not in _TYPES:
            raise ValueError(f"contract {name}.{col_name}: unknown type {col_spec['type']!r}")
        columns.append(Column(name=col_name, **{**col_spec, "values": tuple(col_spec.get("values", ()))}))
    names = {c.name for c in columns}
    for ref in [*spec["key"], *spec.get("event_time", []),
                *(c.gte for c in columns if c.gte), *(c.differs for c in columns if c.differs)]:
        if ref not in names:
            raise ValueError(f"contract {name}: refers to unknown column {ref!r}")
    rules = tuple(spec.get("rules", ()))
    if set(rules) - _KNOWN_RULES:
        raise ValueError(f"contract {name}: unknown rule(s) {sorted(set(rules) - _KNOWN_RULES)}")
    return Dataset(
        name=name, format=spec["format"], columns=tuple(columns), key=tuple(spec["key"]),
        event_time=tuple(spec.get("event_time", ())), encoding=spec.get("encoding", "utf-8"),
        latest_wins=bool(spec.get("latest_wins", False)), rules=rules,
    )


@lru_cache(maxsize=4)
def load_contract(path: Path = CONTRACT_FILE) -> dict[str, Dataset]:
    """All datasets of the contract, keyed by `domain/dataset`."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return {name: _parse_dataset(name, spec) for name, spec in raw["datasets"].items()}


def dataset(name: str) -> Dataset:
    """One dataset of the contract, e.g. `dataset("court/cases")`."""
    return load_contract()[name]
