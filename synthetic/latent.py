"""The hidden state of each person that every domain and every case outcome
is drawn from.

Nothing here is ever written to the landing zone; it goes to `truth/` only.
Because balances, assets, loans, spending, social ties and case outcomes all
read the same few numbers, a model that sees the observable traces before a
filing can learn the outcome, and a pipeline that peeks past the filing can
see it even better.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Latent:
    """Standardised factors (mean 0, sd about 1) per person.

    wealth       stock of assets: balances, real estate, vehicles, equity.
    income       flow: spending, transaction volume, loan sizes.
    willingness  willingness to honour debts: low values default, evade, hide.
    distress     financial stress: overdue loans, becoming a judgment debtor.
    """

    wealth: np.ndarray
    income: np.ndarray
    willingness: np.ndarray
    distress: np.ndarray

    @property
    def wealth_value(self) -> np.ndarray:
        """The person's net worth in CNY, lognormal around 160k."""
        return np.exp(12.0 + 1.1 * self.wealth)


def draw_latent(rng: np.random.Generator, age_years: np.ndarray, urban: np.ndarray) -> Latent:
    """Correlated factors: wealth grows with age and city life, income follows wealth,
    distress is high for low earners, willingness is mostly personal character."""
    n = age_years.size
    age_effect = -((age_years - 50.0) / 18.0) ** 2 * 0.35 + 0.2
    wealth = 0.8 * rng.standard_normal(n) + age_effect + 0.35 * urban
    income = 0.65 * wealth + 0.75 * rng.standard_normal(n) - np.where(age_years > 62, 0.6, 0.0)
    willingness = 0.9 * rng.standard_normal(n) + 0.15 * income
    distress = -0.45 * income - 0.25 * willingness + 0.85 * rng.standard_normal(n)
    standardise = lambda x: (x - x.mean()) / (x.std() + 1e-9)
    return Latent(wealth=standardise(wealth), income=standardise(income),
                  willingness=standardise(willingness), distress=standardise(distress))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
