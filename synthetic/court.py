"""Enforcement cases: who owes whom, filed where and when, and how it ended.

Respondents are drawn from the population with a propensity driven by
distress and low willingness, so some debtors collect several cases over the
years. Applicants are people (often the wealthier, sometimes debtors
themselves), companies or banks. Evasion before a filing is decided here
and carried out by the other domains (divorce here, disposals in
`assets.py`, transfers in `finance.py`, spending in `ecommerce.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import clock, ids, names, outcome
from .arrays import cumcount, flat
from .clock import DAY_SECONDS, Calendar
from .marriage import Couples, divorce_before
from .persons import Versions
from .population import Population

CAUSES = np.array(["private_lending", "financial_loan", "sales_contract", "labor", "tort", "other"])
APPLICANT_KINDS = np.array(["person", "company", "bank"])
COURTS = np.array(["苏0312", "苏0302", "苏0311", "苏0322", "苏0381"])
_REGION_COURT = {320312: 0, 320305: 0, 320302: 1, 320303: 1, 320311: 2, 320322: 3, 320321: 3,
                 320381: 4, 320382: 4, 320324: 4}
# Median claim in CNY and log-sd, per cause.
_CLAIM = np.array([[60_000, 1.0], [80_000, 0.9], [120_000, 1.1], [25_000, 0.7], [40_000, 1.0], [30_000, 1.0]])


@dataclass
class Cases:
    filed_on: np.ndarray
    court: np.ndarray
    cause: np.ndarray
    claim: np.ndarray           # cents
    applicant_kind: np.ndarray
    applicant: np.ndarray       # person, company or bank index by kind
    primary: np.ndarray
    resp_case: np.ndarray       # long table of respondents
    resp_person: np.ndarray
    prior_cases: np.ndarray
    evasion: np.ndarray
    evasion_target: np.ndarray  # who got the assets: ex-spouse, relative, friend (-1 none)
    divorced_on: np.ndarray     # paper divorce day, NEVER if none
    out: outcome.Outcome
    listings: outcome.Listings
    case_no: pa.Array
    company_id: np.ndarray
    company_name: np.ndarray
    factors: dict               # case-level inputs of the true probability, for truth/
    reunite_rows: np.ndarray    # couple rows that marry again after a paper divorce
    reunite_on: np.ndarray

    @property
    def n(self) -> int:
        return self.filed_on.size


def draw_cases(rng: np.random.Generator, pop: Population, ver: Versions, couples: Couples, cal: Calendar,
               cases_per_person: float, target_rate: float, messy: bool) -> Cases:
    lat = pop.latent
    n = int(round(cases_per_person * pop.n))
    weight = np.exp(0.75 * lat.distress - 0.45 * lat.willingness - 0.2 * lat.wealth) * (pop.age_at(cal.last_dt) >= 22)
    primary = rng.choice(pop.n, n, p=weight / weight.sum())
    filed = _filing_days(rng, n, cal)
    filed = np.maximum(filed, clock.birthday_after(pop.birth[primary], 20) + rng.integers(0, 365, n))
    keep = filed <= cal.last_dt
    primary, filed = primary[keep], filed[keep]
    filed = _ensure_daily_cases(rng, filed, cal)
    order = np.lexsort((rng.random(filed.size), filed))
    primary, filed = primary[order], filed[order]
    n = filed.size

    kind = rng.choice(3, n, p=[0.45, 0.33, 0.22])
    cause = np.select([kind == 2, kind == 1],
                      [np.ones(n, int), rng.choice([2, 5, 4], n, p=[0.6, 0.25, 0.15])],
                      rng.choice([0, 3, 4, 5], n, p=[0.55, 0.15, 0.15, 0.15]))
    median, sd = _CLAIM[cause, 0], _CLAIM[cause, 1]
    claim_yuan = median * np.exp(sd * rng.standard_normal(n) + 0.3 * lat.wealth[primary])
    claim = np.maximum(np.round(claim_yuan * 100), 100_000).astype(np.int64)
    claim = np.where(rng.random(n) < 0.4, claim // 10_000 * 10_000, claim)  # many claims are round sums

    at_filing = filed * DAY_SECONDS
    hukou = ver.hukou[ver.at(primary, at_filing)]
    court = np.array([_REGION_COURT.get(int(r), -1) for r in np.unique(hukou)])[np.searchsorted(np.unique(hukou), hukou)]
    court = np.where(court < 0, rng.choice(5, n, p=[0.3, 0.2, 0.2, 0.15, 0.15]), court)

    resp_case, resp_person = _respondents(rng, pop, couples, primary, filed)
    applicant = _applicants(rng, pop, cal, kind, primary, resp_case, resp_person)
    n_resp = np.bincount(resp_case, minlength=n)
    will_mean = np.bincount(resp_case, lat.willingness[resp_person], minlength=n) / n_resp
    wealth_max = np.full(n, -np.inf)
    np.maximum.at(wealth_max, resp_case, lat.wealth[resp_person])
    worth = np.exp(12.0 + 1.1 * wealth_max)
    log_claim_ratio = np.log(claim / 100.0) - np.log(worth)
    prior = cumcount(primary)

    evasion = outcome.evasion_flags(rng, lat.willingness[primary], lat.distress[primary], log_claim_ratio)
    divorce_day = filed - rng.integers(14, 75, n)
    wants_divorce = evasion & (rng.random(n) < 0.65)
    ex, couple_row = divorce_before(couples, np.where(wants_divorce, primary, -1), divorce_day)
    divorced_on = np.where(ex >= 0, divorce_day, outcome.NEVER)
    spouse_now = couples.spouse_at(primary, filed)
    relative = pop.relative(rng, primary)
    target = np.select([ex >= 0, spouse_now >= 0, relative >= 0], [ex, spouse_now, relative],
                       rng.integers(0, pop.n, n))
    target = np.where(target == primary, -1, target)

    out = outcome.draw_outcome(rng, filed, claim, cause, will_mean, wealth_max, lat.distress[primary],
                               log_claim_ratio, prior, evasion, n_resp, target_rate)
    is_primary = np.r_[True, resp_case[1:] != resp_case[:-1]]
    listings = outcome.draw_listings(rng, resp_case, resp_person, is_primary, filed, out, evasion, lat.wealth)

    year = clock.year_of(filed)
    # Numbers start above 1: the same sequence also numbers other enforcement matters.
    seq = cumcount(court * 10_000 + year) + 1 + rng.integers(0, 60, (COURTS.size, 3000))[court, year - 2000]
    case_no = pc.binary_join_element_wise("(", pa.array(year).cast(pa.string()), ")", pa.array(COURTS[court]),
                                          "执", pa.array(seq).cast(pa.string()), "号", "")
    n_comp = max(20, pop.n // 60)
    comp_region = np.array([320312, 320302, 320311, 320322, 320381, 320303])[rng.integers(0, 6, n_comp)]
    factors = {"n_respondents": n_resp, "willingness_mean": will_mean, "wealth_max": wealth_max,
               "log_claim_to_worth": log_claim_ratio, "prior_cases": prior}
    # Reunions after a paper divorce: the couple marries again once the case is over.
    reunite = (couple_row >= 0) & (rng.random(n) < 0.35)
    reunite_on = np.maximum(out.closed_on, filed + rng.integers(200, 700, n))
    return Cases(filed, court, cause, claim, kind, applicant, primary, resp_case, resp_person, prior, evasion,
                 target, divorced_on, out, listings, case_no, ids.uscc_codes(rng, comp_region),
                 names.company_names(rng, n_comp, messy), factors, couple_row[reunite], reunite_on[reunite])


def _filing_days(rng: np.random.Generator, n: int, cal: Calendar) -> np.ndarray:
    """Filings grow fast (courts digitised, caseloads rose), so most cases are recent; fewer at weekends."""
    days = np.arange(cal.history_start, cal.last_dt + 1)
    w = np.exp(0.6 * (days - days[0]) / 365.25) * np.where(clock.weekday(days) < 5, 1.0, 0.35)
    return rng.choice(days, n, p=w / w.sum())


def _ensure_daily_cases(rng: np.random.Generator, filed: np.ndarray, cal: Calendar, minimum: int = 2) -> np.ndarray:
    """Every nightly batch gets a few new cases, even on a quiet Sunday."""
    filed = filed.copy()
    for dt in cal.daily_dts:  # a handful of dates
        short = minimum - int((filed == dt).sum())
        pool = np.flatnonzero((filed > cal.backfill_dt - 60) & (filed <= cal.backfill_dt))
        if short > 0 and pool.size >= short:
            filed[rng.choice(pool, short, replace=False)] = dt
    return filed


def _respondents(rng: np.random.Generator, pop: Population, couples: Couples, primary: np.ndarray,
                 filed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1-3 respondents per case: the debtor, often the spouse (joint marital debt) or a guarantor."""
    n = primary.size
    count = rng.choice([1, 2, 3], n, p=[0.78, 0.17, 0.05])
    spouse = couples.spouse_at(primary, filed)
    second = np.where((spouse >= 0) & (rng.random(n) < 0.6), spouse, rng.integers(0, pop.n, n))
    third = rng.integers(0, pop.n, n)
    case = np.concatenate([np.arange(n), np.arange(n)[count >= 2], np.arange(n)[count >= 3]])
    person = np.concatenate([primary, second[count >= 2], third[count >= 3]])
    pos = np.concatenate([np.zeros(n, int), np.ones(int((count >= 2).sum()), int), np.full(int((count >= 3).sum()), 2)])
    adult = pop.age_at(filed[case], person) >= 18
    distinct = (pos == 0) | ((person != primary[case]) & ((pos == 1) | (person != second[case])))
    keep = (pos == 0) | (adult & distinct)
    order = np.lexsort((pos[keep], case[keep]))
    return case[keep][order], person[keep][order]


