"""Row rules of the contract as Spark column expressions (no Python UDFs).

Identity numbers follow GB 11643-1999 (contract section 3): 17 digits and a
check character; digits 7-14 are a real birth date; the 17th digit is odd for
men; the check character is sum(digit_i * weight_i) mod 11 mapped through
`1 0 X 9 8 7 6 5 4 3 2`.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column
from pyspark.sql import functions as F

__all__ = ["normalise_id", "id_is_valid", "uscc_is_valid", "id_birth_date", "id_is_male", "DATASET_RULES"]

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
_EARLIEST_BIRTH = "1900-01-01"


def normalise_id(value: Column) -> Column:
    """Trim and upper-case: a lower-case `x` check character is accepted as `X`."""
    return F.upper(F.trim(value))


def id_birth_date(id_number: Column) -> Column:
    """Digits 7-14 as a date; null when they are not a real date (a cast: much cheaper than a parse)."""
    digits = F.substring(id_number, 7, 8)
    as_iso = F.concat_ws("-", F.substring(digits, 1, 4), F.substring(digits, 5, 2), F.substring(digits, 7, 2))
    return F.when(digits.rlike(r"^\d{8}$"), as_iso.try_cast("date"))


def id_is_male(id_number: Column) -> Column:
    return F.substring(id_number, 17, 1).try_cast("int") % 2 == 1


def _check_char(id_number: Column) -> Column:
    checksum = sum(F.substring(id_number, i + 1, 1).try_cast("int") * w for i, w in enumerate(ID_WEIGHTS))
    return F.element_at(F.array(*[F.lit(c) for c in ID_CHECK_CHARS]), (checksum % 11 + 1).cast("int"))


def id_is_valid(id_number: Column, as_of: Column) -> Column:
    """True for a well-formed, checksummed ID with a plausible birth date on or before `as_of`.

    `id_number` must already be normalised. Null in, null out.
    """
    birth = id_birth_date(id_number)
    shape_ok = id_number.rlike(r"^\d{17}[0-9X]$")
    return F.when(id_number.isNull(), F.lit(None)).otherwise(
        shape_ok
        & F.coalesce(birth.between(F.lit(_EARLIEST_BIRTH).cast("date"), as_of), F.lit(False))
        & F.coalesce(F.substring(id_number, 18, 1) == _check_char(id_number), F.lit(False))
    )


def uscc_is_valid(code: Column) -> Column:
    """An 18-character unified social credit code (digits and capitals)."""
    return code.rlike(r"^[0-9A-Z]{18}$")


# Named cross-column rules: each returns True when the row BREAKS the rule.
# They only fire when their inputs parsed; a missing or unparseable input is
# already reported by the column checks.

def _gender_matches_id(typed: dict[str, Column]) -> Column:
    id_number, gender = typed["id_number"], typed["gender"]
    return F.coalesce(id_is_male(id_number) != (gender == "M"), F.lit(False))


def _birth_date_matches_id(typed: dict[str, Column]) -> Column:
    return F.coalesce(id_birth_date(typed["id_number"]) != typed["birth_date"], F.lit(False))


def _as_of_is_month_end(typed: dict[str, Column]) -> Column:
    return F.coalesce(F.last_day(typed["as_of"]) != typed["as_of"], F.lit(False))


def _respondent_is_person(typed: dict[str, Column]) -> Column:
    return F.coalesce((typed["role"] == "respondent") & (typed["party_kind"] != "person"), F.lit(False))


DATASET_RULES: dict[str, Callable[[dict[str, Column]], Column]] = {
    "gender_matches_id": _gender_matches_id,
    "birth_date_matches_id": _birth_date_matches_id,
    "as_of_is_month_end": _as_of_is_month_end,
    "respondent_is_person": _respondent_is_person,
}
