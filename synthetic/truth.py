"""Ground truth that the pipeline never reads: what really happened.

Tests and evaluations compare against it: the true probability and outcome of
each case, the true owner of each order and social account, every injected
fault, and the latent factors behind it all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import clock, outcome
from .clock import Calendar
from .court import CAUSES, COURTS, Cases
from .population import Population
from .writer import write_plain_csv

FAULT_COLUMNS = ("dataset", "dt", "file", "row", "kind", "reason", "column", "detail")


def write_truth(folder: Path, pop: Population, cases: Cases, cal: Calendar, order_owner: tuple[pa.Array, pa.Array],
                account_owner: tuple[pa.Array, pa.Array], fault_rows: list[dict],
                leakage_traps: dict[str, list] | None = None,
                reappearance: dict[str, pa.Array] | None = None) -> dict[str, int]:
    """Write truth/; `leakage_traps` (columns of leakage_traps.csv) only in that mode;
    `reappearance` (columns of asset_reappearance.csv, see `reappear.py`)."""
    folder.mkdir(parents=True, exist_ok=True)
    lat, out, p = pop.latent, cases.out, cases.primary
    label = outcome.label_at(cases.filed_on, out.closure, out.closed_on, cal.last_dt)
    closed = out.closed_on < outcome.NEVER
    date = lambda d, ok: pc.if_else(pa.array(ok), pa.array(np.where(ok, d, 0).astype(np.int32)).cast(pa.date32()),
                                    pa.nulls(len(ok), pa.date32()))
    write_plain_csv(folder / "case_truth.csv", {
        "case_no": cases.case_no,
        "court_code": COURTS[cases.court],
        "filed_on": date(cases.filed_on, np.ones(cases.n, bool)),
        "cause": CAUSES[cases.cause],
        "claim_amount": cases.claim / 100.0,
        "primary_id": pc.take(pop.id_number, pa.array(p)),
        "true_probability": out.probability,
        "performed_within_180": np.where(out.transferred, -1, out.performs.astype(int)),
        "closure": np.where(out.closure >= 0, outcome.CLOSURES[np.maximum(out.closure, 0)], ""),
        "closed_on": date(out.closed_on, closed),
        "closure_delivered": closed & (out.closed_on <= cal.last_dt),
        "label_at_last_dt": label,
        "evasion": cases.evasion,
        "paper_divorce": cases.divorced_on < outcome.NEVER,
        "wealth": lat.wealth[p], "income": lat.income[p], "willingness": lat.willingness[p],
        "distress": lat.distress[p],
        **cases.factors,
    })
    write_plain_csv(folder / "persons_latent.csv", {
        "id_number": pop.id_number, "wealth": lat.wealth, "income": lat.income,
        "willingness": lat.willingness, "distress": lat.distress,
    })
    write_plain_csv(folder / "order_owner.csv", {"order_id": order_owner[0], "owner_id": order_owner[1]})
    write_plain_csv(folder / "social_account_owner.csv", {"account_id": account_owner[0], "owner_id": account_owner[1]})
    write_plain_csv(folder / "faults.csv", {c: [str(f[c]) for f in fault_rows] for c in FAULT_COLUMNS})
    if reappearance is not None:
        write_plain_csv(folder / "asset_reappearance.csv", reappearance)
    readme = README.format(last_dt=clock.iso(cal.last_dt))
    if leakage_traps is not None:
        write_plain_csv(folder / "leakage_traps.csv", leakage_traps)
        readme += LEAKAGE_TRAPS_README
    (folder / "README.md").write_text(readme, encoding="utf-8")
    return {"labelled": int(np.isin(label, ["0", "1"]).sum()), "label_1": int((label == "1").sum())}


README = """# Ground truth of the synthetic landing zone

Written by `python -m synthetic` next to `landing/`. The pipeline never reads
these files; tests and model evaluations do. All files are UTF-8 CSV.

