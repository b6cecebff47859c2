"""Loans and their monthly credit-report snapshots.

A loan is current, then may fall overdue (distress and low willingness make
that likelier), may be cured, written off after 180+ days, or settled. Bank
cases come from a real overdue loan of the respondent with that bank, months
before the filing; non-payers also tend to have other loans overdue before
filing. After the case, a payer's loan is settled at the closure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import clock, names
from .clock import Calendar
from .court import Cases
from .latent import sigmoid
from .outcome import NEVER
from .population import Population

STATUS = np.array(["current", "overdue", "written_off", "settled"])
_LENDERS = np.concatenate([names.BANK_CODES, np.array(["ANTCF", "ZHAOLIAN", "JDCF"])])


@dataclass
class Loans:
    borrower: np.ndarray
    lender: np.ndarray
    principal: np.ndarray    # cents
    issued_on: np.ndarray
    term_days: np.ndarray
    overdue_from: np.ndarray  # NEVER if never overdue
    cured_on: np.ndarray
    written_off_on: np.ndarray
    settled_on: np.ndarray


def draw_loans(rng: np.random.Generator, pop: Population, cases: Cases, cal: Calendar, per_person: float) -> Loans:
    lat = pop.latent
    eligible = pop.age_at(cal.last_dt) >= 22
    count = rng.poisson(per_person * np.exp(0.3 * lat.income + 0.35 * lat.distress) * eligible)
    who = np.repeat(np.arange(pop.n), count)
    m = who.size
    kind = rng.choice(3, m, p=[0.65, 0.17, 0.18])  # consumer, business, mortgage
    principal = np.array([30_000, 200_000, 600_000])[kind] * np.exp(np.array([0.7, 0.8, 0.5])[kind] * rng.standard_normal(m))
    term_m = np.where(kind == 0, rng.choice([12, 24, 36], m), np.where(kind == 1, rng.choice([12, 24, 36, 60], m),
                                                                     rng.choice([120, 240, 360], m)))
    term = (term_m * 30.44).astype(np.int64)
    earliest = np.maximum(clock.birthday_after(pop.birth[who], 22), cal.finance_start - term)
    issued = clock.uniform_days(rng, earliest, cal.last_dt)
    lender = np.where(kind == 0, rng.integers(0, _LENDERS.size, m), rng.integers(0, 8, m))
    overdue_p = sigmoid(-3.4 + 1.0 * lat.distress[who] - 0.9 * lat.willingness[who])
    overdue = rng.random(m) < overdue_p
    onset = np.where(overdue, issued + (rng.uniform(0.15, 0.95, m) * term).astype(np.int64), NEVER)
    cured = overdue & (rng.random(m) < 0.3)
    cured_on = np.where(cured, onset + rng.integers(30, 120, m), NEVER)
    write_off = overdue & ~cured & (rng.random(m) < 0.75)
    written_off = np.where(write_off, onset + rng.integers(181, 360, m), NEVER)
    early = rng.random(m) < 0.15
    settled = np.where(early, issued + (rng.uniform(0.3, 1.0, m) * term).astype(np.int64), issued + term)
    # Overdue loans that are neither cured nor written off are repaid late.
    settled = np.where(overdue & ~cured, np.where(write_off, NEVER, onset + rng.integers(60, 400, m)), settled)
    base = Loans(who, lender, np.round(principal * 100).astype(np.int64), issued, term, onset, cured_on, written_off, settled)
    return _concat(base, _case_loans(rng, pop, cases))


def _case_loans(rng: np.random.Generator, pop: Population, cases: Cases) -> Loans:
    """The bank's own overdue loan behind a bank case, and other overdue loans of non-payers."""
    out = cases.out
    bank_case = np.flatnonzero(cases.applicant_kind == 2)
    non_payer = ~out.performs & ~out.transferred
    extra = np.flatnonzero((cases.applicant_kind != 2) & (rng.random(cases.n) < np.where(non_payer, 0.4, 0.08)))
    c = np.r_[bank_case, extra]
    k = c.size
    is_bank = np.r_[np.ones(bank_case.size, bool), np.zeros(extra.size, bool)]
    filed = cases.filed_on[c]
    principal = np.where(is_bank, cases.claim[c] / rng.uniform(1.0, 1.25, k),
                         30_000_00 * np.exp(0.7 * rng.standard_normal(k))).astype(np.int64)
    term = (rng.choice([12, 24, 36, 60], k) * 30.44).astype(np.int64)
    onset = filed - rng.integers(90, 360, k)
    issued = onset - (rng.uniform(0.2, 0.9, k) * term).astype(np.int64) - 30
    pays = (out.performs[c] | np.isin(out.closure[c], [0, 1])) & ~out.transferred[c]
    settled = np.where(pays, np.maximum(out.closed_on[c], filed + 1), NEVER)
    written_off = np.where(~pays, onset + rng.integers(181, 400, k), NEVER)
    written_off = np.where(settled < written_off, NEVER, written_off)
    lender = np.where(is_bank, cases.applicant[c], rng.integers(0, _LENDERS.size, k))
    return Loans(cases.primary[c], lender, np.maximum(principal, 100_000), issued, term, onset,
                 np.full(k, NEVER), written_off, settled)


