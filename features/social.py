"""Social ties (人脉关系) and kin.

Social links are relations between accounts; accounts reach persons through
entity resolution. A link counts at filing if it began before the filing date
and had not ended before it. Links are read in both directions.

Kin at filing, used here and by the evasion signals:
- `spouse_or_ex`: anyone the person married before filing (still married or divorced);
- `relative`: a person behind a `family` link at filing.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from features.ability import assets
from features.behaviour import link_evidence
from features.credit import dishonest_at_filing
from features.identity import marital_events
from features.pit import KEY, as_of_join, held_at

__all__ = ["RELATIONS", "contacts", "kin", "own_accounts", "social"]

RELATIONS = ("family", "friend", "colleague", "business")


def own_accounts(spine: DataFrame, social_accounts: DataFrame, entity_links: DataFrame) -> DataFrame:
    """The person's social accounts registered before filing, with the strength of their link."""
    mine = social_accounts.where(F.col("person_key").isNotNull()).select(
        "account_id", "person_key", F.to_date("registered_at").alias("registered_on")) \
        .join(link_evidence(entity_links, "social/accounts", "account_id"), "account_id", "left")
    return as_of_join(spine, mine, "registered_on")


def contacts(accounts_held: DataFrame, social_accounts: DataFrame, links: DataFrame) -> DataFrame:
    """(person_key, as_of, contact_account, relation, contact_key) for links held at filing."""
    edge_cols = ["relation", "since", "until"]
    edges = links.select(F.col("src_account").alias("account_id"), F.col("dst_account").alias("contact_account"),
                         *edge_cols) \
        .unionByName(links.select(F.col("dst_account").alias("account_id"),
                                  F.col("src_account").alias("contact_account"), *edge_cols))
    others = social_accounts.select(F.col("account_id").alias("contact_account"),
                                    F.col("person_key").alias("contact_key"))
    return accounts_held.select(*KEY, "account_id").join(edges, "account_id") \
        .where(held_at("since", "until")) \
        .join(others, "contact_account", "left") \
        .where(F.col("contact_key").isNull() | (F.col("contact_key") != F.col("person_key")))


def kin(spine: DataFrame, registrations: DataFrame, held_contacts: DataFrame) -> DataFrame:
    """(person_key, as_of, kin_key, kin) with kin `spouse_or_ex` winning over `relative`."""
    spouses = as_of_join(spine, marital_events(registrations), "registered_on") \
        .select(*KEY, F.col("partner_key").alias("kin_key"), F.lit(1).alias("rank"))
    relatives = held_contacts.where((F.col("relation") == "family") & F.col("contact_key").isNotNull()) \
        .select(*KEY, F.col("contact_key").alias("kin_key"), F.lit(2).alias("rank"))
    both = spouses.unionByName(relatives).groupBy(*KEY, "kin_key").agg(F.min("rank").alias("rank"))
    return both.select(*KEY, "kin_key",
                       F.when(F.col("rank") == 1, "spouse_or_ex").otherwise("relative").alias("kin"))


def social(spine: DataFrame, accounts_held: DataFrame, held_contacts: DataFrame, kin_at_filing: DataFrame,
           listings: DataFrame, asset_records: DataFrame) -> DataFrame:
    """Contacts by relation, contacts on the dishonest list, and what kin own."""
    listed = listings.select(F.col("person_key").alias("contact_key"), "listed_on", "delisted_on")
    people = held_contacts.where(F.col("contact_key").isNotNull()) \
        .select(*KEY, "contact_key", "relation").distinct()
    flagged = people.join(listed, "contact_key", "left") \
        .withColumn("listed", F.coalesce(dishonest_at_filing(), F.lit(False))) \
        .groupBy(*KEY, "contact_key", "relation").agg(F.max("listed").alias("listed"))

    def linked(relation: str) -> Column:
        return F.countDistinct(F.when(F.col("relation") == relation, F.col("contact_account"))).cast("int")

    # Spelled out (as RELATIONS orders them) so that a feature's name finds its code.
    counts = held_contacts.groupBy(*KEY).agg(
        linked("family").alias("contacts_family"),
        linked("friend").alias("contacts_friend"),
        linked("colleague").alias("contacts_colleague"),
        linked("business").alias("contacts_business"),
        F.countDistinct("contact_account").cast("int").alias("contacts_total"),
    )
    evidence = accounts_held.groupBy(*KEY).agg(F.max("link_evidence").alias("social_link_evidence"))
    dishonest_contacts = flagged.groupBy(*KEY).agg(
        F.countDistinct(F.when(F.col("listed"), F.col("contact_key"))).cast("int").alias("contacts_dishonest"),
        F.countDistinct(F.when(F.col("listed") & (F.col("relation") == "family"), F.col("contact_key")))
        .cast("int").alias("family_dishonest"),
    )
    kin_spine = kin_at_filing.select(F.col("kin_key").alias("person_key"), "as_of").distinct()
    kin_assets = assets(kin_spine, asset_records).select(
        F.col("person_key").alias("kin_key"), "as_of", F.col("assets_value").alias("kin_value"))
    family_assets = kin_at_filing.join(kin_assets, ["kin_key", "as_of"]).groupBy(*KEY).agg(
        F.sum("kin_value").alias("kin_assets_value"))
    return spine.join(counts, KEY, "left").join(evidence, KEY, "left").join(dishonest_contacts, KEY, "left") \
        .join(family_assets, KEY, "left")
