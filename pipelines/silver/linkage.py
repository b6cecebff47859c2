"""Entity resolution of e-commerce orders and social accounts to persons.

Orders and social accounts carry no full ID, so linking them is inference
(contract section 5). The design follows Splink's Fellegi-Sunter model, in
Spark SQL:

* **Blocking.** Candidates come from (1) the phone: anyone who ever held the
  number, with strong evidence only while it was theirs (person versions say
  when a number changed: phones are recycled), (2) the masked ID (region
  and last four characters), and (3) for a record with neither, its exact
  name within its region, if the registry gives that name to one person
  only. All are equi-joins on selective keys, so a common name never forms a
  block by itself, and a phone shared by thousands of orders meets only the
  one or two people who held it. A number no one held that records show with
  many names (a shop's counter) is set aside: it says nothing about the buyer.
* **Evidence.** Each comparison adds a match weight log2(m/u). The name's u is
  its term frequency among persons (Splink's TF adjustment): agreeing on 王伟
  says less than agreeing on a rare name. The masked ID (region + last four)
  gets the same treatment, and so does the region (against the hukou region)
  for a record the region block reached.
* **Decision.** The best candidate is linked only if its match probability
  clears `link_threshold` and beats the runner-up by `min_margin_bits`; a
  family sharing one phone, or a shop number with a stranger's name, stays
  unlinked rather than guessed.
* **Family.** A social account the first pass left unlinked is scored again
  with what its family links (`social/links`) say about the accounts already
  linked: a relative is someone else, so those persons are no candidates
  (this splits a phone two relatives share), and the relatives' hukou region
  is the account's region, where any name its region holds once will do.

Every record appears in the link table with its evidence, so what was not
linked, and why, can be audited.
"""

from __future__ import annotations

import logging
import math
from typing import NamedTuple

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from pipelines.core.config import LinkageSettings
from pipelines.silver.conform import latest_delivery

__all__ = ["LINK_COLUMNS", "link_records", "order_records", "social_records", "family_pairs",
           "person_phone_periods", "platform_masked_id"]

log = logging.getLogger(__name__)

LINK_COLUMNS = ["source", "record_id", "id_number", "status", "match_weight", "match_probability",
                "candidates", "runner_up_weight", "has_phone_at_time", "is_name_match", "is_masked_id_match",
                "is_region_match", "has_shared_phone", "name_frequency", "relatives_excluded"]
_KEY = ["source", "record_id"]
_SOCIAL = "social/accounts"


def platform_masked_id(id_number: Column) -> Column:
    """The platforms' masking: first 6 and last 4 characters, 8 `*` between."""
    return F.concat(F.substring(id_number, 1, 6), F.lit("********"), F.substring(id_number, 15, 4))


def order_records(orders: DataFrame) -> DataFrame:
    """Orders in the common record shape (latest delivery per order); the region is where it ships."""
    latest = latest_delivery(orders, ("order_id",), "batch_dt")
    return latest.select(F.lit("ecommerce/orders").alias("source"), F.col("order_id").alias("record_id"),
                         F.col("buyer_name").alias("name"), F.col("buyer_phone").alias("phone"),
                         F.upper("buyer_id_masked").alias("masked_id"), F.col("ship_region").alias("region"),
                         F.col("ordered_at").alias("seen_at"))


def social_records(accounts: DataFrame) -> DataFrame:
    """Social accounts in the common record shape; the phone is dated by registration."""
    latest = latest_delivery(accounts, ("account_id",), "batch_dt")
    return latest.select(F.lit(_SOCIAL).alias("source"), F.col("account_id").alias("record_id"),
                         F.col("real_name").alias("name"), "phone",
                         F.lit(None).cast("string").alias("masked_id"), F.lit(None).cast("string").alias("region"),
                         F.col("registered_at").alias("seen_at"))


def family_pairs(links: DataFrame) -> DataFrame:
    """(account_id, relative_account): family relations, both ways round (latest delivery per link).

    A relation that has ended is kept: a former relative is still someone else.
    """
    family = (latest_delivery(links, ("src_account", "dst_account", "relation"), "batch_dt")
              .where(F.col("relation") == "family"))
    return (family.select(F.col("src_account").alias("account_id"), F.col("dst_account").alias("relative_account"))
            .unionByName(family.select(F.col("dst_account").alias("account_id"),
                                       F.col("src_account").alias("relative_account")))
            .distinct())