- `case_truth.csv`: one row per case.
  - `true_probability`: the probability of label 1 (not performed within 180
    days) the outcome was sampled from.
  - `performed_within_180`: the sampled outcome (1 = paid in time, 0 = not,
    -1 = transferred to another court, excluded).
  - `closure`, `closed_on`: the true closure, even if it lies after the last
    batch; `closure_delivered` says whether a batch carried it.
  - `label_at_last_dt`: the contract's label at T = {last_dt}: `0`, `1`,
    `excluded` or `censored`.
  - `evasion`, `paper_divorce`: whether the primary respondent hid assets
    before filing (divorce weeks before, assets to the ex-spouse or a relative,
    transfers, luxury spending).
  - `wealth`, `income`, `willingness`, `distress`: latent factors of the
    primary respondent (standardised); `willingness_mean`, `wealth_max`,
    `log_claim_to_worth`, `prior_cases`, `n_respondents`: the other inputs of
    the true probability.
- `persons_latent.csv`: the latent factors of every person.
- `order_owner.csv`: the true buyer of each e-commerce order; `owner_id` is
  empty for buyers outside the population.
- `social_account_owner.csv`: the true owner of each social account; empty for
  people outside the population.
- `faults.csv`: every injected fault. `row` is the 1-based data record number
  in `file` (header excluded; a quoted field may span lines). `reason` is the
  contract's reason code the pipeline should give. Batch-level faults have an
  empty `row`: `manifest_mismatch` (reject the batch), `missing_success`
  (leave it for a later run), `extra_column` (load it, report the column).
  `exact_duplicate` rows are loaded once; both `key_conflict` rows are
  quarantined.
- `asset_reappearance.csv`: debtors who come into money again. A share of the
  primary respondents of cases closed `terminated_no_assets` at least 30 days
  before the first nightly batch, with part of the claim unpaid, register a
  vehicle or real estate (`finance/assets`), receive a transfer of at least
  50,000 CNY on their everyday account (`finance/transactions`, direction
  `in`), or both, on a day inside the nightly batches. Each record arrives in
  the batch of its event day or the next one, never in the back-fill and
  never in a batch rejected whole; nothing else in the landing zone marks it.
  One row per event:
  - `case_no`, `respondent_id`, `closed_on`: the case (the respondent's latest
    such closure) and its primary respondent;
  - `kind`: `asset` or `transfer_in`; `event_date`: `acquired_on` or the day
    of `booked_at`; `amount`: declared value or amount, in CNY;
  - `record_id`: the `asset_id` or `txn_id`; `delivered_dt`: its batch;
  - `unpaid_amount`: claim minus amount recovered, in CNY.
"""

# Appended only in leakage-traps mode, so the default truth/README.md stays as committed.
LEAKAGE_TRAPS_README = """- `leakage_traps.csv`: written in leakage-traps mode (`--leakage-traps`,
  `generate(..., leakage_traps=True)`). In this mode every record is delivered
  in the batch of its event day (the latest of its event times for an update
  row): nothing arrives late and no back-dated balance correction is sent, so
  batches with dt <= D hold every record whose event time is <= D. Most cases
  filed in the nightly batches get traps: records of the primary respondent
  dated on the filing day or later inside the window, one of each
  event-time family the respondent's history allows (registry versions, a
  divorce or else a marriage, disposals, account closures, a transfer to a
  person, a luxury order under the buyer identity of an earlier order, a
  dishonest listing, the closure of an earlier case still open, a new social
  account and link; loan and balance snapshots when a month or quarter end
  falls in the window). One row per trap:
  - `case_no`, `filed_on`, `respondent_id`: the case and the respondent trapped;
  - `trap`, `timing` (`on_filing_day` or `after_filing`);
  - `dataset`, `record_key` (the dataset's key, parts joined by `|`),
    `event_column`, `event_date`: the record and the event time that makes
    it unusable for the case;
  - `would_change`: what a feature built with it would wrongly include.

  Contract section 4 uses only records with event time strictly before
  `filed_on`, so features of a trapped case are the same whether or not the
  batches after `filed_on` are ingested. Traps on the filing day itself sit in
  the same batch as the case, so they catch `<=` instead of `<`, not missing
  batches: check them against this file.
"""
