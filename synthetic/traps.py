"""Leakage traps: records dated on and after a case's filing day, for the gold layer's leak test.

In this mode (`generate(..., leakage_traps=True)`) most cases filed in the
nightly batches have their primary respondent do, on the filing day or later
inside the window, one thing of every event-time family their history
allows: a new registry version, a divorce (or else a marriage), disposals,
account closures, a transfer to a person, a luxury order, a dishonest
listing, the closure of an earlier case still open, a new social account
and link. Respondents without an account or asset to end get one opened or
bought years before filing, so those families are always there. Contract
section 4 lets none of them into the case's features, so features built as of
`filed_on` must not change whether or not the later batches are ingested.
Traps on the filing day share the case's own batch: they catch `<=` for `<`.
Every trap is one row of `truth/leakage_traps.csv`, with the key of the
record that carries it (`trap_ledger.py`).

The traps draw from their own random stream, so the default data set stays
byte for byte what it was. Records are changed where the domain keeps state
(couples, cases, accounts, assets: the tables then carry the change, latest-
wins updates included) and appended where it does not (versions,
transactions, orders, social accounts and links).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import clock, ecommerce, names
from .arrays import cumcount, flat, rows_of
from .assets import Assets
from .clock import DAY_SECONDS, HORIZON_DAYS, Calendar
from .court import Cases
from .delivery import on_time
from .finance import Accounts, account_ids
from .marriage import Couples
from .outcome import EXECUTED, GROUNDS, NEVER, NO_ASSETS, SETTLED, Listings
from .persons import EDUCATION, OCCUPATION, Versions
from .population import COURT_REGIONS, OTHER_XUZHOU, Population
from .schema import DATASETS
from .trap_ledger import TrapLedger

_NEW_JOBS = np.array([1, 4, 5, 8])  # worker, self_employed, unemployed, other
_MOVES = np.concatenate([COURT_REGIONS, OTHER_XUZHOU])


class LeakageTraps:
    """Chooses the trapped cases, plants the records and lists them.

    Call the domain steps in the order `generate` builds the tables (`court`,
    `couples` right after the cases; `accounts`, `assets` before their tables;
    the appending steps on the built tables), then pass every table through
    `deliver` and finally take `rows()` for the truth.
    """

    def __init__(self, rng: np.random.Generator, pop: Population, ver: Versions, cases: Cases, cal: Calendar,
                 share: float = 0.75) -> None:
        self.rng, self.pop, self.ver, self.cal = rng, pop, ver, cal
        daily = np.flatnonzero(cases.filed_on > cal.backfill_dt)
        shuffled = rng.permutation(daily)
        _, first = np.unique(cases.primary[shuffled], return_index=True)
        one_per_person = shuffled[np.sort(first)]  # one trapped case per respondent: traps must not collide
        self.case = np.sort(one_per_person[: math.ceil(share * daily.size)])
        self.person = cases.primary[self.case]
        self.day = cases.filed_on[self.case]
        self.next_day = np.where(self.day < cal.last_dt, self.day + 1, -1)  # -1: filed on the last batch date
        self.kin = pop.relative(rng, self.person)  # who receives what the respondent hands over
        self.n = self.case.size
        self._case_no = cases.case_no
        self._ids = pop.id_number.take(pa.array(self.person)).to_pylist()
        self.ledger = TrapLedger()
        self._acc: Accounts | None = None
        self._listed: np.ndarray = np.zeros(0, np.int64)

    # ------------------------------------------------------------ state the domains keep

    def court(self, cases: Cases) -> Cases:
        """Close an open earlier case of the respondent on the filing day; list the respondent on it."""
        out = cases.out
        i, row = rows_of(cases.resp_person, self.person)
        prior = cases.resp_case[row]
        ok = (cases.filed_on[prior] < self.day[i]) & (out.closed_on[prior] >= self.day[i])
        i, prior = i[ok], prior[ok]
        oldest = cumcount(i) == 0  # rows come in filing order: the oldest open case
        i, prior = i[oldest], prior[oldest]
        _, once = np.unique(prior, return_index=True)  # a case two trapped respondents share closes once
        i, prior = i[np.sort(once)], prior[np.sort(once)]
        # Keep the truth consistent: a non-payer's case closed inside the horizon cannot close as paid.
        kind = out.closure[prior]
        paid = np.isin(kind, [EXECUTED, SETTLED])
        wrong = (kind < 0) | (paid & ~out.performs[prior] & (self.day[i] <= cases.filed_on[prior] + HORIZON_DAYS))
        closure, closed_on, recovered = out.closure.copy(), out.closed_on.copy(), out.recovered.copy()
        closure[prior] = np.where(wrong, NO_ASSETS, kind)
        recovered[prior] = np.where(wrong, 0, recovered[prior])
        closed_on[prior] = self.day[i]
        prior_no = cases.case_no.take(pa.array(prior)).to_pylist()
        self.ledger.add(i, "prior_case_closure", "court/closures", "closed_on", self.day[i],
                        [{"case_no": c, "closed_on": clock.iso(d)} for c, d in zip(prior_no, self.day[i])])

        li = cases.listings
        key = li.case.astype(np.int64) * self.pop.n + li.person
        srt = np.argsort(key, kind="stable")
        wanted = self.case.astype(np.int64) * self.pop.n + self.person
        pos = np.clip(np.searchsorted(key[srt], wanted), 0, max(key.size - 1, 0))
        listed = key[srt][pos] == wanted if key.size else np.zeros(self.n, bool)
        listed_on = li.listed_on.copy()
        listed_on[srt[pos[listed]]] = self.day[listed]  # listed weeks later in truth: now on the filing day
        new = ~listed
        listings = Listings(case=np.r_[li.case, self.case[new]], person=np.r_[li.person, self.person[new]],
                            listed_on=np.r_[listed_on, self.day[new]],
                            delisted_on=np.r_[li.delisted_on, np.full(int(new.sum()), NEVER)],
                            ground=np.r_[li.ground, self.rng.integers(0, GROUNDS.size, int(new.sum()))])
        everyone = np.arange(self.n)
        self.ledger.add(everyone, "dishonest_listing", "court/dishonest", "listed_on", self.day,
                        [{"id_number": p, "case_no": c, "listed_on": clock.iso(d)}
                         for p, c, d in zip(self._ids, self._case_nos(everyone), self.day)])
        on_list = (listings.listed_on <= self.cal.backfill_dt) & (listings.delisted_on > self.cal.backfill_dt)
        self._listed = np.unique(listings.person[on_list])
        return replace(cases, out=replace(out, closure=closure, closed_on=closed_on, recovered=recovered),
                       listings=listings)

    def couples(self, couples: Couples) -> Couples:
        """A divorce on the filing day for the married, a marriage on it for the never-married."""
        pop, rng = self.pop, self.rng
        row = couples.row_at(self.person, self.day)
        married = np.flatnonzero(row >= 0)
        divorced_on = couples.divorced_on.copy()
        np.minimum.at(divorced_on, row[married], self.day[married])  # a shared couple divorces once
        divorce = married[divorced_on[row[married]] == self.day[married]]
        r = row[married]
        self.kin[married] = np.where(couples.husband[r] == self.person[married], couples.wife[r], couples.husband[r])

        last_end = np.full(pop.n, -1)
        np.maximum.at(last_end, np.r_[couples.husband, couples.wife], np.r_[divorced_on, divorced_on])
        adult = pop.age_at(self.day, self.person) >= np.where(pop.male[self.person], 22, 20)
        single = np.flatnonzero((row < 0) & (last_end[self.person] < self.day) & adult)
        free = (last_end < 0) & (pop.age_at(self.cal.backfill_dt) >= 22)
        free[self.person] = False
        brides = rng.permutation(np.flatnonzero(free & ~pop.male))
        grooms = rng.permutation(np.flatnonzero(free & pop.male))
        men, women = single[pop.male[self.person[single]]], single[~pop.male[self.person[single]]]
        men, women = men[: brides.size], women[: grooms.size]
        wed = np.r_[men, women]
        partner = np.r_[brides[: men.size], grooms[: women.size]]
        ok = pop.household[partner] != pop.household[self.person[wed]]
        wed, partner = wed[ok], partner[ok]
        self.kin[wed] = partner
        husband = np.where(pop.male[self.person[wed]], self.person[wed], partner)
        wife = np.where(pop.male[self.person[wed]], partner, self.person[wed])

        for kind, who, h, w in (("divorce", divorce, couples.husband[row[divorce]], couples.wife[row[divorce]]),
                                ("marriage", wed, husband, wife)):
            self.ledger.add(who, kind, "marriage/registrations", "registered_on", self.day[who],
                            [{"spouse_a_id": a, "kind": kind, "spouse_b_id": b, "registered_on": clock.iso(d)}
                             for a, b, d in zip(self._id_list(h), self._id_list(w), self.day[who])])
        return Couples(husband=np.r_[couples.husband, husband], wife=np.r_[couples.wife, wife],
                       married_on=np.r_[couples.married_on, self.day[wed]],
                       divorced_on=np.r_[divorced_on, np.full(wed.size, NEVER)])

    def accounts(self, acc: Accounts) -> Accounts:
        """Close a side account opened before filing on the filing day and another the day after."""
        i, row, rank, extra, extra_rank = self._two_held(
            acc.owner, lambda i, row: (acc.main[acc.owner[row]] != row) & (acc.opened_on[row] < self.day[i])
            & (acc.closed_on[row] == NEVER))
        # Respondents short of side accounts opened one some years before filing.
        who = self.person[extra]
        opened = np.maximum(self.day[extra] - self.rng.integers(120, 1500, extra.size),
                            clock.birthday_after(self.pop.birth[who], 18))
        bank = self.rng.choice(names.BANK_CODES.size, extra.size, p=names.BANK_WEIGHTS / names.BANK_WEIGHTS.sum())
        new_row = acc.owner.size + np.arange(extra.size)
        acc = Accounts(owner=np.r_[acc.owner, who], kind=np.r_[acc.kind, self.rng.integers(0, 4, extra.size)],
                       bank=np.r_[acc.bank, bank], opened_on=np.r_[acc.opened_on, opened],
                       closed_on=np.r_[acc.closed_on, np.full(extra.size, NEVER)],
                       account_id=pa.concat_arrays([flat(acc.account_id), account_ids(bank, new_row)]), main=acc.main)
        i, row, rank = np.r_[i, extra], np.r_[row, new_row], np.r_[rank, extra_rank]
        closed = np.where(rank == 0, self.day[i], self.next_day[i])
        acc.closed_on[row] = closed
        self._acc = acc
        ids = acc.account_id.take(pa.array(row)).to_pylist()
        self.ledger.add(i, "account_closure", "finance/accounts", "closed_on", closed,
                        [{"account_id": a, "closed_on": clock.iso(d)} for a, d in zip(ids, closed)])
        return acc

    def assets(self, a: Assets) -> Assets:
        """Hand an asset held before filing to kin on the filing day, another the day after."""
        pop, rng = self.pop, self.rng
        i, row, rank, extra, extra_rank = self._two_held(
            a.owner, lambda i, row: (a.acquired_on[row] < self.day[i]) & (a.disposed_on[row] == NEVER))
        # Respondents short of assets bought a car or a flat some years before filing.
        who = self.person[extra]
        kind = rng.integers(0, 2, extra.size)
        acquired = np.maximum(self.day[extra] - rng.integers(200, 2500, extra.size),
                              clock.birthday_after(pop.birth[who], 18))
        value = (np.round(np.array([800_000, 120_000])[kind] * np.exp(0.5 * rng.standard_normal(extra.size)) / 100)
                 * 10_000).astype(np.int64)
        region = self.ver.hukou[self.ver.at(who, acquired * DAY_SECONDS)]
        new_row = a.owner.size + np.arange(extra.size)
        i, row, rank = np.r_[i, extra], np.r_[row, new_row], np.r_[rank, extra_rank]
        owner, kinds = np.r_[a.owner, who], np.r_[a.kind, kind]
        regions, acquired_on, values = np.r_[a.region, region], np.r_[a.acquired_on, acquired], np.r_[a.value, value]
        disposed_on = np.r_[a.disposed_on, np.full(extra.size, NEVER)]
        disposed_to = np.r_[a.disposed_to, np.full(extra.size, -1)]
        day = np.where(rank == 0, self.day[i], self.next_day[i])
        to = np.where(self.kin[i] == self.person[i], -1, self.kin[i])
        disposed_on[row], disposed_to[row] = day, to
        got = to >= 0  # the recipient's new registration, as draw_assets makes it
        self.ledger.add(i, "asset_disposal", "finance/assets", "disposed_on", day,
                        [{"owner_id": p, "acquired_on": clock.iso(q), "disposed_on": clock.iso(d),
                          "declared_value": str(v)}
                         for p, q, d, v in zip(self._id_list(self.person[i]), acquired_on[row], day, values[row])])
        self.ledger.add(i[got], "kin_asset", "finance/assets", "acquired_on", day[got],
                        [{"owner_id": p, "acquired_on": clock.iso(d), "declared_value": str(v)}
                         for p, d, v in zip(self._id_list(to[got]), day[got], values[row[got]])])
        return Assets(owner=np.r_[owner, to[got]], kind=np.r_[kinds, kinds[row[got]]],
                      region=np.r_[regions, regions[row[got]]], acquired_on=np.r_[acquired_on, day[got]],
                      disposed_on=np.r_[disposed_on, np.full(int(got.sum()), NEVER)],
                      disposed_to=np.r_[disposed_to, np.full(int(got.sum()), -1)],
                      value=np.r_[values, values[row[got]]])

    # ------------------------------------------------------------ records appended to built tables

    def person_versions(self, persons: pa.Table) -> pa.Table:
        """A new registry version on the filing day (new job) and one after it (moved household)."""
        ver, rng = self.ver, self.rng
        later = np.flatnonzero(self.next_day >= 0)
        later_day = self.day[later] + 1 + (rng.random(later.size) * (self.cal.last_dt - self.day[later])).astype(np.int64)
        i = np.r_[np.arange(self.n), later]
        who = self.person[i]
        at = self._free_second(who, np.r_[self.day, later_day] * DAY_SECONDS
                               + rng.integers(8 * 3600 + 1800, 17 * 3600 + 1800, i.size))
        v = ver.at(who, at)
        occupation = _other(rng, ver.occupation[v[: self.n]], _NEW_JOBS)
        hukou = np.r_[ver.hukou[v[: self.n]], _other(rng, ver.hukou[v[self.n:]], _MOVES)]
        phone = ver.phone[v]
        stamps = pa.array(at).cast(pa.timestamp("s"))
        table = _append(persons, {
            "id_number": self.pop.id_number.take(pa.array(who)), "name": ver.name.take(pa.array(v)),
            "gender": np.where(self.pop.male[who], "M", "F"), "birth_date": self.pop.birth[who],
            "hukou_region": hukou.astype(str), "education": EDUCATION[ver.education[v]],
            "occupation": OCCUPATION[np.r_[occupation, occupation[later]]],
            "phone": [str(p) if p > 0 else None for p in phone], "updated_at": stamps, "_deliver": at // DAY_SECONDS,
        })
        match = [{"id_number": p, "updated_at": t} for p, t in zip(self._id_list(who), stamps.cast(pa.string()).to_pylist())]
        self.ledger.add(i[: self.n], "occupation_change", "population/persons", "updated_at", self.day, match[: self.n])
        self.ledger.add(later, "hukou_move", "population/persons", "updated_at", later_day, match[self.n:])
        return table

    def transactions(self, table: pa.Table) -> pa.Table:
        """A large transfer out to kin (or someone else) booked on the filing day."""
        acc, rng = self._acc, self.rng
        i, row = rows_of(acc.owner, self.person)
        ok = (acc.opened_on[row] < self.day[i]) & (acc.closed_on[row] > self.day[i])
        is_main = acc.main[acc.owner[row]] == row
        i, row = i[ok], row[ok]
        best = np.lexsort((~is_main[ok], i))  # the everyday account first
        i, row = i[best], row[best]
        first = cumcount(i) == 0
        i, row = i[first], row[first]
        other = rng.integers(0, self.pop.n, i.size)
        to = np.where((self.kin[i] >= 0) & (self.kin[i] != self.person[i]), self.kin[i],
                      np.where(other == self.person[i], (other + 1) % self.pop.n, other))
        worth = self.pop.latent.wealth_value[self.person[i]]
        cents = (np.clip(np.round(worth * rng.uniform(0.2, 0.6, i.size) / 100), 500, 20_000) * 10_000).astype(np.int64)
        booked = self.day[i] * DAY_SECONDS + rng.integers(9 * 3600, 17 * 3600, i.size)
        serial = table.num_rows + np.arange(i.size)  # transactions_table numbers 0 .. num_rows - 1
        txn_id = [f"TX{y}{s:010d}" for y, s in zip(clock.yyyymmdd(self.day[i]), serial)]
        self.ledger.add(i, "transfer_to_person", "finance/transactions", "booked_at", self.day[i],
                        [{"txn_id": t} for t in txn_id])
        return _append(table, {
            "txn_id": txn_id, "account_id": acc.account_id.take(pa.array(row)),
            "booked_at": pa.array(booked).cast(pa.timestamp("s")), "amount": cents, "direction": ["out"] * i.size,
            "counterparty_id": self.pop.id_number.take(pa.array(to)),
            "channel": np.array(["counter", "online", "mobile"])[rng.integers(0, 3, i.size)],
            "_deliver": self.day[i],
        })

    def orders(self, table: pa.Table, owner: pa.Array) -> tuple[pa.Table, pa.Array]:
        """A luxury order on the filing day under the buyer identity (name, phone, masked ID, address) of the
        respondent's latest earlier order, preferring one under the registry name: entity resolution links it."""
        mine = pc.is_in(owner, value_set=pa.array(self._ids, pa.string()))
        earlier = table.filter(mine)
        identity = ("platform", "buyer_name", "buyer_phone", "buyer_id_masked", "ship_region")
        cols = {c: earlier.column(c).to_pylist() for c in ("order_id", *identity)}
        at = earlier.column("ordered_at").cast(pa.int64()).to_pylist()
        by_owner, lockers = defaultdict(list), {str(p) for p in ecommerce.SHOP_PHONES}  # lockers identify nobody
        for k, o in enumerate(owner.filter(mine).to_pylist()):
            if cols["buyer_phone"][k] and cols["buyer_phone"][k] not in lockers:
                by_owner[o].append(k)
        registry_name = self.ver.name.take(pa.array(self.ver.at(self.person, self.day * DAY_SECONDS))).to_pylist()
        picks, template = [], []
        for t, (p, d) in enumerate(zip(self._ids, self.day.tolist())):
            before = sorted((at[k], k) for k in by_owner[p] if at[k] < d * DAY_SECONDS)
            named = [k for _, k in before if cols["buyer_name"][k] == registry_name[t]]
            if before:
                picks.append(t), template.append(named[-1] if named else before[-1][1])
        i = np.array(picks, dtype=np.int64)
        ordered = self.day[i] * DAY_SECONDS + self.rng.integers(10 * 3600, 23 * 3600, i.size)
        serial = table.num_rows + np.arange(i.size)  # orders_table numbers its orders 0 .. num_rows - 1
        order_id = [cols["order_id"][k][:-12] + f"{s * 37 + 100_000_003:012d}" for k, s in zip(template, serial)]
        self.ledger.add(i, "luxury_order", "ecommerce/orders", "ordered_at", self.day[i],
                        [{"order_id": o} for o in order_id])
        table = _append(table, {
            "order_id": order_id, **{c: [cols[c][k] for k in template] for c in identity},
            "ordered_at": pa.array(ordered).cast(pa.timestamp("s")),
            "amount": (np.round(self.rng.uniform(8_000, 60_000, i.size)) * 100).astype(np.int64),
            "category": ["luxury"] * i.size, "_deliver": self.day[i],
        })
        return table, pa.concat_arrays([flat(owner), pa.array([self._ids[t] for t in picks], pa.string())])

    def social(self, accounts: pa.Table, owner: pa.Array, links: pa.Table) -> tuple[pa.Table, pa.Array, pa.Table]:
        """A new real-name account on the filing day, and a friendship from the filing day on between the
        respondent's oldest account (else the new one) and someone on the dishonest list."""
        ver, rng = self.ver, self.rng
        ids, owners = accounts.column("account_id").to_pylist(), owner.to_pylist()
        registered = (accounts.column("registered_at").cast(pa.int64()).to_numpy() // DAY_SECONDS).tolist()
        listed = set(self._id_list(self._listed))
        oldest, dishonest, anyone = {}, [], []
        for a, o, d in zip(ids, owners, registered):  # accounts come in registration order
            if o is not None:
                oldest.setdefault(o, (a, d))
                if d <= self.cal.backfill_dt:
                    (dishonest if o in listed else anyone).append((a, o))
        pool = dishonest or anyone

        at = self.day * DAY_SECONDS + rng.integers(8 * 3600, 22 * 3600, self.n)
        v = ver.at(self.person, at)
        rank = len(ids) + np.arange(self.n)  # draw_social numbers its accounts 0 .. num_rows - 1
        new_id = [f"SA{r * 13 + 10_000_019:010d}" for r in rank]
        accounts = _append(accounts, {
            "account_id": new_id, "phone": [str(p) if p > 0 else None for p in ver.phone[v]],
            "nickname": names.nicknames(rng, self.n, False), "real_name": ver.name.take(pa.array(v)),
            "registered_at": pa.array(at).cast(pa.timestamp("s")), "_deliver": self.day,
        })
        self.ledger.add(np.arange(self.n), "social_account", "social/accounts", "registered_at", self.day,
                        [{"account_id": a} for a in new_id])

        linked = set(zip(links.column("src_account").to_pylist(), links.column("dst_account").to_pylist()))
        rows = []
        for t, p in enumerate(self._ids):
            own = oldest.get(p)
            src = own[0] if own and own[1] < self.day[t] else new_id[t]
            for k in rng.integers(0, len(pool), 20) if pool else ():
                dst, dst_owner = pool[k]
                if dst_owner != p and not {(src, dst), (dst, src)} & linked:
                    rows.append((t, src, dst))
                    linked.add((src, dst))
                    break
        i = np.array([t for t, _, _ in rows], dtype=np.int64)
        links = _append(links, {
            "src_account": [s for _, s, _ in rows], "dst_account": [d for _, _, d in rows],
            "relation": ["friend"] * i.size, "since": self.day[i], "until": [None] * i.size, "_deliver": self.day[i],
            "_key": (pc.max(links.column("_key")).as_py() or 0) + 1 + np.arange(i.size),
        })
        self.ledger.add(i, "social_link", "social/links", "since", self.day[i],
                        [{"src_account": s, "dst_account": d, "relation": "friend", "since": clock.iso(self.day[t])}
                         for t, s, d in rows])
        return accounts, pa.concat_arrays([flat(owner), pa.array(self._ids, pa.string())]), links

    # ------------------------------------------------------------ delivery and truth

    def deliver(self, name: str, table: pa.Table) -> pa.Table:
        """The table delivered on time; records the snapshots that fall on or after a filing; checks every trap."""
        table = on_time(table, DATASETS[name])
        if name == "finance/loans":
            self._snapshots(name, table, "borrower_id", dict(zip(self._ids, range(self.n))), "loan_snapshot", "loan_id")
        if name == "finance/balances" and self._acc is not None:
            i, row = rows_of(self._acc.owner, self.person)
            account = dict(zip(self._acc.account_id.take(pa.array(row)).to_pylist(), i.tolist()))
            self._snapshots(name, table, "account_id", account, "balance_snapshot", "account_id")
        self.ledger.resolve(name, table)
        return table

    def rows(self) -> dict[str, list]:
        """The columns of truth/leakage_traps.csv."""
        return self.ledger.rows(self._case_nos(np.arange(self.n)), self.day, self._ids, self.case)

    def _snapshots(self, name: str, table: pa.Table, by: str, trap_of: dict, trap: str, key: str) -> None:
        """Month- and quarter-end rows of the respondent dated on or after the filing day (none in a short window)."""
        if self.n == 0:
            return
        late = table.filter(pc.greater_equal(table.column("as_of"), pa.scalar(int(self.day.min()), pa.date32())))
        late = late.filter(pc.is_in(late.column(by), value_set=pa.array(list(trap_of), pa.string())))
        for who, k, as_of in zip(late.column(by).to_pylist(), late.column(key).to_pylist(),
                                 late.column("as_of").cast(pa.int32()).to_pylist()):
            t = trap_of[who]
            if as_of >= self.day[t]:
                self.ledger.add(np.array([t]), trap, name, "as_of", np.array([as_of]),
                                [{key: k, "as_of": clock.iso(as_of)}])

    def _two_held(self, owner: np.ndarray, eligible) -> tuple[np.ndarray, ...]:
        """Up to two rows per trap that `eligible(i, row)` accepts (one to end on the filing day, one the day
        after, when there is a day after), with their rank, and the traps and ranks still short of one."""
        need = 1 + (self.next_day >= 0)
        i, row = rows_of(owner, self.person)
        ok = eligible(i, row)
        i, row = i[ok], row[ok]
        rank = cumcount(i)
        keep = rank < need[i]
        i, row, rank = i[keep], row[keep], rank[keep]
        have = np.bincount(i, minlength=self.n)
        extra = np.repeat(np.arange(self.n), need - have)
        return i, row, rank, extra, have[extra] + cumcount(extra)

    def _free_second(self, who: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """Move a stamp on while the person already has a registry version at that second: (id, updated_at) is a key."""
        keys = (self.ver.person.astype(np.int64) << 32) | self.ver.updated_at
        for _ in range(100):
            query = (who.astype(np.int64) << 32) | seconds
            pos = np.clip(np.searchsorted(keys, query), 0, keys.size - 1)
            clash = keys[pos] == query
            if not clash.any():
                break
            seconds = seconds + clash
        return seconds

    def _id_list(self, who: np.ndarray) -> list[str]:
        return self.pop.id_number.take(pa.array(np.asarray(who, dtype=np.int64))).to_pylist()

    def _case_nos(self, i: np.ndarray) -> list[str]:
        return self._case_no.take(pa.array(self.case[i] if i.size else np.zeros(0, np.int64))).to_pylist()


def _other(rng: np.random.Generator, current: np.ndarray, choices: np.ndarray) -> np.ndarray:
    """A value from `choices` that differs from the current one."""
    pick = rng.integers(0, choices.size, current.size)
    return np.where(choices[pick] == current, choices[(pick + 1) % choices.size], choices[pick])


def _append(table: pa.Table, columns: dict) -> pa.Table:
    """The table with rows added; each column is cast to the table's type (day numbers to dates,
    epoch seconds to timestamps, lists with None to nullable strings)."""
    arrays = []
    for field in table.schema:
        values = columns[field.name]
        if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
            values = pa.array(values.astype(np.int32 if pa.types.is_date32(field.type) else np.int64))
        elif not isinstance(values, (pa.Array, pa.ChunkedArray)):
            values = pa.array(list(values), pa.string())
        arrays.append(values.cast(field.type))
    return pa.concat_tables([table, pa.Table.from_arrays(arrays, schema=table.schema)])