def person_versions(persons: DataFrame) -> DataFrame:
    return latest_delivery(persons, ("id_number", "updated_at"), "batch_dt") \
        .select("id_number", "name", "gender", "phone", "hukou_region", "updated_at")


def person_phone_periods(versions: DataFrame) -> DataFrame:
    """(id_number, phone, held_from, held_until): when each number was the person's.

    A version's phone holds from its `updated_at` to the next version's; the
    first version also covers the time before the registry first saw it.
    """
    by_time = Window.partitionBy("id_number").orderBy("updated_at")
    return (versions
            .withColumn("held_until", F.lead("updated_at").over(by_time))
            .withColumn("held_from", F.when(F.row_number().over(by_time) == 1, F.lit(None))
                        .otherwise(F.col("updated_at")))
            .where(F.col("phone").isNotNull())
            .select("id_number", "phone", "held_from", "held_until"))


class _Registry(NamedTuple):
    """What the persons say, computed once and read by both passes."""

    population: int
    periods: DataFrame          # id_number, phone, held_from, held_until
    people: DataFrame           # id_number, _person_name, _person_gender, _person_region
    masked_ids: DataFrame       # id_number, masked_id
    homes: DataFrame            # id_number, name, hukou_region, _bearers (of the name, registry-wide)
    name_tf: DataFrame
    surname_tf: DataFrame
    mask_tf: DataFrame
    region_tf: DataFrame
    phone_usage: DataFrame      # phone, _holders, _strangers


def _title(name: Column) -> tuple[Column, Column]:
    """(surname, gender) of a courtesy form like 王先生 / 欧阳女士, else nulls."""
    match = F.regexp_extract(name, r"^(\p{IsHan}{1,2})(先生|女士)$", 1)
    title = F.regexp_extract(name, r"^(\p{IsHan}{1,2})(先生|女士)$", 2)
    return F.nullif(match, F.lit("")), F.when(title == "先生", "M").when(title == "女士", "F")


def _bears(name: Column, person_name: Column, person_gender: Column) -> Column:
    """The name is the person's, in full or as a courtesy form of the right gender."""
    surname, gender = _title(name)
    is_title = (F.substring(person_name, 1, F.length(surname)) == surname) & (person_gender == gender)
    return (person_name == name) | F.coalesce(is_title, F.lit(False))


def _registry(persons: DataFrame, records: DataFrame) -> _Registry:
    """Person versions, phone periods and the term frequencies (u-probabilities)."""
    # Everything below reads the versions: materialise them once instead of
    # re-running the window each time.
    versions = person_versions(persons).localCheckpoint()
    periods = person_phone_periods(versions)
    population = versions.select("id_number").distinct().count() or 1
    people = versions.select("id_number", "name", "gender").distinct()
    bearers = people.groupBy("name").agg(F.countDistinct("id_number").alias("_bearers"))
    name_tf = bearers.select("name", (F.col("_bearers") / population).alias("name_tf"))
    surname_tf = (people.select("id_number", F.substring("name", 1, 1).alias("_surname"), F.col("gender").alias("_g"))
                  .distinct().groupBy("_surname", "_g").agg((F.count(F.lit(1)) / population).alias("surname_tf")))
    masked_ids = versions.select("id_number", platform_masked_id(F.col("id_number")).alias("masked_id")).distinct()
    mask_tf = masked_ids.groupBy("masked_id").agg((F.count(F.lit(1)) / population).alias("masked_tf"))
    region_tf = (versions.select("id_number", F.col("hukou_region").alias("region")).distinct()
                 .groupBy("region").agg((F.count(F.lit(1)) / population).alias("region_tf")))
    # A phone is weak evidence if many people use it: everyone who held it,
    # plus every name records show with it that no holder bears (a shop's or a
    # courier's number shows hundreds). The holder's own "王先生" is not a stranger.
    holders = periods.groupBy("phone").agg(F.countDistinct("id_number").alias("_holders"))
    seen = records.where(F.col("phone").isNotNull() & F.col("name").isNotNull()).select("phone", "name").distinct()
    holder_names = (periods.select("phone", "id_number").distinct().join(people, "id_number")
                    .select("phone", F.col("name").alias("_holder_name"), "gender"))
    explained = (seen.join(holder_names, "phone").where(_bears(F.col("name"), F.col("_holder_name"), F.col("gender")))
                 .select("phone", "name"))
    strangers = (seen.join(explained, ["phone", "name"], "left_anti")
                 .groupBy("phone").agg(F.count(F.lit(1)).alias("_strangers")))
    registry = _Registry(
        population, periods,
        versions.select("id_number", F.col("name").alias("_person_name"), F.col("gender").alias("_person_gender"),
                        F.col("hukou_region").alias("_person_region")).distinct(),
        masked_ids, versions.select("id_number", "name", "hukou_region").distinct().join(bearers, "name"),
        name_tf, surname_tf, mask_tf, region_tf, holders.join(strangers, "phone", "full"))
    # Both passes read every table: materialise each once, not once per join.
    return _Registry(population, *(table.localCheckpoint() for table in registry[1:]))


