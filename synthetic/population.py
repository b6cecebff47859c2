"""Who lives in the region: households, identity numbers, names, phones.

People are generated household by household (head, spouse, adult children,
an elderly parent) so that relatives exist for the things debtors really do:
hand a flat to a son, divorce a wife on paper, let grandma use a child's phone.
Time-varying attributes (address, phone, job) live in `persons.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from . import clock, ids, names
from .arrays import flat
from .latent import Latent, draw_latent

# Household-registration regions: the five court districts first, then the rest of
# Xuzhou, then places migrants come from. Codes are real GB/T 2260 county codes.
COURT_REGIONS = np.array([320312, 320302, 320311, 320322, 320381])
OTHER_XUZHOU = np.array([320303, 320305, 320321, 320324, 320382])
ELSEWHERE = np.array([320102, 320583, 321302, 341321, 341322, 370826, 370883, 410526, 110105, 310115])
REGIONS = np.concatenate([COURT_REGIONS, OTHER_XUZHOU, ELSEWHERE])
REGION_WEIGHTS = np.concatenate([np.array([0.26, 0.16, 0.16, 0.12, 0.12]), np.full(5, 0.02), np.full(10, 0.008)])
REGION_WEIGHTS = REGION_WEIGHTS / REGION_WEIGHTS.sum()
URBAN_REGIONS = np.array([320302, 320303, 320311, 320102, 110105, 310115])

HEAD, SPOUSE, CHILD, PARENT = 0, 1, 2, 3


@dataclass
class Population:
    """One row per person, sorted by household, then role."""

    id_body: np.ndarray        # 17-digit int64
    id_number: pa.Array        # 18-char strings
    male: np.ndarray
    birth: np.ndarray          # day numbers
    surname: np.ndarray        # index into names.SURNAMES
    name: pa.Array             # name at first registration
    household: np.ndarray
    role: np.ndarray
    region: np.ndarray         # household-registration region at first registration
    urban: np.ndarray
    phone: np.ndarray          # first phone, 0 = none
    latent: Latent

    @property
    def n(self) -> int:
        return self.male.size

    @property
    def household_first(self) -> np.ndarray:
        """Index of the first member of each person's household."""
        starts = np.r_[True, self.household[1:] != self.household[:-1]]
        return np.maximum.accumulate(np.where(starts, np.arange(self.n), 0))

    @property
    def household_size(self) -> np.ndarray:
        first = self.household_first
        counts = np.bincount(first, minlength=self.n)
        return counts[first]

    def spouse_of_head(self) -> np.ndarray:
        """For each person the index of the household's spouse if the person is its head (else -1)."""
        nxt = np.r_[np.arange(1, self.n), 0]
        has = (self.role == HEAD) & (self.role[nxt] == SPOUSE) & (self.household[nxt] == self.household)
        return np.where(has, nxt, -1)

    def relative(self, rng: np.random.Generator, who: np.ndarray) -> np.ndarray:
        """A random other member of each person's household, or -1 for people living alone."""
        first, size = self.household_first[who], self.household_size[who]
        offset = rng.integers(1, np.maximum(size, 2), who.size)
        rel = first + (who - first + offset) % np.maximum(size, 1)
        return np.where(size > 1, rel, -1)

    def age_at(self, days: np.ndarray | int, who: np.ndarray | None = None) -> np.ndarray:
        birth = self.birth if who is None else self.birth[who]
        return (np.asarray(days) - birth) / 365.25


