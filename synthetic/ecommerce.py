"""E-commerce orders, as platforms deliver them: a recipient name, maybe a
phone, maybe a masked ID, never the full ID.

Spending follows income; luxury and travel follow wealth and low
willingness. Evaders buy luxury in the months before filing, while their
loans are overdue; non-payers keep doing it after filing (a consumption-ban
violation). Entity resolution is made hard on purpose: homonyms, "张先生"
recipients, family members' phones, stale and recycled numbers, shop phones
shared by hundreds of orders, and buyers from outside the population.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import clock, ids, names
from .arrays import flat
from .clock import DAY_SECONDS, Calendar
from .court import Cases
from .persons import Versions
from .population import ELSEWHERE, REGIONS, Population

CATEGORIES = np.array(["daily", "food", "electronics", "luxury", "travel", "education", "entertainment", "other"])
_BASE = np.log(np.array([0.30, 0.22, 0.10, 0.025, 0.05, 0.05, 0.10, 0.155]))
_MEDIAN = np.array([80, 60, 1500, 8000, 3000, 1200, 200, 150])
PLATFORMS = np.array(["taobao", "jd", "pinduoduo", "douyin", "meituan"])
_PLATFORM_P = np.array([0.38, 0.25, 0.22, 0.1, 0.05])
_PLATFORM_PREFIX = np.array(["TB", "JD", "PDD", "DY", "MT"])


def orders_table(rng: np.random.Generator, pop: Population, ver: Versions, cases: Cases, cal: Calendar,
                 per_person_year: float, outsider_share: float) -> tuple[pa.Table, pa.Array]:
    """ecommerce/orders and the true owner of each order (empty for outsiders)."""
    lat = pop.latent
    years = (cal.last_dt - cal.orders_start + 1) / 365.25
    age = pop.age_at(cal.last_dt)
    rate = per_person_year * np.exp(0.45 * lat.income) * np.where(age > 70, 0.2, 1.0)
    count = rng.poisson(rate * years)
    buyer = np.repeat(np.arange(pop.n), count)
    day = cal.orders_start + rng.integers(0, cal.last_dt - cal.orders_start + 1, buyer.size)
    logits = np.tile(_BASE, (buyer.size, 1))
    logits[:, 3] += 0.8 * lat.wealth[buyer] - 0.4 * lat.willingness[buyer]
    logits[:, 4] += 0.6 * lat.wealth[buyer] - 0.2 * lat.willingness[buyer]
    category = np.argmax(logits - np.log(-np.log(rng.random(logits.shape))), axis=1)

    c_buyer, c_day = _case_spending(rng, cases)
    buyer = np.r_[buyer, c_buyer]
    day = np.r_[day, c_day]
    category = np.r_[category, rng.choice([3, 4], c_buyer.size, p=[0.65, 0.35])]
    keep = (day >= cal.orders_start) & (day <= cal.last_dt)
    buyer, day, category = buyer[keep], day[keep], category[keep]
    at = clock.random_seconds(day, rng, 7.0, 24.0)
    amount = _MEDIAN[category] * np.exp(0.3 * lat.income[buyer] + 0.8 * rng.standard_normal(buyer.size))

    v = ver.at(buyer, at)
    name = _buyer_names(rng, pop, ver, v, buyer)
    phone = _buyer_phones(rng, pop, ver, v, buyer, at)
    masked = ids.mask_ids(pc.take(pop.id_number, pa.array(buyer)))
    region = ver.hukou[v]
    owner = pc.take(pop.id_number, pa.array(buyer))

    k = int(buyer.size * outsider_share / (1 - outsider_share))
    o_name, o_phone, o_masked, o_at, o_region, o_cat, o_amount = _outsiders(rng, k, pop, cal)
    name = pa.concat_arrays([flat(name), flat(o_name)])
    phone = np.r_[phone, o_phone]
    masked = pa.concat_arrays([flat(masked), flat(o_masked)])
    at, region, category = np.r_[at, o_at], np.r_[region, o_region], np.r_[category, o_cat]
    amount = np.r_[amount, o_amount]
    owner = pa.concat_arrays([flat(owner), pa.nulls(k, pa.string())])

    total = at.size
    shop = np.flatnonzero(rng.random(total) < 0.015)
    phone[shop] = SHOP_PHONES[rng.integers(0, SHOP_PHONES.size, shop.size)]
    has_mask = rng.random(total) < 0.35
    ship = np.where(rng.random(total) < 0.12, 0, np.where(rng.random(total) < 0.85, region,
                                                          REGIONS[rng.integers(0, 10, total)]))
    platform = rng.choice(PLATFORMS.size, total, p=_PLATFORM_P)
    order = np.lexsort((rng.random(total), at))
    pick = pa.array(order)
    cents = np.maximum(np.round(amount * 100), 100).astype(np.int64)[order]
    phone_s = pa.array(phone[order]).cast(pa.string())
    ship_s = pa.array(ship[order]).cast(pa.string())
    serial = pc.utf8_lpad(pa.array(np.arange(total) * 37 + 100_000_003).cast(pa.string()), 12, "0")
    table = pa.table({
        "order_id": pc.binary_join_element_wise(pa.array(_PLATFORM_PREFIX[platform[order]]), serial, ""),
        "platform": pa.array(PLATFORMS[platform[order]]),
        "buyer_name": pc.take(name, pick),
        "buyer_phone": pc.if_else(pa.array(phone[order] > 0), phone_s, pa.nulls(total, pa.string())),
        "buyer_id_masked": pc.if_else(pa.array(has_mask[order]), pc.take(masked, pick), pa.nulls(total, pa.string())),
        "ordered_at": pa.array(at[order]).cast(pa.timestamp("s")),
        "amount": pa.array(cents),
        "category": pa.array(CATEGORIES[category[order]]),
        "ship_region": pc.if_else(pa.array(ship[order] > 0), ship_s, pa.nulls(total, pa.string())),
        "_deliver": pa.array(clock.delivery_days(at[order] // DAY_SECONDS, rng, 0.1, 1).astype(np.int32)),
    })
    return table, pc.take(owner, pick)


# Parcel lockers and shop counters whose number is typed in for many customers.
SHOP_PHONES = np.array([13952100000, 18652100888, 15905200123])


def _case_spending(rng: np.random.Generator, cases: Cases) -> tuple[np.ndarray, np.ndarray]:
    out = cases.out
    ev = np.flatnonzero(cases.evasion & (rng.random(cases.n) < 0.6))
    k = rng.integers(1, 4, ev.size)
    c1 = np.repeat(ev, k)
    before = cases.filed_on[c1] - rng.integers(1, 180, c1.size)
    np_ = np.flatnonzero(~out.performs & ~out.transferred & (rng.random(cases.n) < 0.45))
    k = rng.integers(1, 4, np_.size)
    c2 = np.repeat(np_, k)
    after = cases.filed_on[c2] + rng.integers(10, 180, c2.size)
    return cases.primary[np.r_[c1, c2]], np.r_[before, after]


def _buyer_names(rng: np.random.Generator, pop: Population, ver: Versions, v: np.ndarray, buyer: np.ndarray) -> pa.Array:
    """Mostly the registry name; some "张先生"/"王女士"; some ordered in a relative's name."""
    m = buyer.size
    name = ver.name.take(pa.array(v))
    honorific = pc.binary_join_element_wise(pa.array(names.SURNAMES[pop.surname[buyer]]),
                                            pa.array(np.where(pop.male[buyer], "先生", "女士")), "")
    rel = pop.relative(rng, buyer)
    rel_name = pc.take(pop.name, pa.array(np.maximum(rel, 0)))
    u = rng.random(m)
    name = pc.if_else(pa.array(u < 0.05), honorific, name)
    return pc.if_else(pa.array((u >= 0.05) & (u < 0.065) & (rel >= 0)), rel_name, name)


