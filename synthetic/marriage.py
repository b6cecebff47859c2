"""Marriages and divorces between persons of the population.

Couples come from households (head and spouse). Most marriages predate the
2018 history start and are delivered in the back-fill like any old
registration. Divorces are rare, except right before a case is filed: the
"paper divorce" (假离婚) that moves the family's assets to the spouse who owes
nothing. `court.py` asks for those through `divorce_before`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import clock
from .arrays import cumcount
from .clock import Calendar
from .persons import Versions
from .population import HEAD, SPOUSE, Population

NEVER = np.iinfo(np.int64).max // 4


@dataclass
class Couples:
    """One row per marriage; `divorced_on` is NEVER while it lasts."""

    husband: np.ndarray
    wife: np.ndarray
    married_on: np.ndarray
    divorced_on: np.ndarray

    def spouse_at(self, who: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Each person's spouse on that day, or -1."""
        row = self.row_at(who, days)
        if self.husband.size == 0:
            return row
        safe = np.maximum(row, 0)
        return np.where(row < 0, -1, np.where(self.husband[safe] == who, self.wife[safe], self.husband[safe]))

    def row_at(self, who: np.ndarray, days: np.ndarray) -> np.ndarray:
        """The marriage each person is in on that day (married before it, not divorced by it), or -1."""
        person = np.concatenate([self.husband, self.wife])
        row = np.concatenate([np.arange(self.husband.size)] * 2)
        start = np.concatenate([self.married_on, self.married_on])
        end = np.concatenate([self.divorced_on, self.divorced_on])
        order = np.lexsort((start, person))
        keys = (person[order] << 32) | (start[order] - clock.day("1900-01-01"))
        query = (np.asarray(who, np.int64) << 32) | (np.asarray(days, np.int64) - clock.day("1900-01-01"))
        pos = np.clip(np.searchsorted(keys, query, side="right") - 1, 0, max(keys.size - 1, 0))
        if keys.size == 0:
            return np.full(len(who), -1)
        hit = (person[order][pos] == who) & (start[order][pos] < days) & (end[order][pos] > days)
        return np.where(hit, row[order][pos], -1)


def draw_couples(rng: np.random.Generator, pop: Population, cal: Calendar) -> Couples:
    spouse = pop.spouse_of_head()
    husband = np.flatnonzero((pop.role == HEAD) & (spouse >= 0))
    wife = spouse[husband]
    earliest = np.maximum(clock.birthday_after(pop.birth[husband], 22), clock.birthday_after(pop.birth[wife], 20))
    married_on = earliest + rng.integers(0, 6 * 365, husband.size)
    keep = married_on <= cal.last_dt
    husband, wife, married_on = husband[keep], wife[keep], married_on[keep]
    # About 1 % of marriages a year end in an ordinary divorce after the history start.
    start = np.maximum(married_on, cal.history_start)
    divorced_on = start + (rng.exponential(100.0, husband.size) * 365).astype(np.int64)
    divorced_on = np.where(divorced_on <= cal.last_dt, divorced_on, NEVER)
    return Couples(husband, wife, married_on, divorced_on)


def divorce_before(couples: Couples, who: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Register divorces of `who` on `days` (their marriage must be older).

    Returns the ex-spouse and the couple row of each request, -1 where there was
    no marriage to end."""
    person = np.concatenate([couples.husband, couples.wife])
    row = np.concatenate([np.arange(couples.husband.size)] * 2)
    order = np.argsort(person, kind="stable")
    pos = np.clip(np.searchsorted(person[order], who), 0, max(person.size - 1, 0))
    if person.size == 0:
        return np.full(len(who), -1), np.full(len(who), -1)
    found = person[order][pos] == who
    r = row[order][pos]
    ok = found & (couples.married_on[r] < days - 30) & (couples.divorced_on[r] > days)
    r_ok, d_ok = r[ok], days[ok]
    # One couple, several cases: the earliest paper divorce is the one that happens.
    np.minimum.at(couples.divorced_on, r_ok, d_ok)
    ex = np.where(couples.husband[r] == who, couples.wife[r], couples.husband[r])
    return np.where(ok, ex, -1), np.where(ok, r, -1)


def add_remarriages(rng: np.random.Generator, couples: Couples, pop: Population, cal: Calendar,
                    reunite: np.ndarray, reunite_on: np.ndarray) -> Couples:
    """Paper-divorced couples who marry again (`reunite` rows), and ordinary divorcees
    who marry someone new."""
    married = np.zeros(pop.n, bool)
    married[couples.husband] = married[couples.wife] = True
    divorced = couples.divorced_on < NEVER
    again = reunite & divorced & (reunite_on > couples.divorced_on) & (reunite_on <= cal.last_dt)
    fresh = divorced & ~reunite & (rng.random(couples.husband.size) < 0.4)
    single_women = rng.permutation(np.flatnonzero(~married & ~pop.male & (pop.role != SPOUSE)))
    k = min(int(fresh.sum()), single_women.size)
    men = np.flatnonzero(fresh)[:k]
    women = single_women[:k]
    new_on = np.maximum(couples.divorced_on[men] + rng.integers(180, 1000, k), clock.birthday_after(pop.birth[women], 22))
    ok = new_on <= cal.last_dt
    return Couples(
        husband=np.concatenate([couples.husband, couples.husband[again], couples.husband[men][ok]]),
        wife=np.concatenate([couples.wife, couples.wife[again], women[ok]]),
        married_on=np.concatenate([couples.married_on, reunite_on[again], new_on[ok]]),
        divorced_on=np.concatenate([couples.divorced_on, np.full(int(again.sum()) + int(ok.sum()), NEVER)]),
    )


def registrations_table(rng: np.random.Generator, couples: Couples, pop: Population, ver: Versions,
                        cal: Calendar) -> pa.Table:
    """marriage/registrations: one row per marriage and per divorce, delivered within two days."""
    divorced = couples.divorced_on < NEVER
    a = np.concatenate([couples.husband, couples.husband[divorced]])
    b = np.concatenate([couples.wife, couples.wife[divorced]])
    on = np.concatenate([couples.married_on, couples.divorced_on[divorced]])
    is_divorce = np.r_[np.zeros(couples.husband.size, bool), np.ones(int(divorced.sum()), bool)]
    order = np.lexsort((a, on))
    a, b, on, is_divorce = a[order], b[order], on[order], is_divorce[order]
    office = ver.hukou[ver.at(a, on * clock.DAY_SECONDS + 43_200)]
    year = clock.year_of(on)
    group = (is_divorce.astype(np.int64) * 10**10 + office * 10**4 + year)
    seq = cumcount(group) + 1
    reg_id = pc.binary_join_element_wise(
        pa.array(np.where(is_divorce, "L", "J")), pa.array(office).cast(pa.string()), "-",
        pa.array(year).cast(pa.string()), "-", pc.utf8_lpad(pa.array(seq).cast(pa.string()), 6, "0"), "")
    return pa.table({
        "registration_id": reg_id,
        "kind": pa.array(np.where(is_divorce, "divorce", "marriage")),
        "spouse_a_id": pc.take(pop.id_number, pa.array(a)),
        "spouse_b_id": pc.take(pop.id_number, pa.array(b)),
        "registered_on": pa.array(on.astype(np.int32)).cast(pa.date32()),
        "office_region": pa.array(office).cast(pa.string()),
        "_deliver": pa.array(clock.delivery_days(on, rng, 0.2, 2).astype(np.int32)),
    })