def _concat(a: Loans, b: Loans) -> Loans:
    return Loans(*(np.concatenate([getattr(a, f), getattr(b, f)]) for f in Loans.__dataclass_fields__))


def loans_table(rng: np.random.Generator, ln: Loans, pop: Population, cal: Calendar) -> pa.Table:
    """finance/loans: one snapshot per loan and month end inside the finance window."""
    first_m = clock.month_index(np.maximum(ln.issued_on, cal.finance_start))
    last_day = np.minimum.reduce([ln.settled_on, ln.written_off_on + 90, np.full(ln.issued_on.size, cal.last_dt)])
    last_m = clock.month_index(np.minimum(last_day, cal.last_dt + 40))
    # The settling month still gets its final snapshot, if its month end has passed.
    last_m = np.where(clock.month_end(last_m) > cal.last_dt, last_m - 1, last_m)
    count = np.maximum(last_m - first_m + 1, 0)
    loan = np.repeat(np.arange(ln.issued_on.size), count)
    month = np.repeat(first_m, count) + np.arange(loan.size) - np.repeat(np.cumsum(count) - count, count)
    as_of = clock.month_end(month)
    keep = (as_of >= ln.issued_on[loan]) & (as_of >= cal.finance_start)
    loan, as_of = loan[keep], as_of[keep]

    issued, term = ln.issued_on[loan], ln.term_days[loan]
    principal = ln.principal[loan]
    onset, cured = ln.overdue_from[loan], ln.cured_on[loan]
    is_settled = as_of >= ln.settled_on[loan]
    is_written = as_of >= ln.written_off_on[loan]
    is_overdue = (as_of >= onset) & (as_of < cured) & ~is_settled
    amortised = np.clip(1 - (as_of - issued) / term, 0.02, 1.0) * principal
    frozen = np.clip(1 - (onset - issued) / term, 0.02, 1.0) * principal
    outstanding = np.where(is_settled, 0, np.where(is_overdue, frozen * 1.05, amortised))
    overdue_days = np.where(is_overdue, as_of - onset, 0)
    status = np.select([is_settled, is_written & is_overdue, is_overdue], [3, 2, 1], 0)
    loan_id = pc.binary_join_element_wise("LN", pa.array(_LENDERS[ln.lender]),
                                          pc.utf8_lpad(pa.array(np.arange(ln.issued_on.size)).cast(pa.string()), 9, "0"), "")
    order = np.lexsort((loan, as_of))
    take = lambda x: x[order]
    date = lambda d: pa.array(np.asarray(d, dtype=np.int32)).cast(pa.date32())
    loan, as_of = take(loan), take(as_of)
    return pa.table({
        "loan_id": pc.take(loan_id, pa.array(loan)),
        "borrower_id": pc.take(pop.id_number, pa.array(ln.borrower[loan])),
        "lender_code": pa.array(_LENDERS[ln.lender[loan]]),
        "principal": pa.array(ln.principal[loan]),
        "issued_on": date(ln.issued_on[loan]),
        "maturity_on": date(ln.issued_on[loan] + ln.term_days[loan]),
        "as_of": date(as_of),
        "outstanding": pa.array(np.round(take(outstanding)).astype(np.int64)),
        "overdue_days": pa.array(take(overdue_days).astype(np.int64)),
        "status": pa.array(STATUS[take(status)]),
        "_deliver": pa.array((as_of + rng.integers(1, 6, as_of.size)).astype(np.int32)),
    })
