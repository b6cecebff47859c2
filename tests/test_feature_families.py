"""The feature dictionary and the family functions agree, column for column.

Every dictionary entry names, in `computed_by`, the function that builds its column. Each family
is called here as `features/profile.py:person_features` calls it, on tiny inline silver frames, and
must return the key and exactly the features the dictionary assigns to it: a column the dictionary
does not list, or an entry pointing at the wrong function, fails. Only the columns are compared,
so Spark analyses the plans and runs no job; the values are tests/test_features_pit.py's business.

Every feature's name is also a string literal in the module that computes it, so a search for
the name finds the code and not only the YAML.
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pytest
from helpers.silver_frames import silver
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from features import catalogue
from features.ability import accounts_held, assets, deposits, income
from features.behaviour import spending
from features.catalogue import Feature, load_dictionary
from features.credit import dishonest, loans, prior_cases
from features.evasion import disposals, transfers_out
from features.identity import identity, marital
from features.pit import KEY
from features.profile import Silver
from features.social import contacts, kin, own_accounts, social

# Columns gold derives itself, from other features and the case: no family returns them.
DERIVED_IN_PROFILE = ("features.profile.case_features", "features.profile.person_features")

P, SPOUSE, FRIEND = "p" * 64, "s" * 64, "f" * 64


class Ties(NamedTuple):
    """The intermediate frames person_features builds once and hands to several families."""

    accounts: DataFrame
    contacts: DataFrame
    kin: DataFrame


# Each family's arguments after the spine, as features/profile.py:person_features passes them.
ARGUMENTS: dict[Callable[..., DataFrame], Callable[[Silver, Ties], tuple[DataFrame, ...]]] = {
    identity: lambda s, t: (s.persons,),
    marital: lambda s, t: (s.registrations,),
    deposits: lambda s, t: (s.accounts, s.balances),
    accounts_held: lambda s, t: (s.accounts,),
    assets: lambda s, t: (s.assets,),
    income: lambda s, t: (s.accounts, s.transactions),
    loans: lambda s, t: (s.loans,),
    prior_cases: lambda s, t: (s.cases, s.parties, s.closures),
    dishonest: lambda s, t: (s.dishonest,),
    spending: lambda s, t: (s.orders, s.loans, s.entity_links),
    social: lambda s, t: (t.accounts, t.contacts, t.kin, s.dishonest, s.assets),
    disposals: lambda s, t: (s.assets, t.kin),
    transfers_out: lambda s, t: (s.accounts, s.transactions, t.kin),
}


def qualified(function: Callable) -> str:
    return f"{function.__module__}.{function.__name__}"


FAMILIES = {qualified(f): f for f in ARGUMENTS}


@pytest.fixture(scope="module")
def inputs(spark) -> tuple[DataFrame, Silver, Ties]:
    """One debtor with a record in every silver table gold reads, filed on 2026-06-15."""
    data = silver(
        spark,
        persons=[{"person_key": P, "valid_from": "2020-01-01", "birth_date": "1990-01-01", "hukou_region": "320312",
                  "education": "bachelor", "occupation": "worker", "has_phone": True, "is_region_change": False,
                  "is_phone_change": False}],
        registrations=[{"registration_id": "r1", "kind": "marriage", "spouse_a_key": P, "spouse_b_key": SPOUSE,
                        "registered_on": "2015-01-01"}],
        accounts=[{"account_id": "a1", "owner_key": P, "bank_code": "ICBC", "account_type": "savings",
                   "opened_on": "2019-01-01"}],
        balances=[{"account_id": "a1", "as_of": "2026-03-31", "balance": "1000"}],
        transactions=[{"txn_id": "t1", "account_id": "a1", "booked_at": "2026-05-01", "amount": "9000",
                       "direction": "out", "counterparty_key": SPOUSE, "channel": "online"}],
        loans=[{"loan_id": "l1", "borrower_key": P, "principal": "5000", "issued_on": "2025-01-01",
                "as_of": "2026-05-31", "outstanding": "4000", "overdue_days": 10, "status": "overdue"}],
        assets=[{"asset_id": "v1", "owner_key": P, "asset_type": "vehicle", "acquired_on": "2020-01-01",
                 "disposed_on": "2026-05-01", "disposed_to_key": SPOUSE, "declared_value": "80000"}],
        orders=[{"order_id": "o1", "person_key": P, "ordered_at": "2026-06-01", "amount": "300",
                 "category": "food"}],
        social_accounts=[{"account_id": "sp", "person_key": P, "registered_at": "2018-01-01"},
                         {"account_id": "sf", "person_key": FRIEND, "registered_at": "2018-01-01"}],
        links=[{"src_account": "sp", "dst_account": "sf", "relation": "friend", "since": "2019-01-01"}],
        cases=[{"case_no": "c1", "court_code": "苏0312", "filed_on": "2024-01-01", "cause": "labor",
                "claim_amount": "2000", "applicant_kind": "person"}],
        parties=[{"case_no": "c1", "role": "respondent", "party_kind": "person", "party_key": P}],
        closures=[{"case_no": "c1", "closed_on": "2024-06-01", "closure": "settled"}],
        dishonest=[{"person_key": FRIEND, "case_no": "c9", "listed_on": "2025-01-01"}],
        entity_links=[{"source": "ecommerce/orders", "record_id": "o1", "status": "linked",
                       "has_phone_at_time": True, "is_name_match": True, "is_masked_id_match": False}],
    )
    spine = spark.createDataFrame(pa.table({"person_key": [P], "as_of": [dt.date(2026, 6, 15)]}))
    accounts = own_accounts(spine, data.social_accounts, data.entity_links)
    held = contacts(accounts, data.social_accounts, data.links)
    return spine, data, Ties(accounts, held, kin(spine, data.registrations, held))


def family_columns(name: str, inputs: tuple[DataFrame, Silver, Ties]) -> list[str]:
    spine, data, ties = inputs
    return FAMILIES[name](spine, *ARGUMENTS[FAMILIES[name]](data, ties)).columns


def disagreement(name: str, columns: list[str], dictionary: tuple[Feature, ...]) -> dict[str, set[str]]:
    """What a family returns that the dictionary does not assign to it, and the other way round."""
    listed = {f.name for f in dictionary if f.computed_by == name}
    returned = set(columns) - set(KEY)
    return {"undocumented": returned - listed, "not returned": listed - returned}


def test_every_family_function_is_named_by_the_dictionary_and_tested_here():
    named = {f.computed_by for f in load_dictionary()} - set(DERIVED_IN_PROFILE)
    assert named == set(FAMILIES), "computed_by names a function this test does not call, or no feature " \
        "names a family that gold joins: keep ARGUMENTS in step with features/profile.py:person_features"


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_a_family_returns_its_key_and_exactly_its_dictionary_features(name, inputs):
    columns = family_columns(name, inputs)
    assert len(columns) == len(set(columns)), f"{name} returns a column twice: {columns}"
    assert set(KEY) <= set(columns), f"{name} does not return the key {KEY} that gold joins on"
    assert disagreement(name, columns, load_dictionary()) == {"undocumented": set(), "not returned": set()}


def test_the_comparison_sees_an_extra_column_and_an_entry_pointing_elsewhere(inputs):
    spine, data, _ = inputs
    dictionary = load_dictionary()
    extra = assets(spine, data.assets).withColumn("boat_count", F.lit(0))
    assert disagreement("features.ability.assets", extra.columns, dictionary)["undocumented"] == {"boat_count"}
    moved = tuple(f.model_copy(update={"computed_by": "features.ability.income"}) if f.name == "vehicle_count" else f
                  for f in dictionary)
    columns = family_columns("features.ability.assets", inputs)
    assert disagreement("features.ability.assets", columns, moved)["undocumented"] == {"vehicle_count"}
    assert disagreement("features.ability.income", family_columns("features.ability.income", inputs), moved) \
        == {"undocumented": set(), "not returned": {"vehicle_count"}}


def string_literals(module: str) -> set[str]:
    path = Path(importlib.import_module(module).__file__)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def test_every_feature_name_is_a_string_literal_in_the_module_that_computes_it():
    dictionary = load_dictionary()
    literals = {m: string_literals(m) for m in {f.computed_by.rpartition(".")[0] for f in dictionary}}
    missing = [f"{f.name} ({f.computed_by})" for f in dictionary
               if f.name not in literals[f.computed_by.rpartition(".")[0]]]
    assert not missing, f"built from pieces (an f-string or a loop), so a search for the name misses it: {missing}"


# ---------------------------------------------------------------- computed_by is checked on load
ENTRY = "- {name: x, dimension: case, unit: count, agg: case, sources: [court/cases], en: a, zh: b, reason_zh: c"


@pytest.mark.parametrize("computed_by, why", [
    ("features.ability.no_such_function", "not a function"),
    ("features.no_such_module.deposits", "cannot import"),
    ("features.ability.ASSET_TYPES", "not a function"),
    ("deposits", "not a function"),
    ("features.profile.deposits", "defined in 'features.ability'"),     # imported there, not defined
    (None, "computed_by.*Field required"),                             # the field is required
])
def test_an_entry_whose_computed_by_is_not_a_function_of_that_module_is_refused(tmp_path, computed_by, why):
    path = tmp_path / "d.yaml"
    path.write_text(ENTRY + ("}" if computed_by is None else f", computed_by: {computed_by}}}") + "\n",
                    encoding="utf-8")
    with pytest.raises(ValueError, match=f"(?s)feature 'x'.*{why}"):
        catalogue.load_dictionary.__wrapped__(path)