def _applicants(rng: np.random.Generator, pop: Population, cal: Calendar, kind: np.ndarray, primary: np.ndarray,
                resp_case: np.ndarray, resp_person: np.ndarray) -> np.ndarray:
    """Person applicants lean wealthy; one in ten is a debtor in some other case.
    A person applicant that is also a respondent of the same case becomes a company."""
    n = kind.size
    w = np.exp(0.5 * pop.latent.wealth) * (pop.age_at(cal.last_dt) >= 30)
    person = rng.choice(pop.n, n, p=w / w.sum())
    person = np.where(rng.random(n) < 0.1, primary[rng.integers(0, n, n)], person)
    clash = np.zeros(n, bool)
    np.logical_or.at(clash, resp_case, resp_person == person[resp_case])
    kind[(kind == 0) & clash] = 1
    company = rng.integers(0, max(20, pop.n // 60), n)
    bank = rng.choice(names.BANK_CODES.size, n, p=names.BANK_WEIGHTS / names.BANK_WEIGHTS.sum())
    return np.select([kind == 0, kind == 1], [person, company], bank)


def _money(cents: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(cents, dtype=np.int64))


def _date(days: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(days, dtype=np.int32)).cast(pa.date32())


def cases_table(c: Cases) -> pa.Table:
    """court/cases: delivered the day they are filed."""
    return pa.table({
        "case_no": c.case_no, "court_code": pa.array(COURTS[c.court]), "filed_on": _date(c.filed_on),
        "cause": pa.array(CAUSES[c.cause]), "claim_amount": _money(c.claim),
        "applicant_kind": pa.array(APPLICANT_KINDS[c.applicant_kind]),
        "_deliver": pa.array(c.filed_on.astype(np.int32)),
    })


def parties_table(c: Cases, pop: Population, ver: Versions) -> pa.Table:
    """court/parties: the applicant, then the respondents, each under the name the court recorded."""
    n = c.n
    is_person = c.applicant_kind == 0
    app_person = np.where(is_person, c.applicant, 0)
    app_name_person = ver.name.take(pa.array(ver.at(app_person, c.filed_on * DAY_SECONDS)))
    app_id = pc.if_else(pa.array(is_person), pc.take(pop.id_number, pa.array(app_person)),
                        pa.array(np.where(c.applicant_kind == 1, c.company_id[np.minimum(c.applicant, c.company_id.size - 1)],
                                          _BANK_USCC[np.minimum(c.applicant, _BANK_USCC.size - 1)])))
    app_name = pc.if_else(pa.array(is_person), app_name_person,
                          pa.array(np.where(c.applicant_kind == 1,
                                            c.company_name[np.minimum(c.applicant, c.company_name.size - 1)],
                                            names.BANK_NAMES[np.minimum(c.applicant, names.BANK_NAMES.size - 1)]),
                                   type=pa.string()))
    resp_name = ver.name.take(pa.array(ver.at(c.resp_person, c.filed_on[c.resp_case] * DAY_SECONDS)))
    case = np.concatenate([np.arange(n), c.resp_case])
    role = np.r_[np.zeros(n, int), np.ones(c.resp_case.size, int)]
    order = np.lexsort((np.arange(case.size), case))
    take = pa.array(order)
    return pa.table({
        "case_no": pc.take(c.case_no, pa.array(case[order])),
        "role": pa.array(np.where(role == 0, "applicant", "respondent")[order]),
        "party_kind": pa.array(np.r_[np.where(is_person, "person", "company"), np.full(c.resp_case.size, "person")][order]),
        "id_number": pc.take(pa.concat_arrays([flat(app_id), flat(pc.take(pop.id_number, pa.array(c.resp_person)))]), take),
        "name": pc.take(pa.concat_arrays([flat(app_name), flat(resp_name)]), take),
        "_deliver": pa.array(c.filed_on[case[order]].astype(np.int32)),
    })


def closures_table(rng: np.random.Generator, c: Cases, cal: Calendar) -> pa.Table:
    """court/closures: only closures that have happened by the last batch date."""
    done = np.flatnonzero(c.out.closed_on <= cal.last_dt)
    closed = c.out.closed_on[done]
    return pa.table({
        "case_no": pc.take(c.case_no, pa.array(done)),
        "closed_on": _date(closed),
        "closure": pa.array(outcome.CLOSURES[c.out.closure[done]]),
        "amount_recovered": _money(c.out.recovered[done]),
        # A closure on or before the last batch date reaches the landing zone by then, so the
        # label the truth computes at T is the label a pipeline can compute at T.
        "_deliver": pa.array(np.minimum(clock.delivery_days(closed, rng, 0.2, 2), cal.last_dt).astype(np.int32)),
        "_key": pa.array(done),
    })


def dishonest_table(c: Cases, pop: Population, cal: Calendar) -> pa.Table:
    """court/dishonest: a row when a debtor is listed, delivered again when delisted."""
    li = c.listings
    shown = li.listed_on <= cal.last_dt
    delisted = shown & (li.delisted_on <= cal.last_dt)
    row = np.r_[np.flatnonzero(shown), np.flatnonzero(delisted)]
    is_update = np.r_[np.zeros(int(shown.sum()), bool), np.ones(int(delisted.sum()), bool)]
    deliver = np.where(is_update, li.delisted_on[row], li.listed_on[row])
    order = np.lexsort((is_update, deliver))
    row, is_update, deliver = row[order], is_update[order], deliver[order]
    delisted_on = _date(np.where(is_update, li.delisted_on[row], 0))
    return pa.table({
        "id_number": pc.take(pop.id_number, pa.array(li.person[row])),
        "case_no": pc.take(c.case_no, pa.array(li.case[row])),
        "listed_on": _date(li.listed_on[row]),
        "delisted_on": pc.if_else(pa.array(is_update), delisted_on, pa.nulls(row.size, pa.date32())),
        "ground": pa.array(outcome.GROUNDS[li.ground[row]]),
        "_deliver": pa.array(deliver.astype(np.int32)),
        "_key": pa.array(row),
    })


_BANK_USCC = ids.uscc_codes(np.random.default_rng(95588), np.full(names.BANK_CODES.size, 320300))