def _buyer_phones(rng: np.random.Generator, pop: Population, ver: Versions, v: np.ndarray, buyer: np.ndarray,
                  at: np.ndarray) -> np.ndarray:
    """The phone of the time; sometimes missing, a relative's, or an old number kept in the address book."""
    m = buyer.size
    phone = ver.phone[v].copy()
    u = rng.random(m)
    rel = pop.relative(rng, buyer)
    rel_phone = ver.phone[ver.at(np.maximum(rel, 0), at)]
    # Platforms need a number to deliver to, so a missing phone is rare.
    phone = np.where((u < 0.015) & (rel >= 0), rel_phone, phone)
    phone = np.where((u >= 0.015) & (u < 0.045), pop.phone[buyer], phone)  # stale first number
    return np.where(u >= 0.98, 0, phone)


def _outsiders(rng: np.random.Generator, k: int, pop: Population, cal: Calendar):
    """Buyers who are not in the population: same name distribution, their own phones and IDs."""
    male = rng.random(k) < 0.5
    name = names.full_names(rng, names.draw_surnames(rng, k), male)
    phone = np.where(rng.random(k) < 0.8, ids.unique_phones(rng, k, exclude=pop.phone), 0)
    birth = clock.day("1960-01-01") + rng.integers(0, 40 * 365, k)
    region = ELSEWHERE[rng.integers(0, ELSEWHERE.size, k)]
    region = np.where(rng.random(k) < 0.3, REGIONS[rng.integers(0, 5, k)], region)
    body = ids.id_body(region, birth, rng.integers(0, 500, k) * 2 + male)
    at = clock.random_seconds(cal.orders_start + rng.integers(0, cal.last_dt - cal.orders_start + 1, k), rng, 7.0, 24.0)
    category = rng.choice(8, k, p=np.exp(_BASE) / np.exp(_BASE).sum())
    amount = _MEDIAN[category] * np.exp(0.8 * rng.standard_normal(k))
    return name, phone, ids.mask_ids(ids.format_ids(body)), at, region, category, amount
