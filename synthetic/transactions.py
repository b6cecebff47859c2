"""Large-value transactions (>= 5,000 CNY), as the banks report them.

Ordinary bookings follow income and wealth. Case-driven bookings carry the
enforcement signals: transfers to the ex-spouse or a relative shortly before
an evader's filing (observable, pre-filing), draining after a non-payer's
filing and one large payment near a payer's closure (post-filing: a pipeline
that peeks past `filed_on` sees them).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import clock
from .clock import DAY_SECONDS, Calendar
from .court import Cases
from .finance import CHANNELS, Accounts
from .population import Population


def transactions_table(rng: np.random.Generator, acc: Accounts, pop: Population, cases: Cases, cal: Calendar,
                       per_account_year: float) -> pa.Table:
    lat = pop.latent
    everyday = np.flatnonzero(acc.kind <= 1)
    start = np.maximum(acc.opened_on[everyday], cal.finance_start)
    stop = np.minimum(acc.closed_on[everyday], cal.last_dt)
    years = np.maximum(stop - start, 0) / 365.25
    who = acc.owner[everyday]
    rate = per_account_year * np.exp(0.45 * lat.income[who] + 0.25 * lat.wealth[who])
    count = rng.poisson(rate * years)
    account = np.repeat(everyday, count)
    day = np.repeat(start, count) + (rng.random(account.size) * np.repeat(stop - start, count)).astype(np.int64)
    owner = acc.owner[account]
    amount = 5000 + 6000 * np.exp(0.35 * lat.wealth[owner] + 0.9 * rng.standard_normal(account.size))
    outgoing = rng.random(account.size) < 0.5
    person = rng.random(account.size) < 0.35
    counterparty = np.where(person, np.where(rng.random(account.size) < 0.3, pop.relative(rng, owner),
                                             rng.integers(0, pop.n, account.size)), -1)
    parts = [(account, day, amount, outgoing, counterparty)]
    parts += _case_bookings(rng, acc, pop, cases)

    account, day, amount, outgoing, counterparty = (np.concatenate(p) for p in zip(*parts))
    ok = (day >= cal.finance_start) & (day <= cal.last_dt) & (day > acc.opened_on[account]) \
        & (day < acc.closed_on[account]) & (amount >= 5000)
    account, day, amount, outgoing, counterparty = account[ok], day[ok], amount[ok], outgoing[ok], counterparty[ok]
    counterparty = np.where(counterparty == acc.owner[account], -1, counterparty)
    cents = np.where(rng.random(amount.size) < 0.4, np.round(amount / 100) * 10_000, np.round(amount * 100))
    cents = np.maximum(cents, 500_000).astype(np.int64)
    channel = np.where(cents > 5_000_000, rng.choice([0, 2, 3], cents.size, p=[0.5, 0.3, 0.2]),
                       rng.choice(4, cents.size, p=[0.2, 0.1, 0.25, 0.45]))
    channel = np.where((channel == 1) & (cents > 2_000_000), 3, channel)  # ATMs cap at 20,000
    booked = clock.random_seconds(day, rng, 7.0, 23.5)
    order = np.lexsort((account, booked))
    account, booked, cents, outgoing, counterparty, channel = (x[order] for x in
                                                               (account, booked, cents, outgoing, counterparty, channel))
    ymd = clock.yyyymmdd(booked // DAY_SECONDS)
    txn_id = pc.binary_join_element_wise("TX", pa.array(ymd).cast(pa.string()),
                                         pc.utf8_lpad(pa.array(np.arange(booked.size)).cast(pa.string()), 10, "0"), "")
    cp_id = pc.take(pop.id_number, pa.array(np.maximum(counterparty, 0)))
    return pa.table({
        "txn_id": txn_id,
        "account_id": pc.take(acc.account_id, pa.array(account)),
        "booked_at": pa.array(booked).cast(pa.timestamp("s")),
        "amount": pa.array(cents),
        "direction": pa.array(np.where(outgoing, "out", "in")),
        "counterparty_id": pc.if_else(pa.array(counterparty >= 0), cp_id, pa.nulls(booked.size, pa.string())),
        "channel": pa.array(CHANNELS[channel]),
        "_deliver": pa.array(clock.delivery_days(booked // DAY_SECONDS, rng, 0.15, 1).astype(np.int32)),
    })


def _case_bookings(rng: np.random.Generator, acc: Accounts, pop: Population, cases: Cases) -> list[tuple]:
    """Transfers before an evader's filing, draining after a non-payer's, a payment near a payer's closure."""
    out = cases.out
    main = acc.main[cases.primary]
    worth = pop.latent.wealth_value[cases.primary]
    parts = []

    ev = np.flatnonzero(cases.evasion & (main >= 0) & (rng.random(cases.n) < 0.75))
    k = rng.integers(1, 4, ev.size)
    c = np.repeat(ev, k)
    parts.append((main[c], cases.filed_on[c] - rng.integers(1, 90, c.size), worth[c] * rng.uniform(0.1, 0.4, c.size),
                  np.ones(c.size, bool), cases.evasion_target[c]))

    non_payer = np.flatnonzero(~out.performs & ~out.transferred & (main >= 0) & (rng.random(cases.n) < 0.7))
    k = rng.integers(1, 4, non_payer.size)
    c = np.repeat(non_payer, k)
    to = np.where(rng.random(c.size) < 0.5, pop.relative(rng, cases.primary[c]), -1)
    parts.append((main[c], cases.filed_on[c] + rng.integers(5, 90, c.size),
                  worth[c] * rng.uniform(0.05, 0.3, c.size), np.ones(c.size, bool), to))

    payer = np.flatnonzero(out.performs & ~out.transferred & (main >= 0) & (out.recovered >= 500_000))
    to = np.where(cases.applicant_kind[payer] == 0, cases.applicant[payer], -1)
    day = np.maximum(out.closed_on[payer] - rng.integers(0, 11, payer.size), cases.filed_on[payer] + 1)
    parts.append((main[payer], day, out.recovered[payer] / 100.0, np.ones(payer.size, bool), to))
    return parts
