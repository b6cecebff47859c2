"""The list of leakage traps: what was planted for which case, found again in the delivered tables.

`traps.py` notes each trap with the columns that pick its record out of its
dataset (`match`). Once that dataset's table is final, `resolve` finds the
record and keeps its contract key for `truth/leakage_traps.csv`. A trap whose
record is not there is a generator bug: it raises rather than list a record
the landing zone does not hold.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import clock
from .schema import DATASETS

# What a leaked trap would move; names follow the feature dictionary where one exists.
WOULD_CHANGE = {
    "occupation_change": "occupation: the last registry version before filing",
    "hukou_move": "hukou_province, years_since_registration_change",
    "divorce": "marital_status, divorces_before_filing, divorced_12m, days_since_divorce",
    "marriage": "marital_status",
    "asset_disposal": "assets held at filing (counts, values, assets_value), assets_disposed_6m/12m, "
                      "disposed_to_*_value_12m",
    "kin_asset": "kin_assets_value",
    "account_closure": "accounts_open, banks_open, accounts_closed_90d/12m",
    "transfer_to_person": "outflow_12m, transfers_to_persons_90d, transfers_to_persons_count_90d, transfers_to_kin_90d",
    "luxury_order": "spend_luxury_3m/12m, spend_3m/12m, orders_12m, luxury_share_12m, days_since_last_order",
    "dishonest_listing": "dishonest_at_filing, dishonest_listings, days_since_dishonest_listing",
    "prior_case_closure": "prior_cases_open, prior_cases_no_assets, prior_cases_performed",
    "social_account": "social accounts resolved to the person (social_match_confidence, contacts_*)",
    "social_link": "contacts_total, contacts_friend, contacts_dishonest",
    "loan_snapshot": "loans_outstanding, loans_overdue, max_overdue_days_24m",
    "balance_snapshot": "deposit_*: the last quarter-end balance before filing",
}


class TrapLedger:
    """Traps by the index `i` of their trapped case; see the module docstring."""

    def __init__(self) -> None:
        self._traps: list[dict] = []

    def add(self, i: np.ndarray, trap: str, dataset: str, column: str, days: np.ndarray, match: list[dict]) -> None:
        """One trap per element: trapped case `i`, its record's event `column` on `days`, found by `match`
        (column -> value as the table shows it cast to text; the first column should be selective)."""
        for t, day, m in zip(np.asarray(i).tolist(), np.asarray(days).tolist(), match):
            self._traps.append({"i": t, "trap": trap, "dataset": dataset, "column": column, "day": day, "match": m})

    def resolve(self, name: str, table: pa.Table) -> None:
        """Find each trap's record in the delivered table and note its key; a trap with no record is a bug."""
        pending = [t for t in self._traps if t["dataset"] == name]
        if not pending:
            return
        by_anchor = defaultdict(list)
        for t in pending:
            by_anchor[next(iter(t["match"]))].append(t)
        key = DATASETS[name].key
        for anchor, traps in by_anchor.items():
            values = pa.array(sorted({t["match"][anchor] for t in traps}), pa.string())
            found = table.filter(pc.is_in(table.column(anchor).cast(pa.string()), value_set=values))
            wanted = set(key).union(*(t["match"] for t in traps))
            text = {c: found.column(c).cast(pa.string()).to_pylist() for c in wanted}
            index = defaultdict(list)
            for record in (dict(zip(text, vals)) for vals in zip(*text.values())):
                index[record[anchor]].append(record)
            for t in traps:
                hit = [r for r in index[t["match"][anchor]] if all(r[c] == v for c, v in t["match"].items())]
                if not hit:
                    raise RuntimeError(f"leakage trap {t['trap']} has no record in {name}: {t['match']}")
                t["key"] = "|".join(hit[0][k] for k in key)

    def rows(self, case_no: list[str], filed_on: np.ndarray, respondent_id: list[str],
             case_order: np.ndarray) -> dict[str, list]:
        """The columns of truth/leakage_traps.csv, by filing date and case; arguments are per trapped case."""
        missing = [t for t in self._traps if "key" not in t]
        if missing:
            raise RuntimeError(f"leakage traps never delivered: {missing[:3]}")
        traps = sorted(self._traps, key=lambda t: (filed_on[t["i"]], int(case_order[t["i"]]), t["dataset"], t["day"]))
        return {
            "case_no": [case_no[t["i"]] for t in traps],
            "filed_on": [clock.iso(filed_on[t["i"]]) for t in traps],
            "respondent_id": [respondent_id[t["i"]] for t in traps],
            "trap": [t["trap"] for t in traps],
            "timing": ["on_filing_day" if t["day"] == filed_on[t["i"]] else "after_filing" for t in traps],
            "dataset": [t["dataset"] for t in traps],
            "record_key": [t["key"] for t in traps],
            "event_column": [t["column"] for t in traps],
            "event_date": [clock.iso(t["day"]) for t in traps],
            "would_change": [WOULD_CHANGE[t["trap"]] for t in traps],
        }
