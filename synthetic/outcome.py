"""Case outcomes: the true probability of execution risk, the sampled outcome,
the closure it leads to, and the dishonest-debtor listings that follow.

Label 1 (contract section 4) means "not performed within 180 days". Its true
probability is a logistic function of the respondents' latent factors and of
facts a pipeline can observe before filing (claim against wealth, prior cases,
paper divorces and disposals). The intercept is solved so the mean
probability hits a target rate, which keeps the label mix stable across sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .clock import HORIZON_DAYS
from .latent import sigmoid

CLOSURES = np.array(["executed_in_full", "settled", "terminated_no_assets", "terminated_other", "transferred"])
EXECUTED, SETTLED, NO_ASSETS, OTHER_TERMINATION, TRANSFERRED = range(5)
GROUNDS = np.array(["refuses_with_ability", "obstructs", "conceals_assets", "false_declaration",
                    "violates_consumption_ban", "breaks_settlement"])
NEVER = np.iinfo(np.int64).max // 4

# Effects on the log-odds of label 1, one per cause (CAUSES order in court.py):
# labour claims are paid first; bank loans are big and the debtor usually has more.
CAUSE_EFFECT = np.array([0.1, 0.25, -0.1, -0.4, 0.0, 0.0])


@dataclass
class Outcome:
    probability: np.ndarray
    performs: np.ndarray       # performed within H days (label 0)
    transferred: np.ndarray
    closure: np.ndarray        # index into CLOSURES, -1 = never closes
    closed_on: np.ndarray      # true closing day, NEVER if it never closes
    recovered: np.ndarray      # cents


def evasion_flags(rng: np.random.Generator, will: np.ndarray, distress: np.ndarray,
                  log_claim_ratio: np.ndarray) -> np.ndarray:
    """Whether the primary respondent hides assets before the filing."""
    return rng.random(will.size) < sigmoid(-3.1 - 1.1 * will + 0.5 * distress + 0.3 * log_claim_ratio)


def draw_outcome(rng: np.random.Generator, filed_on: np.ndarray, claim_cents: np.ndarray, cause: np.ndarray,
                 will_mean: np.ndarray, wealth_max: np.ndarray, distress: np.ndarray, log_claim_ratio: np.ndarray,
                 prior_cases: np.ndarray, evasion: np.ndarray, n_respondents: np.ndarray,
                 target_rate: float) -> Outcome:
    n = filed_on.size
    eta = (-1.2 * will_mean - 0.55 * wealth_max + 0.45 * log_claim_ratio + 0.4 * np.minimum(prior_cases, 3)
           + 0.75 * distress + 1.2 * evasion + CAUSE_EFFECT[cause] - 0.3 * (n_respondents - 1)
           + 0.3 * rng.standard_normal(n))
    probability = sigmoid(eta + _intercept(eta, target_rate))
    performs = rng.random(n) >= probability
    transferred = rng.random(n) < 0.03

    closure = np.full(n, -1)
    days = np.full(n, NEVER)
    share = np.zeros(n)
    paid_kind = np.where(rng.random(n) < 0.62, EXECUTED, SETTLED)
    paid_share = np.where(paid_kind == EXECUTED, 1.0, rng.uniform(0.55, 0.95, n))

    on_time = performs & ~transferred
    closure[on_time] = paid_kind[on_time]
    days[on_time] = np.minimum(7 + rng.gamma(2.0, 30.0, n), HORIZON_DAYS - 2).astype(np.int64)[on_time]
    share[on_time] = paid_share[on_time]

    late = ~performs & ~transferred
    u = rng.random(n)
    no_assets, other, paid_late = late & (u < 0.5), late & (u >= 0.5) & (u < 0.62), late & (u >= 0.62) & (u < 0.8)
    closure[no_assets], closure[other], closure[paid_late] = NO_ASSETS, OTHER_TERMINATION, paid_kind[paid_late]
    days[no_assets] = (60 + rng.gamma(2.5, 45.0, n)).astype(np.int64)[no_assets]
    days[other] = (30 + rng.gamma(2.0, 60.0, n)).astype(np.int64)[other]
    days[paid_late] = (HORIZON_DAYS + 1 + rng.gamma(2.0, 120.0, n)).astype(np.int64)[paid_late]
    share[no_assets] = (rng.uniform(0, 0.25, n) * (rng.random(n) < 0.5))[no_assets]
    share[other] = (rng.uniform(0, 0.3, n) * (rng.random(n) < 0.3))[other]
    share[paid_late] = paid_share[paid_late]

    closure[transferred] = TRANSFERRED
    days[transferred] = (10 + rng.gamma(2.0, 20.0, n)).astype(np.int64)[transferred]
    closed_on = np.where(days < NEVER, filed_on + days, NEVER)
    recovered = np.round(claim_cents * share).astype(np.int64)
    return Outcome(probability, performs, transferred, closure, closed_on, recovered)


def _intercept(eta: np.ndarray, target_rate: float) -> float:
    lo, hi = -15.0, 15.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if sigmoid(eta + mid).mean() < target_rate:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def label_at(filed_on: np.ndarray, closure: np.ndarray, closed_on: np.ndarray, as_of: int) -> np.ndarray:
    """The contract's label at data as-of date T: '0', '1', 'excluded' or 'censored'."""
    known = closed_on <= as_of
    within = known & (closed_on <= filed_on + HORIZON_DAYS)
    paid = within & np.isin(closure, [EXECUTED, SETTLED])
    failed = within & np.isin(closure, [NO_ASSETS, OTHER_TERMINATION])
    excluded = known & (closure == TRANSFERRED)
    expired = ~within & (as_of >= filed_on + HORIZON_DAYS)
    return np.select([excluded, paid, failed, expired], ["excluded", "0", "1", "1"], "censored")


