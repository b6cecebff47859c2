"""Type the string records and find every contract rule each one breaks.

`validate_records` is a pure transform: raw string records in, typed records
with a `_reasons` array out. A row with an empty `_reasons` is loadable. Each
reason reads `code:detail`, e.g. `invalid_id:owner_id`, and codes come in a
fixed order of precedence, so the first one is the row's reason code.

Reason codes (contract section 6):
    malformed_row       wrong width, or a JSONL line that is not a JSON object
    required_missing    a required field is empty
    unparseable_value   a date, timestamp, money or integer value does not parse
    invalid_format      a value breaks its pattern (region, phone, masked ID)
    unknown_enum        an enum value outside the contract's list
    invalid_id          an ID number (or a company's credit code) is invalid
    rule_violation      a section-2 rule is broken (bounds, ordering, cross-column)
    event_time_future   an event time more than the tolerance after the batch dt
    key_conflict        (assigned later) two rows, one key, different content
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipelines.bronze.rules import DATASET_RULES, id_is_valid, normalise_id, uscc_is_valid
from pipelines.core.contract import MONEY, Dataset

__all__ = ["validate_records", "row_hash", "REASON_CODES"]

REASON_CODES = (
    "malformed_row", "required_missing", "unparseable_value", "invalid_format", "unknown_enum",
    "invalid_id", "rule_violation", "event_time_future", "key_conflict",
)

_CSV_TIMESTAMP = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"                                    # yyyy-MM-dd HH:mm:ss
_ISO_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?([+-]\d{2}:\d{2}|Z)$"    # ISO 8601 with offset


def _parse(kind: str, value: Column, file_format: str) -> tuple[str, Column] | None:
    """(shape regex, parsed value) for typed columns; None for strings."""
    # The shape regex fixes the layout, so a plain cast (several times faster than a
    # pattern-based parse) only has to reject impossible values such as 2025-02-30.
    if kind == "date":
        return r"^\d{4}-\d{2}-\d{2}$", value.try_cast(T.DateType())
    if kind == "timestamp":
        regex = _CSV_TIMESTAMP if file_format == "csv" else _ISO_TIMESTAMP
        return regex, value.try_cast(T.TimestampType())
    if kind == "money":
        return r"^-?\d{1,16}(\.\d{1,2})?$", value.try_cast(MONEY)
    if kind == "integer":
        return r"^-?\d{1,9}$", value.try_cast(T.IntegerType())
    return None


def _normalised(dataset: Dataset) -> dict[str, Column]:
    values = {}
    for col in dataset.columns:
        raw = F.col(col.name)
        values[col.name] = normalise_id(raw) if col.type in ("id", "uscc_or_id") or col.upper else raw
    return values


def _typed(dataset: Dataset, values: dict[str, Column]) -> dict[str, Column]:
    typed = {}
    for col in dataset.columns:
        parsed = _parse(col.type, values[col.name], dataset.format)
        typed[col.name] = parsed[1] if parsed else values[col.name]
    return typed


def _flag(condition: Column, reason: str) -> Column:
    return F.when(condition, F.lit(reason))


def _column_checks(dataset: Dataset, values: dict[str, Column], typed: dict[str, Column],
                   batch_dt: Column) -> dict[str, list[Column]]:
    """Per reason code, the flags of every column, so precedence is by code."""
    checks: dict[str, list[Column]] = {code: [] for code in REASON_CODES}
    for col in dataset.columns:
        value, parsed, name = values[col.name], typed[col.name], col.name
        present = value.isNotNull()
        if col.is_required:
            checks["required_missing"].append(_flag(value.isNull(), f"required_missing:{name}"))
        shape = _parse(col.type, value, dataset.format)
        if shape:
            checks["unparseable_value"].append(
                _flag(present & (~value.rlike(shape[0]) | parsed.isNull()), f"unparseable_value:{name}"))
        if col.pattern:
            checks["invalid_format"].append(
                _flag(present & ~value.rlike(f"^(?:{col.pattern})$"), f"invalid_format:{name}"))
        if col.values:
            checks["unknown_enum"].append(_flag(present & ~value.isin(*col.values), f"unknown_enum:{name}"))
        if col.type == "id":
            checks["invalid_id"].append(_flag(present & ~id_is_valid(value, batch_dt), f"invalid_id:{name}"))
        if col.type == "uscc_or_id":
            is_company = values.get("party_kind", F.lit(None)) == "company"
            ok = F.when(is_company, uscc_is_valid(value)).otherwise(id_is_valid(value, batch_dt))
            checks["invalid_id"].append(_flag(present & ~F.coalesce(ok, F.lit(False)), f"invalid_id:{name}"))
        rules = checks["rule_violation"]
        if col.min is not None:
            rules.append(_flag(parsed < F.lit(col.min), f"rule_violation:{name}>={col.min:g}"))
        if col.gt is not None:
            rules.append(_flag(parsed <= F.lit(col.gt), f"rule_violation:{name}>{col.gt:g}"))
        if col.min_len is not None:
            rules.append(_flag(F.char_length(value) < col.min_len, f"rule_violation:{name} length>={col.min_len}"))
        if col.max_len is not None:
            rules.append(_flag(F.char_length(value) > col.max_len, f"rule_violation:{name} length<={col.max_len}"))
        if col.gte:
            rules.append(_flag(parsed < typed[col.gte], f"rule_violation:{name}>={col.gte}"))
        if col.differs:
            rules.append(_flag(value == values[col.differs], f"rule_violation:{name}!={col.differs}"))
    return checks


def _event_time_checks(dataset: Dataset, typed: dict[str, Column], batch_dt: Column,
                       tolerance_days: int) -> list[Column]:
    latest_allowed = F.date_add(batch_dt, tolerance_days)
    return [_flag(F.to_date(typed[name]) > latest_allowed, f"event_time_future:{name}")
            for name in dataset.event_time]


def row_hash(dataset: Dataset) -> Column:
    """Content identity of a record, independent of file, row and column order: a signed 64-bit number.

    A 64-bit xxhash of the fields in contract order, then the extra columns sorted
    by name, each with a null flag. Bronze compares hashes only between rows of
    one batch that share a key, where a chance collision is out of reach (about
    1 in 2^64 per pair); SHA-256 as 64 hex characters was a quarter of bronze's bytes
    and an eighth of ingest's time.
    """
    def field(value: Column) -> list[Column]:
        # Spark's hashes skip nulls, so (null, "a") and ("a", null) would collide: hash a flag too.
        return [F.coalesce(value, F.lit("")), value.isNull()]

    extra = F.transform(F.sort_array(F.map_entries(F.col("_extra"))),
                        lambda e: F.struct(e["key"], *field(e["value"])))
    content = F.xxhash64(*[part for c in dataset.column_names for part in field(F.col(c))],
                         F.coalesce(F.xxhash64(extra), F.lit(0).cast("long")))
    return F.when(F.col("_malformed"), F.xxhash64(F.col("_raw_text"))).otherwise(content)


def validate_records(raw: DataFrame, dataset: Dataset, tolerance_days: int = 1) -> DataFrame:
    """Typed contract columns, `_reasons` (empty when valid) and `row_hash`.

    Keeps the lineage columns (those starting with `_`, see `pipelines.bronze.read`),
    the record as delivered (`_raw_text`) and, for a row that breaks a rule, its
    raw strings (`_raw_fields`), so a quarantined row can be shown exactly as it arrived.
    """
    batch_dt = F.col("batch_dt")
    values = _normalised(dataset)
    typed = _typed(dataset, values)
    checks = _column_checks(dataset, values, typed, batch_dt)
    checks["rule_violation"] += [_flag(DATASET_RULES[rule](typed), f"rule_violation:{rule}")
                                 for rule in dataset.rules]
    checks["event_time_future"] += _event_time_checks(dataset, typed, batch_dt, tolerance_days)
    flags = [flag for code in REASON_CODES for flag in checks[code]]
    no_reasons = F.array().cast("array<string>")
    # Most rows break nothing: one pass over the checks decides that, and only the
    # rest pay for building the array of reasons.
    reasons = (F.when(F.coalesce(*flags).isNull(), no_reasons)
               .otherwise(F.filter(F.array(*flags), lambda r: r.isNotNull())) if flags else no_reasons)
    reasons = F.when(F.col("_malformed"), F.array(F.lit("malformed_row"))).otherwise(reasons)
    raw_fields = F.map_concat(
        F.create_map(*[part for c in dataset.column_names for part in (F.lit(c), F.col(c))]),
        F.coalesce(F.col("_extra"), F.create_map().cast(T.MapType(T.StringType(), T.StringType()))),
    )
    lineage = [c for c in raw.columns if c.startswith("_") and c not in ("_raw_text", "_extra", "_malformed")]
    return raw.select(
        "batch_dt", *lineage, "_raw_text", "_extra",
        row_hash(dataset).alias("row_hash"),
        F.when(F.size(reasons) > 0, raw_fields).alias("_raw_fields"),
        reasons.alias("_reasons"),
        *[typed[c.name].cast(c.spark_type).alias(c.name) for c in dataset.columns],
    )