def draw_population(rng: np.random.Generator, n_persons: int, as_of: int) -> Population:
    """Households until `n_persons` people exist; the last household may be cut short."""
    n_house = int(n_persons / 2.0) + 16
    latest_adult = clock.day("2008-10-31")  # everyone in the extract holds an ID card

    head_male = rng.random(n_house) < 0.88
    head_age = 20.0 + 62.0 * rng.beta(1.7, 2.3, n_house)
    head_birth = as_of - clock.years_to_days(head_age) - rng.integers(0, 365, n_house)
    has_spouse = head_male & (head_age >= 24) & (rng.random(n_house) < 0.76)
    spouse_birth = np.minimum(head_birth + clock.years_to_days(rng.normal(2.0, 2.5, n_house)), latest_adult - 800)
    born_early = head_birth <= clock.day("1982-01-01")
    n_children = np.where(has_spouse & born_early, rng.choice(3, n_house, p=[0.3, 0.45, 0.25]), 0)
    has_parent = (head_birth >= clock.day("1968-01-01")) & (rng.random(n_house) < 0.22)
    region = REGIONS[rng.choice(REGIONS.size, n_house, p=REGION_WEIGHTS)]
    head_surname = names.draw_surnames(rng, n_house)

    house = np.arange(n_house)
    child_house = np.repeat(house, n_children)
    child_birth = head_birth[child_house] + clock.years_to_days(rng.uniform(23, 34, child_house.size))
    keep_child = child_birth <= latest_adult
    child_house, child_birth = child_house[keep_child], child_birth[keep_child]
    parent_house = house[has_parent]
    spouse_house = house[has_spouse]

    hh = np.concatenate([house, spouse_house, child_house, parent_house])
    role = np.concatenate([np.full(n_house, HEAD), np.full(spouse_house.size, SPOUSE),
                           np.full(child_house.size, CHILD), np.full(parent_house.size, PARENT)])
    birth = np.concatenate([head_birth, spouse_birth[spouse_house], child_birth,
                            head_birth[parent_house] - clock.years_to_days(rng.uniform(24, 32, parent_house.size))])
    male = np.concatenate([head_male, np.zeros(spouse_house.size, bool), rng.random(child_house.size) < 0.5,
                           rng.random(parent_house.size) < 0.4])
    own_surname = names.draw_surnames(rng, hh.size)
    # Children and fathers carry the head's surname; wives and mothers keep their own.
    takes_head = (role == HEAD) | (role == CHILD) | ((role == PARENT) & male)
    surname = np.where(takes_head, head_surname[hh], own_surname)

    order = np.lexsort((role, hh))[:n_persons]
    hh, role, birth, male, surname = hh[order], role[order], birth[order], male[order], surname[order]
    birth = np.maximum(birth, clock.day("1930-01-01"))
    home = region[hh]
    migrant = rng.random(hh.size) < np.where(role == CHILD, 0.02, 0.18)
    id_region = np.where(migrant, REGIONS[rng.integers(0, REGIONS.size, hh.size)], home)
    seq = ids.unique_sequences(rng, id_region, birth, male)
    body = ids.id_body(id_region, birth, seq)

    urban = np.isin(home, URBAN_REGIONS) | (rng.random(hh.size) < 0.25)
    age = (as_of - birth) / 365.25
    latent = draw_latent(rng, age, urban.astype(float))
    household_phone = _first_phones(rng, hh, role, age)
    return Population(
        id_body=body, id_number=flat(ids.format_ids(body)), male=male, birth=birth, surname=surname,
        name=flat(names.full_names(rng, surname, male)), household=hh, role=role, region=home, urban=urban,
        phone=household_phone, latent=latent,
    )


def _first_phones(rng: np.random.Generator, hh: np.ndarray, role: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Most adults own a number; many elderly parents and a few wives use the head's."""
    n = hh.size
    own = rng.random(n) < np.where(age < 65, 0.97, 0.72)
    phone = np.where(own, ids.unique_phones(rng, n), 0)
    starts = np.r_[True, hh[1:] != hh[:-1]]
    head_idx = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    head_phone = phone[head_idx]
    shares = ((role == PARENT) & ~own & (rng.random(n) < 0.85)) | ((role == SPOUSE) & (rng.random(n) < 0.03))
    return np.where(shares & (head_phone > 0), head_phone, phone)
