"""Gold's rows, as pure transforms: respondents, point-in-time person features, case features.

- `debtor_profile`: one row per respondent per case, person-level features as
  of the case's filing date.
- `case_features`: one row per case; the respondents' features combined as the
  dictionary's `agg` says, the case's own features, and the label.

`pipelines/gold/build.py` reads silver, calls these and writes gold.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from features.ability import accounts_held, assets, deposits, income
from features.behaviour import spending
from features.catalogue import Feature, load_dictionary
from features.credit import dishonest, loans, prior_cases
from features.evasion import disposals, transfers_out
from features.identity import identity, marital
from features.labels import LABEL_COLUMNS
from features.pit import AS_OF, KEY, money, ratio
from features.social import contacts, kin, own_accounts, social

__all__ = ["Silver", "respondent_order", "respondents", "person_features", "debtor_profile", "case_features", "PROFILE_KEY"]

PROFILE_KEY = ["case_no", "person_key"]


@dataclass(frozen=True)
class Silver:
    """The silver tables gold reads, passed in so tests can use tiny inline frames."""

    persons: DataFrame
    registrations: DataFrame
    accounts: DataFrame
    balances: DataFrame
    transactions: DataFrame
    loans: DataFrame
    assets: DataFrame
    orders: DataFrame
    social_accounts: DataFrame
    links: DataFrame
    cases: DataFrame
    parties: DataFrame
    closures: DataFrame
    dishonest: DataFrame
    entity_links: DataFrame


def respondent_order() -> Window:
    """A case's respondents in the order the court delivered them: respondent 1 is the first listed.

    Silver party rows carry their bronze lineage; the party key breaks a tie within one source row.
    Gold's respondent numbers and the clerks' files both follow this order.
    """
    return Window.partitionBy("case_no").orderBy("source_batch_dt", "source_file", "source_row", "party_key")


def respondents(cases: DataFrame, parties: DataFrame) -> DataFrame:
    """(case_no, person_key, as_of, respondent_no): respondent 1 is the first listed."""
    order = respondent_order()
    rows = parties.where((F.col("role") == "respondent") & F.col("party_key").isNotNull()) \
        .join(cases.select("case_no", F.col("filed_on").alias(AS_OF)), "case_no")
    return rows.select("case_no", F.col("party_key").alias("person_key"), AS_OF,
                       F.row_number().over(order).alias("respondent_no"))


def _person_level() -> list[Feature]:
    return [f for f in load_dictionary() if f.agg != "case"]


def person_features(spine: DataFrame, silver: Silver) -> DataFrame:
    """All person-level features for a `(person_key, as_of)` spine, one row per spine row."""
    accounts = own_accounts(spine, silver.social_accounts, silver.entity_links)
    held = contacts(accounts, silver.social_accounts, silver.links)
    kin_at_filing = kin(spine, silver.registrations, held)
    families = [
        identity(spine, silver.persons),
        marital(spine, silver.registrations),
        deposits(spine, silver.accounts, silver.balances),
        accounts_held(spine, silver.accounts),
        assets(spine, silver.assets),
        income(spine, silver.accounts, silver.transactions),
        loans(spine, silver.loans),
        prior_cases(spine, silver.cases, silver.parties, silver.closures),
        dishonest(spine, silver.dishonest),
        spending(spine, silver.orders, silver.loans, silver.entity_links),
        social(spine, accounts, held, kin_at_filing, silver.dishonest, silver.assets),
        disposals(spine, silver.assets, kin_at_filing),
        transfers_out(spine, silver.accounts, silver.transactions, kin_at_filing),
    ]
    out = spine
    for family in families:
        out = out.join(family, KEY, "left")
    wanted = _person_level()
    fills = {f.name: f.fill for f in wanted if f.fill is not None and f.name in out.columns}
    out = out.fillna({k: v for k, v in fills.items() if isinstance(v, str)}) \
        .fillna({k: v for k, v in fills.items() if not isinstance(v, str)})
    out = out.withColumn("spend_to_income_12m", ratio(F.col("spend_12m"), F.col("income_12m"), floor=1000.0))
    return out.select(*KEY, *(f.name for f in wanted))


def debtor_profile(resp: DataFrame, silver: Silver) -> DataFrame:
    spine = resp.select(*KEY).distinct()
    per_person = person_features(spine, silver)
    return resp.join(per_person, KEY, "left").select(
        "case_no", "person_key", F.col(AS_OF).alias("filed_on"), "respondent_no",
        *(f.name for f in _person_level()))


def _combine(f: Feature) -> Column:
    col = F.col(f.name)
    if f.agg == "lead":
        return F.min_by(col, "respondent_no").alias(f.name)
    return {"sum": F.sum, "max": F.max, "min": F.min}[f.agg](col).alias(f.name)


def case_features(cases: DataFrame, profile: DataFrame, case_labels: DataFrame) -> DataFrame:
    """One row per case: respondents combined, the case's own features, and the label."""
    combined = profile.groupBy("case_no").agg(*(_combine(f) for f in _person_level()),
                                              F.count("*").cast("int").alias("n_respondents"))
    claim = money("claim_amount")
    liquid = F.coalesce(F.col("deposit_total"), F.lit(0.0))
    everything = liquid + F.coalesce(F.col("assets_value"), F.lit(0.0))
    derived = {
        "cause": F.col("cause"),
        "claim_amount": claim,
        "applicant_kind": F.col("applicant_kind"),
        "n_respondents": F.coalesce(F.col("n_respondents"), F.lit(0)),
        "claim_to_liquid_assets": ratio(claim, liquid, floor=1000.0),
        "claim_to_total_assets": ratio(claim, everything, floor=1000.0),
    }
    out = cases.select("case_no", "court_code", "filed_on", "cause", "claim_amount", "applicant_kind") \
        .join(combined, "case_no", "left").join(case_labels, "case_no", "left")
    columns = [derived[f.name].alias(f.name) if f.agg == "case" else F.col(f.name) for f in load_dictionary()]
    return out.select("case_no", "court_code", "filed_on", *columns, *LABEL_COLUMNS)