def _set_aside_shared_phones(records: DataFrame, registry: _Registry, s: LinkageSettings) -> DataFrame:
    """Drop a shop's or a parcel locker's number from the records that carry it.

    No one in the registry ever held it and records show it with more names
    than a household has, so it says nothing about who ordered: such a record
    is matched as one without a phone (and `has_shared_phone` says so).
    """
    shared = (registry.phone_usage.where(F.col("_holders").isNull() & (F.col("_strangers") >= s.shared_phone_min_names))
              .select("phone", F.lit(True).alias("has_shared_phone")))
    return (records.join(shared, "phone", "left")
            .withColumn("has_shared_phone", F.coalesce("has_shared_phone", F.lit(False)))
            .withColumn("phone", F.when(~F.col("has_shared_phone"), F.col("phone"))))


def _candidates(records: DataFrame, registry: _Registry, relatives: DataFrame | None,
                is_region_a_city: bool) -> DataFrame:
    # Anyone who ever held the number is a candidate; whether they held it at
    # the record's time is evidence, weighed in `_score`.
    at_time = ((F.col("p.held_from").isNull() | (F.col("r.seen_at") >= F.col("p.held_from")))
               & (F.col("p.held_until").isNull() | (F.col("r.seen_at") < F.col("p.held_until"))))
    by_phone = (records.where(F.col("phone").isNotNull()).alias("r")
                .join(registry.periods.alias("p"), F.col("r.phone") == F.col("p.phone"))
                .select("r.source", "r.record_id", "p.id_number", at_time.alias("has_phone_at_time"),
                        F.lit(True).alias("has_phone_ever")))
    # Region + last four characters: a block of a few dozen people even in a
    # city of millions, small enough to compare names within.
    by_masked = (records.where(F.col("masked_id").isNotNull()).alias("r")
                 .join(registry.masked_ids.alias("n"), F.col("r.masked_id") == F.col("n.masked_id"))
                 .select("r.source", "r.record_id", "n.id_number", F.lit(False).alias("has_phone_at_time"),
                         F.lit(False).alias("has_phone_ever")))
    # With neither key, a record meets the people of its region who bear its
    # exact name. A relative's region points at a household, and there the
    # weights decide as in any block. An order's ship region is a whole city
    # that outsiders and relatives ship to as well: there only a name the
    # registry gives to a single person is a key (measured: BENCHMARKS.md).
    homes = registry.homes.where(F.col("_bearers") == 1) if is_region_a_city else registry.homes
    by_region = (records.where(F.col("phone").isNull() & F.col("masked_id").isNull()).alias("r")
                 .join(homes.alias("h"), (F.col("r.name") == F.col("h.name"))
                       & (F.col("r.region") == F.col("h.hukou_region")))
                 .select("r.source", "r.record_id", "h.id_number", F.lit(False).alias("has_phone_at_time"),
                         F.lit(False).alias("has_phone_ever")))
    blocked = (by_phone.unionByName(by_masked).unionByName(by_region)
               .groupBy("source", "record_id", "id_number")
               .agg(F.max("has_phone_at_time").alias("has_phone_at_time"),
                    F.max("has_phone_ever").alias("has_phone_ever")))
    if relatives is None:
        return blocked.withColumn("is_relative", F.lit(False))
    return (blocked.join(relatives.withColumn("is_relative", F.lit(True)), [*_KEY, "id_number"], "left")
            .withColumn("is_relative", F.coalesce("is_relative", F.lit(False))))


