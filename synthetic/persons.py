"""Versions of each person in the population registry: moves, new phones, new
jobs, the odd name change, and recycled phone numbers.

Recycled numbers matter for entity resolution: a number leaves one person
(a new version of that person shows another phone) and months later belongs
to someone else, so an old order or social account carrying it must not be
linked to the new holder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import clock, ids, names
from .arrays import ffill_index, flat
from .clock import DAY_SECONDS, Calendar
from .population import COURT_REGIONS, ELSEWHERE, HEAD, OTHER_XUZHOU, Population

EDUCATION = np.array(["primary", "junior_high", "senior_high", "vocational", "bachelor", "master", "doctorate",
                      "unknown"])
OCCUPATION = np.array(["farmer", "worker", "civil_servant", "professional", "self_employed", "unemployed", "retired",
                       "student", "other"])
MOVE, PHONE, JOB, NAME, OTHER = 0, 1, 2, 3, 4


@dataclass
class Versions:
    """Registry versions sorted by (person, updated_at); attributes are full snapshots."""

    person: np.ndarray
    updated_at: np.ndarray     # epoch seconds
    name: pa.Array
    hukou: np.ndarray
    education: np.ndarray      # index into EDUCATION
    occupation: np.ndarray     # index into OCCUPATION
    phone: np.ndarray          # 0 = none
    first: np.ndarray          # per person: index of the first version
    recycled_from: np.ndarray  # per person who received a recycled number: the previous holder, else -1

    def at(self, who: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """Index of the version of `who` in force at `seconds` (the first one if earlier)."""
        keys = (self.person.astype(np.int64) << 32) | self.updated_at
        query = (np.asarray(who, dtype=np.int64) << 32) | np.asarray(seconds, dtype=np.int64)
        pos = np.searchsorted(keys, query, side="right") - 1
        pos = np.clip(pos, 0, keys.size - 1)
        return np.where(self.person[pos] == who, pos, self.first[who])


def draw_versions(rng: np.random.Generator, pop: Population, cal: Calendar) -> Versions:
    n = pop.n
    end_s = (cal.last_dt + 1) * DAY_SECONDS - 1
    sixteen = clock.birthday_after(pop.birth, 16)
    v0_day = np.where(sixteen < cal.history_start, cal.history_start + rng.integers(0, 90, n),
                      sixteen + rng.integers(0, 120, n))
    v0 = v0_day * DAY_SECONDS + rng.integers(8 * 3600, 18 * 3600, n)

    extra = rng.poisson(1.2, n)
    person = np.repeat(np.arange(n), extra)
    # Registry clerks work office hours: a version is stamped 08:30-17:30 on its day.
    span_days = np.maximum(cal.last_dt - v0[person] // DAY_SECONDS, 1)
    t_day = v0[person] // DAY_SECONDS + 1 + (rng.random(person.size) * span_days).astype(np.int64)
    t = np.maximum(t_day * DAY_SECONDS + rng.integers(8 * 3600 + 1800, 17 * 3600 + 1800, person.size), v0[person] + 1)
    kind = rng.choice(5, person.size, p=[0.30, 0.33, 0.30, 0.01, 0.06])

    # Recycled numbers: A gives a number up at t1, B receives it 3-18 months later.
    _, inverse, counts = np.unique(pop.phone, return_inverse=True, return_counts=True)
    holders = np.flatnonzero((pop.phone > 0) & (counts[inverse] == 1))  # not shared with a relative
    holders = rng.permutation(holders)[: int(n * 0.03)]
    a, b = holders[: holders.size // 2], holders[holders.size // 2: 2 * (holders.size // 2)]
    t1 = v0[a] + (rng.random(a.size) * (end_s - 200 * DAY_SECONDS - v0[a])).astype(np.int64)
    t2 = t1 + rng.integers(90, 540, a.size) * DAY_SECONDS + rng.integers(-3600, 3600, a.size)
    ok = (t1 > v0[a]) & (t2 < end_s) & (t2 > v0[b])
    a, b, t1, t2 = a[ok], b[ok], t1[ok], t2[ok]
    # A must not have changed phone before t1, or the number it gives up is not its first one.
    release_at = np.full(n, np.iinfo(np.int64).max)
    release_at[a] = t1
    kind = np.where((kind == PHONE) & (t < release_at[person]) & (release_at[person] < np.iinfo(np.int64).max),
                    OTHER, kind)

    person = np.concatenate([np.arange(n), person, a, b])
    t = np.concatenate([v0, t, t1, t2])
    kind = np.concatenate([np.full(n, -1), kind, np.full(a.size, PHONE), np.full(b.size, PHONE)])
    received = np.concatenate([np.zeros(n + extra.sum() + a.size, np.int64), pop.phone[a]])
    order = np.lexsort((t, person))
    person, t, kind, received = person[order], t[order], kind[order], received[order]
    t = _strictly_increasing(person, t)
    is_first = np.r_[True, person[1:] != person[:-1]]

    age = (t // DAY_SECONDS - pop.birth[person]) / 365.25
    hukou = np.where(is_first, pop.region[person], _new_regions(rng, pop.region[person]))
    new_phone = np.where(received > 0, received, ids.unique_phones(rng, person.size, exclude=pop.phone))
    phone = np.where(is_first, pop.phone[person], new_phone)
    edu0 = _education(rng, pop, person)
    education = np.where(is_first, edu0, np.minimum(edu0 + (rng.random(person.size) < 0.25) * (age < 30), 6))
    education = np.where(edu0 == 7, 7, education)
    occupation = _occupation(rng, pop, person, age, education)

    changed = {
        "hukou": is_first | (kind == MOVE),
        "phone": is_first | (kind == PHONE),
        "edu": is_first | (kind == JOB),
        "name": is_first | (kind == NAME),
    }
    new_names = pc.binary_join_element_wise(pa.array(names.SURNAMES[pop.surname[person]]),
                                            names.draw_given(rng, pop.male[person]), "")
    name_source = pc.if_else(pa.array(is_first), pc.take(pop.name, pa.array(person)), new_names)
    recycled_from = np.full(n, -1)
    recycled_from[b] = a
    first = np.flatnonzero(is_first)
    return Versions(
        person=person, updated_at=t,
        name=flat(pc.take(name_source, pa.array(ffill_index(changed["name"])))),
        hukou=hukou[ffill_index(changed["hukou"])],
        education=education[ffill_index(changed["edu"])],
        occupation=occupation[ffill_index(changed["edu"])],
        phone=phone[ffill_index(changed["phone"])],
        first=first, recycled_from=recycled_from,
    )


def _strictly_increasing(person: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Nudge equal timestamps of one person apart, so (id_number, updated_at) stays a key."""
    t = t.copy()
    for _ in range(100):
        clash = np.r_[False, (person[1:] == person[:-1]) & (t[1:] <= t[:-1])]
        if not clash.any():
            return t
        idx = np.flatnonzero(clash)
        t[idx] = t[idx - 1] + 1
    return t