@dataclass
class Listings:
    """court/dishonest rows before formatting: one per listed respondent of a case."""

    case: np.ndarray
    person: np.ndarray
    listed_on: np.ndarray
    delisted_on: np.ndarray   # NEVER while listed
    ground: np.ndarray


def draw_listings(rng: np.random.Generator, resp_case: np.ndarray, resp_person: np.ndarray,
                  is_primary: np.ndarray, filed_on: np.ndarray, out: Outcome, evasion: np.ndarray,
                  wealth: np.ndarray) -> Listings:
    """Non-payers are listed weeks after filing; a few payers are listed and then delisted when they pay."""
    m = resp_case.size
    f, c, closed = filed_on[resp_case], out.closure[resp_case], out.closed_on[resp_case]
    payer = out.performs[resp_case] & ~out.transferred[resp_case]
    non_payer = ~out.performs[resp_case] & ~out.transferred[resp_case]
    listed_non = non_payer & (rng.random(m) < np.where(is_primary, 0.6, 0.35))
    listed_pay = payer & (rng.random(m) < 0.06)
    listed_on = np.where(listed_non, f + 15 + rng.gamma(2.0, 30.0, m).astype(np.int64), f + rng.integers(10, 40, m))
    terminated = np.isin(c, [NO_ASSETS, OTHER_TERMINATION])
    listed_on = np.where(terminated & listed_non, np.minimum(listed_on, np.maximum(closed - 3, f + 1)), listed_on)
    listed_pay &= closed > listed_on + 10
    listed = listed_non | listed_pay
    paid_later = np.isin(c, [EXECUTED, SETTLED])
    delisted = np.where(paid_later & (closed > listed_on), closed + rng.integers(0, 15, m), NEVER)
    delisted = np.where((c == -1) & (rng.random(m) < 0.15), listed_on + rng.integers(730, 1100, m), delisted)

    logits = np.zeros((m, GROUNDS.size))
    logits[:, 0] = 0.8 + 1.2 * (wealth[resp_person] > 0.3)
    logits[:, 1] = -1.0
    logits[:, 2] = -1.2 + 2.5 * evasion[resp_case]
    logits[:, 3] = -1.0 + 0.8 * evasion[resp_case]
    logits[:, 4] = -0.8
    logits[:, 5] = -1.8
    ground = np.argmax(logits - np.log(-np.log(rng.random((m, GROUNDS.size)))), axis=1)
    keep = np.flatnonzero(listed)
    return Listings(resp_case[keep], resp_person[keep], listed_on[keep], delisted[keep], ground[keep])
