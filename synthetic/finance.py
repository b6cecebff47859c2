"""Bank accounts, quarter-end balances and large transactions (>= 5,000 CNY).

Balances follow wealth. Around a case they move the way enforcement officers
see them move: an evader's balance drops in the quarter before filing, a
non-payer's is drained after filing, a payer's dips after paying. Transfers
show the same story at the level of single bookings: money to the ex-spouse
before filing, draining afterwards, one large payment near the closure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import clock, names
from .clock import Calendar
from .court import Cases
from .outcome import NEVER
from .population import Population

ACCOUNT_TYPES = np.array(["savings", "current", "wealth_management", "securities"])
CHANNELS = np.array(["counter", "atm", "online", "mobile"])


@dataclass
class Accounts:
    owner: np.ndarray
    kind: np.ndarray
    bank: np.ndarray
    opened_on: np.ndarray
    closed_on: np.ndarray      # NEVER if open
    account_id: pa.Array
    main: np.ndarray           # per person: index of the everyday account, -1 if none


def draw_accounts(rng: np.random.Generator, pop: Population, cases: Cases, cal: Calendar) -> Accounts:
    lat = pop.latent
    n_acc = np.where(rng.random(pop.n) < 0.03, 0,
                     1 + np.minimum(rng.poisson(0.3 + 0.35 * np.maximum(lat.wealth + 1, 0)), 5))
    owner = np.repeat(np.arange(pop.n), n_acc)
    is_main = np.r_[True, owner[1:] != owner[:-1]] if owner.size else np.zeros(0, bool)
    m = owner.size
    adult = np.maximum(clock.birthday_after(pop.birth[owner], 18), clock.day("2005-01-01"))
    main_open = clock.uniform_days(rng, adult, np.minimum(adult + 3 * 365, cal.last_dt))
    first_open = main_open[np.maximum.accumulate(np.where(is_main, np.arange(m), 0))]
    opened = np.where(is_main, main_open, clock.uniform_days(rng, first_open, cal.last_dt))
    logits = np.stack([np.full(m, 0.6), np.full(m, 0.0), -0.6 + 0.8 * lat.wealth[owner], -1.0 + 0.6 * lat.income[owner]], 1)
    kind = np.where(is_main, 0, np.argmax(logits - np.log(-np.log(rng.random((m, 4)))), axis=1))
    bank = rng.choice(names.BANK_CODES.size, m, p=names.BANK_WEIGHTS / names.BANK_WEIGHTS.sum())
    closed = np.where(~is_main & (rng.random(m) < 0.12), opened + rng.integers(365, 8 * 365, m), NEVER)
    # Non-payers close side accounts after filing, once they are empty.
    side = ~is_main
    first_case = np.full(pop.n, NEVER)
    non_payer = ~cases.out.performs & ~cases.out.transferred
    np.minimum.at(first_case, cases.primary[non_payer], cases.filed_on[non_payer])
    drain_close = side & (first_case[owner] < NEVER) & (rng.random(m) < 0.25) & (opened < first_case[owner])
    closed = np.where(drain_close, np.minimum(closed, first_case[owner] + rng.integers(20, 150, m)), closed)
    closed = np.where(closed <= cal.last_dt, closed, NEVER)
    main = np.full(pop.n, -1)
    main[owner[is_main]] = np.flatnonzero(is_main)
    return Accounts(owner, kind, bank, opened, closed, account_ids(bank, np.arange(m)), main)


def account_ids(bank: np.ndarray, row: np.ndarray) -> pa.Array:
    """The bank's card BIN and a 13-digit serial derived from the account's row: unique per row."""
    serial = (np.asarray(row, dtype=np.int64) * 7919 + 1_234_567) % 10**13
    return pc.binary_join_element_wise(pa.array(names.BANK_BINS[bank]).cast(pa.string()),
                                       pc.utf8_lpad(pa.array(serial).cast(pa.string()), 13, "0"), "")


def accounts_table(rng: np.random.Generator, acc: Accounts, pop: Population, cal: Calendar) -> pa.Table:
    """finance/accounts: delivered when opened, delivered again when closed."""
    shown = np.flatnonzero(acc.opened_on <= cal.last_dt)
    upd = shown[acc.closed_on[shown] <= cal.last_dt]
    row = np.r_[shown, upd]
    is_update = np.r_[np.zeros(shown.size, bool), np.ones(upd.size, bool)]
    deliver = np.where(is_update, acc.closed_on[row], acc.opened_on[row])
    srt = np.lexsort((is_update, deliver))
    row, is_update, deliver = row[srt], is_update[srt], deliver[srt]
    closed = pa.array(np.where(is_update, acc.closed_on[row], 0).astype(np.int32)).cast(pa.date32())
    return pa.table({
        "account_id": pc.take(acc.account_id, pa.array(row)),
        "owner_id": pc.take(pop.id_number, pa.array(acc.owner[row])),
        "bank_code": pa.array(names.BANK_CODES[acc.bank[row]]),
        "account_type": pa.array(ACCOUNT_TYPES[acc.kind[row]]),
        "opened_on": pa.array(acc.opened_on[row].astype(np.int32)).cast(pa.date32()),
        "closed_on": pc.if_else(pa.array(is_update), closed, pa.nulls(row.size, pa.date32())),
        "_deliver": pa.array(deliver.astype(np.int32)),
        "_key": pa.array(row),
    })


def _person_episodes(cases: Cases, n: int) -> dict[str, np.ndarray]:
    """Per person: first non-paying filing, first evasive filing, last paid closure."""
    out = cases.out
    non_payer = ~out.performs & ~out.transferred
    drain = np.full(n, NEVER)
    np.minimum.at(drain, cases.resp_person[non_payer[cases.resp_case]],
                  cases.filed_on[cases.resp_case][non_payer[cases.resp_case]])
    evade = np.full(n, NEVER)
    np.minimum.at(evade, cases.primary[cases.evasion], cases.filed_on[cases.evasion])
    paid = out.performs & ~out.transferred
    paid_on = np.full(n, -1)
    np.maximum.at(paid_on, cases.primary[paid], out.closed_on[paid])
    return {"drain": drain, "evade": evade, "paid": paid_on}


def balances_table(rng: np.random.Generator, acc: Accounts, pop: Population, cases: Cases, cal: Calendar) -> pa.Table:
    """finance/balances: one row per open account and quarter end inside the finance window."""
    months = np.arange(clock.month_index(np.array([cal.finance_start]))[0], clock.month_index(np.array([cal.last_dt]))[0] + 1)
    q_end = clock.month_end(months[(months % 12) % 3 == 2])
    q_end = q_end[(q_end >= cal.finance_start) & (q_end <= cal.last_dt)]
    lo = np.searchsorted(q_end, acc.opened_on, side="right")
    hi = np.searchsorted(q_end, np.minimum(acc.closed_on, cal.last_dt), side="left")
    count = np.maximum(hi - lo, 0)
    row = np.repeat(np.arange(acc.owner.size), count)
    q = q_end[np.repeat(lo, count) + np.arange(row.size) - np.repeat(np.cumsum(count) - count, count)]
    who = acc.owner[row]
    lat = pop.latent
    mu = np.array([9.0, 8.6, 11.0, 10.5])[acc.kind[row]]
    account_effect = rng.standard_normal(acc.owner.size)[row] * 0.8
    log_bal = mu + 1.2 * lat.wealth[who] + 0.5 * lat.income[who] - 0.4 * lat.distress[who] + account_effect \
        + 0.35 * rng.standard_normal(row.size)
    bal = np.exp(log_bal)
    ep = _person_episodes(cases, pop.n)
    drained = q >= ep["drain"][who] + 10
    bal = np.where(drained, bal * rng.uniform(0, 0.15, row.size) * (rng.random(row.size) > 0.3), bal)
    hiding = (q < ep["evade"][who]) & (q >= ep["evade"][who] - 120)
    bal = np.where(hiding, bal * rng.uniform(0.05, 0.4, row.size), bal)
    after_pay = (q > ep["paid"][who]) & (q <= ep["paid"][who] + 180)
    bal = np.where(after_pay, bal * rng.uniform(0.4, 0.8, row.size), bal)
    bal = np.where(rng.random(row.size) < 0.04, 0.0, bal)
    cents = np.round(bal * 100).astype(np.int64)
    deliver = q + rng.integers(1, 11, row.size)
    # Banks correct a few recent quarter-end figures: the same key delivered again, nightly.
    fix = np.flatnonzero((q >= cal.backfill_dt - 100) & (rng.random(row.size) < 0.002)) if cal.daily_dts else []
    row, q = np.r_[row, row[fix]], np.r_[q, q[fix]]
    cents = np.r_[cents, np.round(cents[fix] * rng.uniform(0.9, 1.1, len(fix))).astype(np.int64)]
    deliver = np.r_[deliver, np.asarray(cal.daily_dts)[rng.integers(0, max(len(cal.daily_dts), 1), len(fix))]]
    return pa.table({
        "account_id": pc.take(acc.account_id, pa.array(row)),
        "as_of": pa.array(q.astype(np.int32)).cast(pa.date32()),
        "balance": pa.array(cents),
        "_deliver": pa.array(deliver.astype(np.int32)),
        "_correction": pa.array(np.arange(row.size) >= row.size - len(fix)),
    })