def _new_regions(rng: np.random.Generator, current: np.ndarray) -> np.ndarray:
    pool = np.concatenate([COURT_REGIONS, COURT_REGIONS, OTHER_XUZHOU, ELSEWHERE[:4]])
    new = pool[rng.integers(0, pool.size, current.size)]
    return np.where(new == current, pool[(np.searchsorted(pool, new) + 1) % pool.size], new)


def _education(rng: np.random.Generator, pop: Population, person: np.ndarray) -> np.ndarray:
    cohort = (clock.year_of(pop.birth[person]) - 1970) / 18.0
    score = 0.8 * pop.latent.income[person] + cohort + 0.4 * pop.urban[person] + 0.8 * rng.standard_normal(person.size)
    # Cut points at population shares: primary 12%, junior high 29%, senior high 18%,
    # vocational 14%, bachelor 21%, master 4.5%, doctorate 0.7%.
    level = np.digitize(score, np.quantile(score, [0.12, 0.41, 0.59, 0.73, 0.94, 0.985]))
    return np.where(rng.random(person.size) < 0.03, 7, level)


def _occupation(rng: np.random.Generator, pop: Population, person: np.ndarray, age: np.ndarray,
                education: np.ndarray) -> np.ndarray:
    """Gumbel-max draw over the nine occupations from age, schooling and the latent factors."""
    m = person.size
    income, distress = pop.latent.income[person], pop.latent.distress[person]
    degree = (education >= 4) & (education <= 6)
    rural = ~pop.urban[person]
    retire_age = np.where(pop.male[person], 60, 55)
    logits = np.full((m, OCCUPATION.size), -9.0)
    logits[:, 0] = np.where(rural, 0.5, -2.5) - 0.5 * degree
    logits[:, 1] = 0.6 - 0.3 * income
    logits[:, 2] = np.where(degree, -0.6, -3.0) + 0.2 * income
    logits[:, 3] = np.where(degree, 0.4, -2.5) + 0.4 * income
    logits[:, 4] = -0.4 + 0.5 * income + 0.3 * (pop.role[person] == HEAD)
    logits[:, 5] = -2.2 + 0.8 * distress
    logits[:, 8] = -1.5
    logits[:, 6] = np.where(age >= retire_age, 3.0, -9.0)
    logits[:, 7] = np.where(age < 23, 0.5 + 1.5 * degree, -9.0)
    gumbel = -np.log(-np.log(rng.random((m, OCCUPATION.size))))
    return np.argmax(logits + gumbel, axis=1)


def persons_table(pop: Population, ver: Versions) -> pa.Table:
    """population/persons rows: every version, delivered on the day it was made."""
    who = pa.array(ver.person)
    phone = pa.array(ver.phone).cast(pa.string())
    return pa.table({
        "id_number": pc.take(pop.id_number, who),
        "name": ver.name,
        "gender": pa.array(np.where(pop.male[ver.person], "M", "F")),
        "birth_date": pa.array(pop.birth[ver.person].astype(np.int32)).cast(pa.date32()),
        "hukou_region": pa.array(ver.hukou).cast(pa.string()),
        "education": pa.array(EDUCATION[ver.education]),
        "occupation": pa.array(OCCUPATION[ver.occupation]),
        "phone": pc.if_else(pa.array(ver.phone > 0), phone, pa.nulls(len(phone), pa.string())),
        "updated_at": pa.array(ver.updated_at).cast(pa.timestamp("s")),
        "_deliver": pa.array((ver.updated_at // DAY_SECONDS).astype(np.int32)),
    })
