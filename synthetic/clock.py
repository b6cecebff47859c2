"""Dates and times as plain integers, so every generator stays vectorised.

A *day* is the number of days since 1970-01-01 and a *second* the number of
seconds since 1970-01-01 00:00:00, both read as Beijing wall-clock time. The
contract has no time zones in CSV and a fixed `+08:00` in JSONL, so a naive
local clock is exactly what the files need.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAY_SECONDS = 86_400
HORIZON_DAYS = 180  # contract section 4: H = 180 days


def day(iso: str) -> int:
    """`'2026-10-31'` -> days since the epoch."""
    return int(np.datetime64(iso, "D").astype(np.int64))


def iso(day_number: int) -> str:
    return str(np.datetime64(int(day_number), "D"))


def years_to_days(years: np.ndarray | float) -> np.ndarray:
    return np.asarray(np.round(np.asarray(years) * 365.25), dtype=np.int64)


def month_index(days: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of each day."""
    return np.asarray(days, dtype="datetime64[D]").astype("datetime64[M]").astype(np.int64)


def month_end(months: np.ndarray) -> np.ndarray:
    """Last day of each month given as months since 1970-01."""
    first_of_next = (np.asarray(months, dtype=np.int64) + 1).astype("datetime64[M]").astype("datetime64[D]")
    return first_of_next.astype(np.int64) - 1


def birthday_after(birth_days: np.ndarray, years: np.ndarray | int) -> np.ndarray:
    """The day a person born on `birth_days` turns `years` (Feb 29 rolls to Mar 1)."""
    b = np.asarray(birth_days, dtype="datetime64[D]")
    y = b.astype("datetime64[Y]")
    offset_in_year = b - y.astype("datetime64[D]")
    target_year = y + np.asarray(years, dtype=np.int64)
    return (target_year.astype("datetime64[D]") + offset_in_year).astype(np.int64)


def yyyymmdd(days: np.ndarray) -> np.ndarray:
    d = np.asarray(days, dtype="datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dd = (d - d.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    return y * 10_000 + m * 100 + dd


def year_of(days: np.ndarray) -> np.ndarray:
    return np.asarray(days, dtype="datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def weekday(days: np.ndarray) -> np.ndarray:
    """0 = Monday ... 6 = Sunday (1970-01-01 was a Thursday)."""
    return (np.asarray(days, dtype=np.int64) + 3) % 7


@dataclass(frozen=True)
class Calendar:
    """The batch dates and the history windows every generator shares.

    `finance_start` and `orders_start` bound the bulky periodic datasets
    (balances, loan snapshots, transactions, orders): a real network asset
    inquiry and a platform export reach back a few years, not to 2018, and
    this keeps the committed sample small.
    """

    history_start: int
    backfill_dt: int
    daily_dts: tuple[int, ...]
    finance_start: int
    orders_start: int

    @property
    def batch_dts(self) -> tuple[int, ...]:
        return (self.backfill_dt, *self.daily_dts)

    @property
    def last_dt(self) -> int:
        """The data as-of date T: nothing after it has happened yet."""
        return self.batch_dts[-1]

    @staticmethod
    def build(backfill_dt: str, daily_batches: int, finance_months: int, orders_months: int,
              history_start: str = "2018-01-01") -> "Calendar":
        backfill = day(backfill_dt)
        back_month = month_index(np.array([backfill]))[0]
        first_of = lambda months_back: int(np.datetime64(int(back_month - months_back + 1), "M")
                                           .astype("datetime64[D]").astype(np.int64))
        return Calendar(
            history_start=day(history_start),
            backfill_dt=backfill,
            daily_dts=tuple(backfill + 1 + i for i in range(daily_batches)),
            finance_start=first_of(finance_months),
            orders_start=first_of(orders_months),
        )


def delivery_days(event_days: np.ndarray, rng: np.random.Generator, late_share: float = 0.15,
                  max_lag: int = 1) -> np.ndarray:
    """When each record reaches the landing zone: mostly the event day, some a little later."""
    event_days = np.asarray(event_days, dtype=np.int64)
    lag = np.where(rng.random(event_days.size) < late_share, rng.integers(1, max_lag + 1, event_days.size), 0)
    return event_days + lag


def random_seconds(days: np.ndarray, rng: np.random.Generator, start_hour: float = 8.0,
                   end_hour: float = 22.0) -> np.ndarray:
    """A time of day inside working-ish hours for each day, as epoch seconds."""
    days = np.asarray(days, dtype=np.int64)
    seconds = rng.integers(int(start_hour * 3600), int(end_hour * 3600), days.size)
    return days * DAY_SECONDS + seconds


def uniform_days(rng: np.random.Generator, start: np.ndarray, end: int | np.ndarray) -> np.ndarray:
    """A uniformly drawn day in [start, end], both ends included (start > end gives start)."""
    start = np.asarray(start, dtype=np.int64)
    span = np.maximum(np.asarray(end, dtype=np.int64) - start + 1, 1)
    return start + (rng.random(start.size) * span).astype(np.int64)
