"""Social-platform accounts and the relations between them.

Accounts reach a person only through the phone and, when verified, the real
name. Friendships are homophilous in region and willingness to pay, so people
who will not pay are often tied to people already on the dishonest list: a
pre-filing signal that only shows up once accounts are resolved to persons.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import clock, ids, names
from .clock import DAY_SECONDS, Calendar
from .court import Cases
from .persons import Versions
from .population import Population

RELATIONS = np.array(["family", "friend", "colleague", "business"])


def draw_social(rng: np.random.Generator, pop: Population, ver: Versions, cases: Cases, cal: Calendar,
                outsider_share: float, messy: bool) -> tuple[pa.Table, pa.Array, pa.Table]:
    """social/accounts, the true owner of each account, and social/links."""
    n_acc = rng.choice(3, pop.n, p=[0.22, 0.63, 0.15]) * (rng.random(pop.n) > np.clip(pop.age_at(cal.last_dt) - 70, 0, 20) / 25)
    person = np.repeat(np.arange(pop.n), n_acc)
    k_out = int(person.size * outsider_share / (1 - outsider_share))
    owner = np.r_[person, np.full(k_out, -1)]
    m = owner.size
    earliest = np.maximum(clock.birthday_after(pop.birth[np.maximum(owner, 0)], 16), clock.day("2013-01-01"))
    reg_day = clock.uniform_days(rng, earliest, cal.last_dt)
    reg_at = clock.random_seconds(reg_day, rng, 6.0, 24.0)
    inside = owner >= 0
    v = ver.at(np.maximum(owner, 0), reg_at)
    phone = np.where(inside, ver.phone[v], ids.unique_phones(rng, m, exclude=pop.phone))
    phone = np.where(rng.random(m) < 0.01, 0, phone)  # sign-up needs a phone; a few were removed
    real = rng.random(m) < 0.55
    outsider_names = names.full_names(rng, names.draw_surnames(rng, m), rng.random(m) < 0.5)
    real_name = pc.if_else(pa.array(inside), ver.name.take(pa.array(v)), outsider_names)
    nick = names.nicknames(rng, m, messy)
    has_nick = rng.random(m) < 0.9

    order = np.lexsort((rng.random(m), reg_at))
    rank = np.empty(m, np.int64)
    rank[order] = np.arange(m)
    account_id = pc.binary_join_element_wise("SA", pc.utf8_lpad(pa.array(rank * 13 + 10_000_019).cast(pa.string()), 10, "0"), "")
    pick = pa.array(order)
    phone_s = pa.array(phone).cast(pa.string())
    accounts = pa.table({
        "account_id": pc.take(account_id, pick),
        "phone": pc.take(pc.if_else(pa.array(phone > 0), phone_s, pa.nulls(m, pa.string())), pick),
        "nickname": pc.take(pa.array(np.where(has_nick, nick, None), type=pa.string()), pick),
        "real_name": pc.take(pc.if_else(pa.array(real), real_name, pa.nulls(m, pa.string())), pick),
        "registered_at": pa.array(reg_at[order]).cast(pa.timestamp("s")),
        "_deliver": pa.array((reg_at[order] // DAY_SECONDS).astype(np.int32)),
    })
    owners = pc.take(pc.if_else(pa.array(inside), pc.take(pop.id_number, pa.array(np.maximum(owner, 0))),
                                pa.nulls(m, pa.string())), pick)
    links = _links(rng, pop, cases, owner, reg_day, account_id, cal)
    return accounts, owners, links


def _links(rng, pop: Population, cases: Cases, owner: np.ndarray, reg_day: np.ndarray, account_id: pa.Array,
           cal: Calendar) -> pa.Table:
    m = owner.size
    inside = np.flatnonzero(owner >= 0)
    lat = pop.latent
    first_acc = np.full(pop.n, -1)
    first_acc[owner[inside][::-1]] = inside[::-1]
    src, dst, rel = [], [], []

    # Family: every household member's first account, tied to the head's.
    fa = first_acc[np.arange(pop.n)]
    head_acc = fa[pop.household_first]
    fam = (fa >= 0) & (head_acc >= 0) & (fa != head_acc)
    src.append(head_acc[fam]), dst.append(fa[fam]), rel.append(np.zeros(int(fam.sum()), int))

    # Friends: neighbours in an ordering by region and willingness (homophily).
    key = pop.region[owner[inside]] * 100.0 + np.clip(lat.willingness[owner[inside]]
                                                      + 0.6 * rng.standard_normal(inside.size), -5, 5)
    for relation, sort_key, per_account, reach in ((1, key, 2, 12), (2, _colleague_key(rng, pop, owner[inside]), 1, 6)):
        srt = inside[np.argsort(sort_key, kind="stable")]
        base = np.repeat(np.arange(srt.size), per_account)
        off = rng.integers(1, reach, base.size)
        ok = base + off < srt.size
        src.append(srt[base[ok]]), dst.append(srt[(base + off)[ok]]), rel.append(np.full(int(ok.sum()), relation))

    # Business: applicants and respondents of the same case know each other; the self-employed deal widely.
    person_app = np.flatnonzero(cases.applicant_kind == 0)
    a, b = first_acc[cases.applicant[person_app]], first_acc[cases.primary[person_app]]
    ok = (a >= 0) & (b >= 0) & (rng.random(a.size) < 0.5)
    src.append(a[ok]), dst.append(b[ok]), rel.append(np.full(int(ok.sum()), 3))
    rnd = inside[rng.integers(0, inside.size, inside.size // 10)]
    src.append(rnd), dst.append(rng.integers(0, m, rnd.size)), rel.append(np.full(rnd.size, 3))

    s, d, r = np.concatenate(src), np.concatenate(dst), np.concatenate(rel)
    s, d = np.minimum(s, d), np.maximum(s, d)
    keep = s != d
    s, d, r = s[keep], d[keep], r[keep]
    _, first = np.unique((s.astype(np.int64) * m + d) * 4 + r, return_index=True)
    s, d, r = s[first], d[first], r[first]
    flip = rng.random(s.size) < 0.5
    s, d = np.where(flip, d, s), np.where(flip, s, d)

    start = np.maximum(reg_day[s], reg_day[d])
    since = clock.uniform_days(rng, start, np.minimum(cal.last_dt, start + 720))
    until = np.where(rng.random(s.size) < 0.08, since + rng.integers(30, 1100, s.size), -1)
    ended = (until > 0) & (until <= cal.last_dt)
    row = np.r_[np.arange(s.size), np.flatnonzero(ended)]
    is_update = np.r_[np.zeros(s.size, bool), np.ones(int(ended.sum()), bool)]
    deliver = np.where(is_update, until[row], since[row])
    srt = np.lexsort((is_update, deliver))
    row, is_update, deliver = row[srt], is_update[srt], deliver[srt]
    date = lambda x: pa.array(np.asarray(x, dtype=np.int32)).cast(pa.date32())
    return pa.table({
        "src_account": pc.take(account_id, pa.array(s[row])),
        "dst_account": pc.take(account_id, pa.array(d[row])),
        "relation": pa.array(RELATIONS[r[row]]),
        "since": date(since[row]),
        "until": pc.if_else(pa.array(is_update), date(np.where(is_update, until[row], 0)), pa.nulls(row.size, pa.date32())),
        "_deliver": pa.array(deliver.astype(np.int32)),
        "_key": pa.array(row),
    })


def _colleague_key(rng: np.random.Generator, pop: Population, who: np.ndarray) -> np.ndarray:
    """Same region and a similar line of work (income band as a stand-in for the employer)."""
    return pop.region[who] * 100.0 + np.round(pop.latent.income[who] * 2) + 0.3 * rng.random(who.size)
