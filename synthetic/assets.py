"""Registered real estate, vehicles and company equity, and what happens to them.

Besides ordinary sales, disposals tell the enforcement story: before a filing
an evading debtor hands flats and cars to the ex-spouse or a relative
(`disposed_to_id` set); after a filing a non-payer keeps disposing; a payer
sometimes sells to raise the money. A transfer to a person also creates that
person's new asset, as the registry would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import clock
from .arrays import group_ranges
from .clock import DAY_SECONDS, Calendar
from .court import Cases
from .outcome import NEVER
from .persons import Versions
from .population import Population

ASSET_TYPES = np.array(["real_estate", "vehicle", "equity"])
_PREFIX = np.array(["RE", "VH", "EQ"])


@dataclass
class Assets:
    owner: np.ndarray
    kind: np.ndarray
    region: np.ndarray
    acquired_on: np.ndarray
    disposed_on: np.ndarray    # NEVER if kept
    disposed_to: np.ndarray    # person, -1 if sold to a non-person or kept
    value: np.ndarray          # cents


def draw_assets(rng: np.random.Generator, pop: Population, ver: Versions, cases: Cases, cal: Calendar) -> Assets:
    lat = pop.latent
    age = pop.age_at(cal.last_dt)
    counts = np.stack([
        np.minimum(rng.poisson(np.maximum(0.45 + 0.45 * lat.wealth, 0.02)), 3) * (age >= 25),
        np.minimum(rng.poisson(np.maximum(0.3 + 0.3 * lat.income, 0.02)), 2) * (age >= 20),
        np.minimum(rng.poisson(0.03 + 0.25 * (lat.wealth > 0.5) + 0.2 * (lat.income > 1.0)), 2) * (age >= 25),
    ])
    kind = np.concatenate([np.full(counts[k].sum(), k) for k in range(3)])
    owner = np.concatenate([np.repeat(np.arange(pop.n), counts[k]) for k in range(3)])
    m = owner.size
    earliest = np.maximum(clock.birthday_after(pop.birth[owner], np.where(kind == 1, 20, 22)), clock.day("2000-01-01"))
    acquired = clock.uniform_days(rng, earliest, cal.last_dt)
    median = np.array([800_000, 120_000, 500_000])[kind]
    sd = np.array([0.5, 0.6, 1.0])[kind]
    value = median * np.exp(sd * rng.standard_normal(m) + np.where(kind == 1, 0.25 * lat.income[owner],
                                                                   0.35 * lat.wealth[owner]))
    value = (np.round(value / 100) * 10_000).astype(np.int64)
    region = np.where(kind == 2, np.array([320312, 320302, 320311, 320303])[rng.integers(0, 4, m)],
                      ver.hukou[ver.at(owner, acquired * DAY_SECONDS)])

    # Ordinary life: sales, and now and then a gift inside the family.
    sale_p = np.array([0.12, 0.35, 0.15])[kind]
    sold = rng.random(m) < sale_p
    sale_day = acquired + (rng.uniform(2, 10, m) * 365).astype(np.int64)
    gift = rng.random(m) < 0.03
    gift_day = acquired + (rng.uniform(0.5, 8, m) * 365).astype(np.int64)
    cand_asset = [np.arange(m)[sold], np.arange(m)[gift]]
    cand_day = [sale_day[sold], gift_day[gift]]
    cand_to = [np.full(int(sold.sum()), -1), pop.relative(rng, owner[gift])]

    order = np.argsort(owner, kind="stable")
    start, count = group_ranges(owner[order], pop.n)
    _case_disposals(rng, pop, cases, acquired, kind, order, start, count, cand_asset, cand_day, cand_to)

    a, d, to = np.concatenate(cand_asset), np.concatenate(cand_day), np.concatenate(cand_to)
    ok = (d > acquired[a]) & (d <= cal.last_dt)
    a, d, to = a[ok], d[ok], to[ok]
    first = np.lexsort((d, a))
    a, d, to = a[first], d[first], to[first]
    keep = np.r_[True, a[1:] != a[:-1]]
    a, d, to = a[keep], d[keep], to[keep]
    to = np.where(to == owner[a], -1, to)
    disposed_on = np.full(m, NEVER)
    disposed_to = np.full(m, -1)
    disposed_on[a], disposed_to[a] = d, to

    # The recipient now owns it: a new registration in the recipient's name.
    got = np.flatnonzero(disposed_to >= 0)
    return Assets(
        owner=np.r_[owner, disposed_to[got]], kind=np.r_[kind, kind[got]], region=np.r_[region, region[got]],
        acquired_on=np.r_[acquired, disposed_on[got]], disposed_on=np.r_[disposed_on, np.full(got.size, NEVER)],
        disposed_to=np.r_[disposed_to, np.full(got.size, -1)], value=np.r_[value, value[got]],
    )


def _case_disposals(rng, pop, cases, acquired, kind, order, start, count, cand_asset, cand_day, cand_to) -> None:
    """Append disposal candidates driven by the cases of each primary respondent."""
    case_rep = np.repeat(np.arange(cases.n), count[cases.primary])
    offsets = np.arange(case_rep.size) - np.repeat(np.cumsum(count[cases.primary]) - count[cases.primary],
                                                   count[cases.primary])
    asset = order[start[cases.primary][case_rep] + offsets]
    filed = cases.filed_on[case_rep]
    held = acquired[asset] < filed - 30
    movable = kind[asset] < 2
    u = rng.random(asset.size)

    # Before filing: an evader moves flats and cars to the ex-spouse or a relative.
    evade = held & movable & cases.evasion[case_rep] & (u < 0.8)
    paper = cases.divorced_on[case_rep]
    day = np.where(paper < NEVER, np.minimum(paper + rng.integers(1, 20, asset.size), filed - 3),
                   filed - rng.integers(7, 60, asset.size))
    cand_asset.append(asset[evade]), cand_day.append(day[evade]), cand_to.append(cases.evasion_target[case_rep][evade])

    # After filing: non-payers dispose of what is left; some payers sell to pay.
    out = cases.out
    non_payer = ~out.performs[case_rep] & ~out.transferred[case_rep]
    later = held & non_payer & (u >= 0.8) & (rng.random(asset.size) < 0.35)
    rel = pop.relative(rng, cases.primary[case_rep])
    to = np.where(rng.random(asset.size) < 0.5, rel, -1)
    cand_asset.append(asset[later]), cand_day.append((filed + rng.integers(10, 200, asset.size))[later])
    cand_to.append(to[later])
    payer = held & out.performs[case_rep] & (rng.random(asset.size) < 0.1)
    pay_day = np.minimum(out.closed_on[case_rep], filed + 178) - rng.integers(0, 60, asset.size)
    cand_asset.append(asset[payer]), cand_day.append(np.maximum(pay_day, filed + 1)[payer])
    cand_to.append(np.full(int(payer.sum()), -1))


def assets_table(rng: np.random.Generator, a: Assets, pop: Population, cal: Calendar) -> pa.Table:
    """finance/assets: delivered when registered, delivered again when disposed of."""
    m = a.owner.size
    order = np.lexsort((np.arange(m), a.acquired_on))
    asset_id = pc.binary_join_element_wise(
        pa.array(_PREFIX[a.kind]), pa.array(a.region).cast(pa.string()),
        pc.utf8_lpad(pa.array(np.argsort(order)).cast(pa.string()), 8, "0"), "")
    shown = np.flatnonzero(a.acquired_on <= cal.last_dt)
    upd = shown[a.disposed_on[shown] <= cal.last_dt]
    row = np.r_[shown, upd]
    is_update = np.r_[np.zeros(shown.size, bool), np.ones(upd.size, bool)]
    deliver = np.where(is_update, a.disposed_on[row], a.acquired_on[row])
    deliver = clock.delivery_days(deliver, rng, 0.1, 2)
    srt = np.lexsort((is_update, deliver))
    row, is_update, deliver = row[srt], is_update[srt], deliver[srt]
    to = a.disposed_to[row]
    to_id = pc.take(pop.id_number, pa.array(np.maximum(to, 0)))
    return pa.table({
        "asset_id": pc.take(asset_id, pa.array(row)),
        "owner_id": pc.take(pop.id_number, pa.array(a.owner[row])),
        "asset_type": pa.array(ASSET_TYPES[a.kind[row]]),
        "region": pa.array(a.region[row]).cast(pa.string()),
        "acquired_on": pa.array(a.acquired_on[row].astype(np.int32)).cast(pa.date32()),
        "disposed_on": pc.if_else(pa.array(is_update), pa.array(np.where(is_update, a.disposed_on[row], 0)
                                                                .astype(np.int32)).cast(pa.date32()),
                                  pa.nulls(row.size, pa.date32())),
        "disposed_to_id": pc.if_else(pa.array(is_update & (to >= 0)), to_id, pa.nulls(row.size, pa.string())),
        "declared_value": pa.array(a.value[row]),
        "_deliver": pa.array(deliver.astype(np.int32)),
        "_key": pa.array(row),
    })