def _score(records: DataFrame, registry: _Registry, s: LinkageSettings,
           relatives: DataFrame | None = None, is_region_a_city: bool = True) -> DataFrame:
    """Every (record, candidate) pair with its evidence and match weight."""
    floor = 1.0 / registry.population
    title_surname, title_gender = _title(F.col("name"))
    # Beside a phone or a masked ID the region is no evidence: the relatives
    # who share a phone or order for each other share the region too.
    keyless = records.withColumn("region", F.when(F.col("phone").isNull() & F.col("masked_id").isNull(),
                                                  F.col("region")))
    compared = (_candidates(keyless, registry, relatives, is_region_a_city)
                .join(keyless.select(*_KEY, "name", "phone", "masked_id", "region"), _KEY)
                .join(registry.people, "id_number")
                .groupBy(*_KEY, "id_number", "has_phone_at_time", "has_phone_ever", "is_relative",
                         "name", "phone", "masked_id", "region")
                .agg(F.max(F.col("_person_name") == F.col("name")).alias("is_exact"),
                     F.max((F.substring("_person_name", 1, F.length(title_surname)) == title_surname)
                           & (F.col("_person_gender") == title_gender)).alias("is_title"),
                     F.max(F.col("_person_region") == F.col("region")).alias("is_region_match"))
                .join(registry.name_tf, "name", "left")
                .join(registry.surname_tf, (F.col("_surname") == title_surname) & (F.col("_g") == title_gender), "left")
                .join(registry.mask_tf, "masked_id", "left")
                .join(registry.region_tf, "region", "left")
                .join(registry.phone_usage, "phone", "left"))

    def tf(column: str) -> Column:
        return F.greatest(F.coalesce(F.col(column), F.lit(floor)), F.lit(floor))

    phone_users = F.coalesce(F.col("_holders"), F.lit(0)) + F.coalesce(F.col("_strangers"), F.lit(0))
    phone_tf = F.greatest(phone_users / registry.population, F.lit(floor))

    is_name_match = F.when(F.col("name").isNull(), F.lit(None)).otherwise(
        F.col("is_exact") | F.coalesce(F.col("is_title"), F.lit(False)))
    is_masked_match = F.when(F.col("masked_id").isNull(), F.lit(None)).otherwise(
        F.col("masked_id") == platform_masked_id(F.col("id_number")))
    phone_bits = (F.when(F.col("has_phone_at_time"), F.log2(F.lit(s.m_phone) / phone_tf))
                  .when(F.col("has_phone_ever"), F.log2(F.lit(s.m_phone_other_time) / phone_tf))
                  .when(F.col("phone").isNotNull(), math.log2(1 - s.m_phone - s.m_phone_other_time))
                  .otherwise(0.0))
    name_bits = (F.when(F.col("name").isNull(), 0.0)
                 .when(F.col("is_exact"), F.log2(F.lit(s.m_name_exact) / tf("name_tf")))
                 .when(F.col("is_title"), F.log2(F.lit(s.m_name_title) / tf("surname_tf")))
                 .otherwise(math.log2(1 - s.m_name_exact - s.m_name_title)))
    # A masked ID is a bucket (region + last four), not an identifier: agreeing
    # on it alone, while the name disagrees, is a collision and counts nothing.
    corroborated = F.coalesce(is_name_match, F.lit(True)) | F.col("has_phone_at_time")
    masked_bits = (F.when(is_masked_match & corroborated,
                          F.log2(F.lit(s.m_masked_id) / tf("masked_tf")))
                   .when(~is_masked_match, math.log2(1 - s.m_masked_id)).otherwise(0.0))
    region_bits = (F.when(F.col("region").isNull(), 0.0)
                   .when(F.col("is_region_match"), F.log2(F.lit(s.m_region) / tf("region_tf")))
                   .otherwise(math.log2(1 - s.m_region)))
    return compared.select(*_KEY, "id_number", "has_phone_at_time", "is_relative",
                           is_name_match.alias("is_name_match"), is_masked_match.alias("is_masked_id_match"),
                           F.when(F.col("region").isNotNull(), F.col("is_region_match")).alias("is_region_match"),
                           tf("name_tf").alias("name_frequency"),
                           (phone_bits + name_bits + masked_bits + region_bits).alias("match_weight"))


