"""Point-in-time building blocks (contract section 4).

Every feature is computed for a *spine* of `(person_key, as_of)` rows, where
`as_of` is the filing date of a case. A record is usable for a spine row only
if its event time is strictly before `as_of`: the latest delivery may hold a
record, but its event time decides whether the case could have known it.

Event times that are timestamps are turned into Beijing dates first (the
session time zone), so "strictly before the filing day" is one comparison for
every source.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

__all__ = ["AS_OF", "KEY", "before", "within", "held_at", "as_of_join", "money", "ratio"]

AS_OF = "as_of"
KEY = ["person_key", AS_OF]


def before(event: str | Column) -> Column:
    """The event happened strictly before the filing date."""
    event = F.col(event) if isinstance(event, str) else event
    return event < F.col(AS_OF)


def within(event: str | Column, *, months: int | None = None, days: int | None = None) -> Column:
    """The event lies in the `months` (or `days`) before the filing date, filing day excluded."""
    event = F.col(event) if isinstance(event, str) else event
    start = F.add_months(F.col(AS_OF), -months) if months is not None else F.date_sub(F.col(AS_OF), days)
    return (event >= start) & before(event)


def held_at(start: str, end: str) -> Column:
    """Held at filing: began before the filing date and had not ended before it.

    An asset disposed of on the filing day was still owned before it; an
    account closed on the filing day was still open.
    """
    return before(start) & (F.col(end).isNull() | (F.col(end) >= F.col(AS_OF)))


def as_of_join(spine: DataFrame, events: DataFrame, event: str, on: str = "person_key") -> DataFrame:
    """Each spine row with its person's events strictly before its `as_of`.

    An equi-join on the person followed by a range filter: the cost grows with
    one person's history, not with the table, so it stays cheap as history grows.
    """
    if on != "person_key":
        spine = spine.withColumnRenamed("person_key", on)
    joined = spine.join(events, on).where(before(event))
    return joined.withColumnRenamed(on, "person_key") if on != "person_key" else joined


def money(column: str) -> Column:
    """Money as a double (CNY); silver keeps the exact decimal."""
    return F.col(column).cast("double")


def ratio(numerator: Column, denominator: Column, floor: float = 1.0) -> Column:
    """numerator / max(denominator, floor): defined when the denominator is zero."""
    return numerator / F.greatest(F.coalesce(denominator, F.lit(0.0)), F.lit(floor))
