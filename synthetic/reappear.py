"""Debtors of "terminated, no assets" cases who come into money again.

A case closed as `terminated_no_assets` (终本) is only paused: the court ended
it because nothing could be found, and the applicant may ask to resume it as
soon as the debtor has something again. Courts therefore keep watching those
debtors. Here a share of the primary respondents of such cases, closed at
least a month before the first nightly batch with part of the debt still
unpaid, regain assets inside the nightly window: they register a car or a
flat (a new `finance/assets` record), receive a large transfer (an `in`
booking of at least 50,000 CNY on their everyday account in
`finance/transactions`), or both. Amounts are of the order of the unpaid
debt, so resuming the case would be worth it. Whoever has no everyday
account open that day is not paid in; they buy the car or the flat instead.

The share is of the eligible respondents, so the count scales with the
population; it is far above any real monthly rate so that a small sample
holds a few dozen cases for the asset watch to find. The records arrive in
the batch of their event day or, now and then, the next one, but never in a
batch the fault plan rejects whole (the watch could not see them there); in
leakage-traps mode, on their event day like everything else. Each event is a
row of `truth/asset_reappearance.csv`.

Everything draws from its own stream, seeded from the seed alone (not spawned
from the shared root, whose spawning is stateful), so every other record is
what it was without the story. New records take ids after every existing
one, so no asset or transaction is renumbered. Only the nightly batches that
receive them change, and there the injected faults, drawn from each batch's
records, sit at other rows.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import clock
from .assets import _PREFIX, ASSET_TYPES
from .clock import DAY_SECONDS, Calendar
from .court import Cases
from .finance import CHANNELS, Accounts
from .outcome import NO_ASSETS
from .persons import Versions
from .population import Population

SHARE = 0.04            # of the eligible respondents, per run of nightly batches
QUIET_DAYS = 30         # the closure lies at least this long before the first nightly batch
MIN_TRANSFER = 5_000_000  # cents: 50,000 CNY
KINDS = np.array(["asset", "transfer_in"])
_STREAM = 19            # child of SeedSequence(seed) that no other stream uses


class Reappearance:
    """Chooses the respondents, draws their events, appends the records and lists them.

    Build it once the accounts exist; `transactions` and `assets` take the built
    tables (after any leakage traps) and return them with the new rows; `rows()`
    gives the columns of the truth file.
    """

    def __init__(self, seed: int, pop: Population, ver: Versions, cases: Cases, acc: Accounts, cal: Calendar, *,
                 share: float = SHARE, on_time: bool = False, rejected: dict[str, int] | None = None) -> None:
        rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(_STREAM + 1)[_STREAM])
        self.pop, self.cal, self._case_no = pop, cal, cases.case_no
        self._rejected = {} if on_time else (rejected or {})  # on time means the event day, whatever the batch
        out = cases.out
        first = cal.daily_dts[0] if cal.daily_dts else cal.last_dt + 1
        ok = (out.closure == NO_ASSETS) & (out.closed_on <= first - QUIET_DAYS) & (out.recovered < cases.claim)
        case = np.flatnonzero(ok)
        # One story per respondent: the latest of their closed cases.
        case = case[np.lexsort((out.closed_on[case], cases.primary[case]))]
        last = np.r_[cases.primary[case][1:] != cases.primary[case][:-1], True] if case.size else np.zeros(0, bool)
        case = np.sort(case[last])
        m = case.size
        # Every draw is made for every eligible case, so the choice of one never moves another's.
        chosen = rng.random(m) < share
        story = rng.choice(3, m, p=[0.4, 0.35, 0.25])  # asset, transfer, both
        asset_day = rng.integers(first, max(first, cal.last_dt) + 1, m)
        transfer_day = rng.integers(first, max(first, cal.last_dt) + 1, m)
        late = rng.random((2, m)) < (0 if on_time else 0.15)
        estate = rng.random(m) < 0.35
        value_ratio = rng.uniform(0.6, 1.8, m)
        amount_ratio = rng.uniform(0.5, 1.5, m)
        # Small debts still meet realistic prices and the banks' large-value threshold.
        car_floor = rng.uniform(60_000, 160_000, m)
        flat_floor = rng.uniform(300_000, 900_000, m)
        transfer_floor = rng.uniform(1.0, 1.6, m) * MIN_TRANSFER / 100
        from_kin = rng.random(m) < 0.4
        kin = pop.relative(rng, cases.primary[case])
        channel = rng.choice([0, 2, 3], m, p=[0.5, 0.3, 0.2])
        second = rng.integers(9 * 3600, 17 * 3600, m)
        if cal.last_dt < first:  # no nightly batches: nothing to plant
            chosen[:] = False

        person = cases.primary[case]
        main = acc.main[person]
        account = np.maximum(main, 0)
        has_account = (main >= 0) & (acc.opened_on[account] < transfer_day) & (acc.closed_on[account] > transfer_day)
        self.transfer = chosen & (story >= 1) & has_account
        self.asset = chosen & ((story != 1) | ~has_account)  # no account to receive it: the money bought something

        unpaid = cases.claim[case] - out.recovered[case]
        value = unpaid / 100.0 * value_ratio
        estate |= value > 600_000
        value = np.maximum(value, np.where(estate, flat_floor, car_floor))
        amount = np.maximum(unpaid / 100.0 * amount_ratio, transfer_floor)
        self.case, self.person, self.unpaid = case, person, unpaid
        self.closed_on = out.closed_on[case]
        self.asset_day, self.transfer_day = asset_day, transfer_day
        self.asset_kind = np.where(estate, 0, 1)
        self.region = ver.hukou[ver.at(person, asset_day * DAY_SECONDS)]
        self.value = (np.round(value / 100) * 10_000).astype(np.int64)
        self.amount = np.maximum(np.round(amount / 1000) * 100_000, MIN_TRANSFER).astype(np.int64)
        self.account = account
        self.counterparty = np.where(from_kin, kin, -1)  # otherwise a company or an estate: no person ID
        self.channel = channel
        self.booked = transfer_day * DAY_SECONDS + second
        self.asset_deliver = self._deliver("finance/assets", asset_day, late[0])
        self.transfer_deliver = self._deliver("finance/transactions", transfer_day, late[1])
        self.asset_id = np.full(m, None, object)  # filled when the records are made
        self.txn_id = np.full(m, None, object)

    @property
    def n_cases(self) -> int:
        return int((self.asset | self.transfer).sum())

    @property
    def n_events(self) -> int:
        return int(self.asset.sum() + self.transfer.sum())

    def _deliver(self, dataset: str, day: np.ndarray, late: np.ndarray) -> np.ndarray:
        """The event day or the next (never after the last batch), avoiding a batch rejected whole."""
        deliver = np.minimum(day + late, self.cal.last_dt)
        bad = self._rejected.get(dataset)
        if bad is not None:
            other = np.where(deliver == day, np.minimum(day + 1, self.cal.last_dt), day)
            deliver = np.where(deliver == bad, other, deliver)
        return deliver

    def assets(self, table: pa.Table, n_assets: int) -> pa.Table:
        """finance/assets with the new registrations; ids number on after the `n_assets` existing ones."""
        i = np.flatnonzero(self.asset)
        i = i[np.lexsort((i, self.asset_day[i]))]
        serial = n_assets + np.arange(i.size)
        kind, region = self.asset_kind[i], self.region[i]
        asset_id = pc.binary_join_element_wise(
            pa.array(_PREFIX[kind]), pa.array(region).cast(pa.string()),
            pc.utf8_lpad(pa.array(serial).cast(pa.string()), 8, "0"), "")
        self.asset_id[i] = asset_id.to_pylist()
        return _append(table, {
            "asset_id": asset_id,
            "owner_id": self.pop.id_number.take(pa.array(self.person[i])),
            "asset_type": pa.array(ASSET_TYPES[kind]),
            "region": pa.array(region).cast(pa.string()),
            "acquired_on": _date(self.asset_day[i]),
            "disposed_on": pa.nulls(i.size, pa.date32()),
            "disposed_to_id": pa.nulls(i.size, pa.string()),
            "declared_value": pa.array(self.value[i]),
            "_deliver": pa.array(self.asset_deliver[i].astype(np.int32)),
            "_key": pa.array(serial),
        })

    def transactions(self, table: pa.Table, acc: Accounts) -> pa.Table:
        """finance/transactions with the large incoming transfers; ids number on after the existing rows."""
        i = np.flatnonzero(self.transfer)
        i = i[np.lexsort((i, self.booked[i]))]
        serial = table.num_rows + np.arange(i.size)
        txn_id = pc.binary_join_element_wise(
            "TX", pa.array(clock.yyyymmdd(self.transfer_day[i])).cast(pa.string()),
            pc.utf8_lpad(pa.array(serial).cast(pa.string()), 10, "0"), "")
        self.txn_id[i] = txn_id.to_pylist()
        cp = self.counterparty[i]
        return _append(table, {
            "txn_id": txn_id,
            "account_id": acc.account_id.take(pa.array(self.account[i])),
            "booked_at": pa.array(self.booked[i]).cast(pa.timestamp("s")),
            "amount": pa.array(self.amount[i]),
            "direction": pa.array(np.full(i.size, "in")),
            "counterparty_id": pc.if_else(pa.array(cp >= 0), self.pop.id_number.take(pa.array(np.maximum(cp, 0))),
                                          pa.nulls(i.size, pa.string())),
            "channel": pa.array(CHANNELS[self.channel[i]]),
            "_deliver": pa.array(self.transfer_deliver[i].astype(np.int32)),
        })

    def rows(self) -> dict[str, pa.Array]:
        """The columns of truth/asset_reappearance.csv: one row per planted event, by event day."""
        a, t = np.flatnonzero(self.asset), np.flatnonzero(self.transfer)
        i = np.r_[a, t]
        kind = np.r_[np.zeros(a.size, int), np.ones(t.size, int)]
        day = np.r_[self.asset_day[a], self.transfer_day[t]]
        order = np.lexsort((kind, i, day))
        i, kind, day = i[order], kind[order], day[order]
        return {
            "case_no": self._case_no.take(pa.array(self.case[i], pa.int64())),
            "respondent_id": self.pop.id_number.take(pa.array(self.person[i], pa.int64())),
            "closed_on": _date(self.closed_on[i]),
            "kind": pa.array(KINDS[kind]),
            "event_date": _date(day),
            "amount": np.where(kind == 0, self.value[i], self.amount[i]) / 100.0,
            "record_id": pa.array(np.where(kind == 0, self.asset_id[i], self.txn_id[i]), pa.string()),
            "delivered_dt": _date(np.where(kind == 0, self.asset_deliver[i], self.transfer_deliver[i])),
            "unpaid_amount": self.unpaid[i] / 100.0,
        }


def _date(days: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(days, dtype=np.int32)).cast(pa.date32())


def _append(table: pa.Table, columns: dict[str, pa.Array]) -> pa.Table:
    """The table with rows added, each column cast to the table's type."""
    arrays = [columns[f.name].cast(f.type) for f in table.schema]
    return pa.concat_tables([table, pa.Table.from_arrays(arrays, schema=table.schema)])
