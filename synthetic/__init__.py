"""Synthetic landing zone for zhixing: `generate(out_dir, persons, seed, ...)`.

Writes `<out_dir>/landing/<domain>/<dataset>/dt=YYYY-MM-DD/...` exactly as the
source data contract describes, and `<out_dir>/truth/` with what really
happened. One latent model per person drives every domain and every case
outcome, so a model can learn execution risk from pre-filing traces and a
pipeline that leaks post-filing data looks suspiciously good.

With `leakage_traps=True` every record is delivered in the batch of its event
day, and most cases filed in the nightly batches get records dated on and
after their filing day (`traps.py`, listed in `truth/leakage_traps.csv`): the
data set for showing that gold features ignore what happened after filing.

Always, some debtors of cases closed as "terminated, no assets" come into
money again inside the nightly window (`reappear.py`, listed in
`truth/asset_reappearance.csv`): the data set for the asset watch.
"""

from __future__ import annotations

import logging
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from . import assets, court, ecommerce, finance, loans, marriage, population, social, transactions, truth
from . import persons as registry
from .clock import Calendar
from .delivery import FaultPlan, deliver_dataset
from .reappear import Reappearance
from .schema import DATASETS
from .traps import LeakageTraps

__all__ = ["generate", "Volumes", "DATASETS"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Volumes:
    """Per-person rates and history windows; the defaults fit the committed sample in 20 MB."""

    cases_per_person: float = 0.4
    label_1_rate: float = 0.45
    transactions_per_account_year: float = 0.5
    loans_per_person: float = 0.25
    orders_per_person_year: float = 1.6
    outsider_share: float = 0.08
    finance_months: int = 36
    orders_months: int = 30


def generate(out_dir: str | Path, persons: int, seed: int, *, backfill_dt: str = "2026-10-31",
             daily_batches: int = 6, messy: bool = False, faults: bool = False,
             volumes: Volumes = Volumes(), compresslevel: int | None = None, workers: int = 2,
             leakage_traps: bool = False) -> dict:
    """Write the landing zone and the truth; returns counts per dataset and batch.

    `compresslevel` defaults to 6 (small files for a committed sample) up to 200,000
    persons and to 1 above, where zlib would otherwise dominate the run time.
    `leakage_traps` delivers every record on its event day and plants records on and
    after the filing day of most nightly cases (see `traps.py`); off, the output is
    byte for byte what it was before the mode existed.
    """
    if compresslevel is None:
        compresslevel = 6 if persons <= 200_000 else 1
    out = Path(out_dir)
    for sub in ("landing", "truth"):
        shutil.rmtree(out / sub, ignore_errors=True)
    cal = Calendar.build(backfill_dt, daily_batches, volumes.finance_months, volumes.orders_months)
    root = np.random.SeedSequence(seed)
    rngs = dict(zip(("pop", "ver", "mar", "court", "assets", "acc", "bal", "txn", "loan", "shop", "social",
                     "tables"), (np.random.default_rng(s) for s in root.spawn(12))))
    clock_ = _Stopwatch()

    pop = population.draw_population(rngs["pop"], persons, cal.backfill_dt)
    ver = registry.draw_versions(rngs["ver"], pop, cal)
    couples = marriage.draw_couples(rngs["mar"], pop, cal)
    clock_.lap("population", pop.n)
    cases = court.draw_cases(rngs["court"], pop, ver, couples, cal, volumes.cases_per_person,
                             volumes.label_1_rate, messy)
    reunite = np.zeros(couples.husband.size, bool)
    reunite_on = np.zeros(couples.husband.size, np.int64)
    reunite[cases.reunite_rows], reunite_on[cases.reunite_rows] = True, cases.reunite_on
    couples = marriage.add_remarriages(rngs["mar"], couples, pop, cal, reunite, reunite_on)
    clock_.lap("cases", cases.n)
    traps = None
    if leakage_traps:
        # Its own stream, spawned after the others: the default draws stay exactly as they were.
        traps = LeakageTraps(np.random.default_rng(root.spawn(1)[0]), pop, ver, cases, cal)
        cases, couples = traps.court(cases), traps.couples(couples)
        clock_.lap("leakage traps: cases trapped", traps.n)

    # Each table is written as soon as it exists and then dropped: writing (Arrow kernels,
    # zlib) releases the GIL and overlaps with generating the next one, and peak memory
    # holds a few tables, not all fourteen.
    plan = FaultPlan.build(faults, daily_batches)
    landing = out / "landing"
    pool = ThreadPoolExecutor(max_workers=workers)
    pending = {}

    def deliver(name: str, table: pa.Table) -> None:
        if traps is not None:
            table = traps.deliver(name, table)
        clock_.lap(f"table {name}", table.num_rows)
        # Back-pressure: do not build more tables than the writers can take.
        for earlier in [f for f in pending.values() if not f.done()][: max(0, len(pending) - workers)]:
            earlier.result()
        pending[name] = pool.submit(deliver_dataset, landing, DATASETS[name], table, cal, messy, plan, seed,
                                    compresslevel)

    persons_table = registry.persons_table(pop, ver)
    deliver("population/persons", traps.person_versions(persons_table) if traps else persons_table)
    deliver("marriage/registrations", marriage.registrations_table(rngs["tables"], couples, pop, ver, cal))
    deliver("court/cases", court.cases_table(cases))
    deliver("court/parties", court.parties_table(cases, pop, ver))
    deliver("court/closures", court.closures_table(rngs["tables"], cases, cal))
    deliver("court/dishonest", court.dishonest_table(cases, pop, cal))
    acc = finance.draw_accounts(rngs["acc"], pop, cases, cal)
    acc = traps.accounts(acc) if traps else acc
    # Its own stream, seeded from the seed alone: every other draw stays as it was.
    rejected = {plan.manifest_mismatch[0]: cal.daily_dts[plan.manifest_mismatch[1]]} if plan.manifest_mismatch else {}
    reappear = Reappearance(seed, pop, ver, cases, acc, cal, on_time=leakage_traps, rejected=rejected)
    clock_.lap("asset reappearance: cases", reappear.n_cases)
    deliver("finance/accounts", finance.accounts_table(rngs["acc"], acc, pop, cal))
    deliver("finance/balances", finance.balances_table(rngs["bal"], acc, pop, cases, cal))
    txns = transactions.transactions_table(rngs["txn"], acc, pop, cases, cal, volumes.transactions_per_account_year)
    deliver("finance/transactions", reappear.transactions(traps.transactions(txns) if traps else txns, acc))
    deliver("finance/loans", loans.loans_table(rngs["loan"], loans.draw_loans(rngs["loan"], pop, cases, cal,
                                                                             volumes.loans_per_person), pop, cal))
    held = assets.draw_assets(rngs["assets"], pop, ver, cases, cal)
    held = traps.assets(held) if traps else held
    deliver("finance/assets", reappear.assets(assets.assets_table(rngs["assets"], held, pop, cal), held.owner.size))
    orders, order_owner = ecommerce.orders_table(rngs["shop"], pop, ver, cases, cal, volumes.orders_per_person_year,
                                                 volumes.outsider_share)
    if traps:
        orders, order_owner = traps.orders(orders, order_owner)
    order_ids = orders.column("order_id").combine_chunks()
    deliver("ecommerce/orders", orders)
    social_accounts, account_owner, links = social.draw_social(rngs["social"], pop, ver, cases, cal,
                                                               volumes.outsider_share, messy)
    if traps:
        social_accounts, account_owner, links = traps.social(social_accounts, account_owner, links)
    account_ids = social_accounts.column("account_id").combine_chunks()
    deliver("social/accounts", social_accounts)
    deliver("social/links", links)
    del orders, social_accounts, links, txns, held
    clock_.lap("all tables built", 0)
    results = {name: pending[name].result() for name in DATASETS}
    pool.shutdown()
    fault_rows = [f for name in DATASETS for f in results[name][0]]
    counts = {name: results[name][1] for name in DATASETS}
    clock_.lap("landing files", sum(sum(c.values()) for c in counts.values()))

    trap_rows = traps.rows() if traps else None
    labels = truth.write_truth(out / "truth", pop, cases, cal, (order_ids, order_owner), (account_ids, account_owner),
                               fault_rows, trap_rows, reappear.rows())
    clock_.lap("truth", cases.n)
    extra = {"leakage_traps": len(trap_rows["case_no"])} if trap_rows else {}
    return {"persons": pop.n, "cases": cases.n, "faults": len(fault_rows), "rows": counts, **labels, **extra,
            "reappearance_cases": reappear.n_cases, "reappearance_events": reappear.n_events}


class _Stopwatch:
    """One log line per stage: rows out and seconds."""

    def __init__(self) -> None:
        self._t = time.perf_counter()

    def lap(self, stage: str, rows: int) -> None:
        now = time.perf_counter()
        log.info("stage=%s rows=%d seconds=%.1f", stage, rows, now - self._t)
        self._t = now