def _decide(scored: DataFrame, records: DataFrame, s: LinkageSettings) -> DataFrame:
    """One row per record: the best candidate who is not a relative, linked or not, and why."""
    excluded = scored.where("is_relative").groupBy(*_KEY).agg(F.count(F.lit(1)).alias("relatives_excluded"))
    best_first = Window.partitionBy(*_KEY).orderBy(F.desc("match_weight"), "id_number")
    per_record = Window.partitionBy(*_KEY)
    ranked = (scored.where(~F.col("is_relative")).drop("is_relative")
              .withColumn("_rank", F.row_number().over(best_first))
              .withColumn("candidates", F.count(F.lit(1)).over(per_record))
              .withColumn("runner_up_weight", F.lead("match_weight").over(best_first))
              .where("_rank = 1").drop("_rank"))
    margin = F.col("match_weight") - F.coalesce(F.col("runner_up_weight"), F.lit(-1e9))
    status = (F.when(F.col("match_weight") < s.link_threshold_bits, "weak")
              .when(margin < s.min_margin_bits, "ambiguous").otherwise("linked"))
    decided = (ranked.withColumn("match_probability", 1.0 / (1.0 + F.pow(F.lit(2.0), -F.col("match_weight"))))
               .withColumn("status", status))
    linked = (records.select(*_KEY, "has_shared_phone")
              .join(decided, _KEY, "left")
              .join(excluded, _KEY, "left")
              .withColumn("status", F.coalesce("status", F.lit("no_candidate")))
              .withColumn("candidates", F.coalesce("candidates", F.lit(0)))
              .withColumn("relatives_excluded", F.coalesce("relatives_excluded", F.lit(0)))
              # Only a link names a person: weak and ambiguous candidates are evidence, not identity.
              .withColumn("id_number", F.when(F.col("status") == "linked", F.col("id_number"))))
    return linked.select(*LINK_COLUMNS)


def _family_retry(first: DataFrame, records: DataFrame, family: DataFrame,
                  registry: _Registry) -> tuple[DataFrame, DataFrame]:
    """Unlinked social accounts with a linked relative: the records to score again, and the relatives."""
    linked_accounts = (first.where((F.col("source") == _SOCIAL) & (F.col("status") == "linked"))
                       .select(F.col("record_id").alias("relative_account"), F.col("id_number").alias("relative_id")))
    relatives = (family.join(linked_accounts, "relative_account")
                 .select(F.lit(_SOCIAL).alias("source"), F.col("account_id").alias("record_id"),
                         F.col("relative_id").alias("id_number"))
                 .join(first.where(F.col("status") != "linked").select(*_KEY), _KEY, "left_semi")
                 .distinct())
    # The relatives' region stands for the account's only when they all share one.
    homes = (relatives.join(registry.people, "id_number")
             .groupBy(*_KEY).agg(F.when(F.countDistinct("_person_region") == 1, F.min("_person_region"))
                                 .alias("_family_region")))
    retry = (records.where(F.col("source") == _SOCIAL).join(homes, _KEY)
             .withColumn("region", F.coalesce("region", "_family_region")).drop("_family_region"))
    return retry, relatives


def link_records(records: DataFrame, persons: DataFrame, settings: LinkageSettings,
                 family: DataFrame | None = None) -> DataFrame:
    """One row per record: its best person (or none), the decision and the evidence.

    `persons` is bronze `population/persons` (raw IDs: this runs in the raw
    layer); the caller pseudonymises `id_number` before anything leaves it.
    `family` (from `family_pairs`) lets unlinked social accounts use their
    relatives' links. Weights are in bits with an even prior over the blocked
    candidates, so `match_probability` = 2^w / (1 + 2^w).
    """
    records = records.localCheckpoint()   # read by the phone frequencies and by both passes
    registry = _registry(persons, records)
    records = _set_aside_shared_phones(records, registry, settings)
    first = _decide(_score(records, registry, settings), records, settings)
    if family is None:
        return first
    first = first.localCheckpoint()
    retry, relatives = _family_retry(first, records, family, registry)
    second = _decide(_score(retry, registry, settings, relatives, is_region_a_city=False), retry, settings)
    second = second.localCheckpoint()   # read twice below
    return first.join(second.select(*_KEY), _KEY, "left_anti").unionByName(second)
