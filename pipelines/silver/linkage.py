"""Entity resolution of e-commerce orders and social accounts to persons.

Orders and social accounts carry no full ID, so linking them is inference
(contract section 5). The design follows Splink's Fellegi-Sunter model, in
Spark SQL:

* **Blocking.** Candidates come from (1) the phone: anyone who ever held the
  number, with strong evidence only while it was theirs (person versions say
  when a number changed: phones are recycled), and (2) the masked ID (region
  and last four characters). Both joins are equi-joins on selective keys, so a
  very common name never forms a block by itself, and a phone shared by
  thousands of orders meets only the one or two people who held it.
* **Evidence.** Each comparison adds a match weight log2(m/u). The name's u is
  its term frequency among persons (Splink's TF adjustment): agreeing on 王伟
  says less than agreeing on a rare name. The masked ID (region + last four)
  gets the same treatment.
* **Decision.** The best candidate is linked only if its match probability
  clears `link_threshold` and beats the runner-up by `min_margin_bits`; a
  family sharing one phone, or a shop number with a stranger's name, stays
  unlinked rather than guessed.

Every record appears in the link table with its evidence, so what was not
linked, and why, can be audited.
"""

from __future__ import annotations

import logging
import math

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from pipelines.config import LinkageSettings
from pipelines.silver.conform import latest_delivery

__all__ = ["LINK_COLUMNS", "link_records", "order_records", "social_records", "person_phone_periods", "mask_id"]

log = logging.getLogger(__name__)

LINK_COLUMNS = ["source", "record_id", "id_number", "status", "match_weight", "match_probability",
                "candidates", "runner_up_weight", "has_phone_at_time", "is_name_match", "is_masked_id_match",
                "name_frequency"]


def mask_id(id_number: Column) -> Column:
    """The platforms' masking: first 6 and last 4 characters, 8 `*` between."""
    return F.concat(F.substring(id_number, 1, 6), F.lit("********"), F.substring(id_number, 15, 4))


def order_records(orders: DataFrame) -> DataFrame:
    """Orders in the common record shape (latest delivery per order)."""
    latest = latest_delivery(orders, ("order_id",), "batch_dt")
    return latest.select(F.lit("ecommerce/orders").alias("source"), F.col("order_id").alias("record_id"),
                         F.col("buyer_name").alias("name"), F.col("buyer_phone").alias("phone"),
                         F.upper("buyer_id_masked").alias("masked_id"), F.col("ordered_at").alias("seen_at"))


def social_records(accounts: DataFrame) -> DataFrame:
    """Social accounts in the common record shape; the phone is dated by registration."""
    latest = latest_delivery(accounts, ("account_id",), "batch_dt")
    return latest.select(F.lit("social/accounts").alias("source"), F.col("account_id").alias("record_id"),
                         F.col("real_name").alias("name"), "phone",
                         F.lit(None).cast("string").alias("masked_id"), F.col("registered_at").alias("seen_at"))


def person_versions(persons: DataFrame) -> DataFrame:
    return latest_delivery(persons, ("id_number", "updated_at"), "batch_dt") \
        .select("id_number", "name", "gender", "phone", "updated_at")


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


def _candidates(records: DataFrame, periods: DataFrame, names: DataFrame) -> DataFrame:
    # Anyone who ever held the number is a candidate; whether they held it at
    # the record's time is evidence, weighed in `link_records`.
    at_time = ((F.col("p.held_from").isNull() | (F.col("r.seen_at") >= F.col("p.held_from")))
               & (F.col("p.held_until").isNull() | (F.col("r.seen_at") < F.col("p.held_until"))))
    by_phone = (records.where(F.col("phone").isNotNull()).alias("r")
                .join(periods.alias("p"), F.col("r.phone") == F.col("p.phone"))
                .select("r.source", "r.record_id", "p.id_number", at_time.alias("has_phone_at_time"),
                        F.lit(True).alias("has_phone_ever")))
    # Region + last four characters: a block of a few dozen people even in a
    # city of millions, small enough to compare names within.
    masked_ids = names.select("id_number", "masked_id").distinct()
    by_masked = (records.where(F.col("masked_id").isNotNull()).alias("r")
                 .join(masked_ids.alias("n"), F.col("r.masked_id") == F.col("n.masked_id"))
                 .select("r.source", "r.record_id", "n.id_number", F.lit(False).alias("has_phone_at_time"),
                         F.lit(False).alias("has_phone_ever")))
    return (by_phone.unionByName(by_masked)
            .groupBy("source", "record_id", "id_number")
            .agg(F.max("has_phone_at_time").alias("has_phone_at_time"),
                 F.max("has_phone_ever").alias("has_phone_ever")))


def _title(name: Column) -> tuple[Column, Column]:
    """(surname, gender) of a courtesy form like 王先生 / 欧阳女士, else nulls."""
    match = F.regexp_extract(name, r"^(\p{IsHan}{1,2})(先生|女士)$", 1)
    title = F.regexp_extract(name, r"^(\p{IsHan}{1,2})(先生|女士)$", 2)
    return F.nullif(match, F.lit("")), F.when(title == "先生", "M").when(title == "女士", "F")


def _frequencies(versions: DataFrame, periods: DataFrame, records: DataFrame, population: int):
    """Term frequencies: the u-probabilities of agreeing on a value by chance."""
    people = versions.select("id_number", "name", "gender").distinct()
    name_tf = people.groupBy("name").agg((F.countDistinct("id_number") / population).alias("name_tf"))
    surname_tf = (people.select("id_number", F.substring("name", 1, 1).alias("surname"), "gender").distinct()
                  .groupBy("surname", "gender").agg((F.count(F.lit(1)) / population).alias("surname_tf")))
    mask_tf = (people.select("id_number", mask_id(F.col("id_number")).alias("masked_id")).distinct()
               .groupBy("masked_id").agg((F.count(F.lit(1)) / population).alias("masked_tf")))
    # A phone is weak evidence if many people held it, or if records show it
    # with many different names (a shop's or a courier's number).
    holders = periods.groupBy("phone").agg(F.countDistinct("id_number").alias("_holders"))
    names_seen = (records.where(F.col("phone").isNotNull() & F.col("name").isNotNull())
                  .groupBy("phone").agg(F.countDistinct("name").alias("_names")))
    phone_tf = (holders.join(names_seen, "phone", "full")
                .select("phone", (F.greatest(F.coalesce("_holders", F.lit(1)), F.coalesce("_names", F.lit(1)))
                                  / population).alias("phone_tf")))
    return name_tf, surname_tf, mask_tf, phone_tf


def link_records(records: DataFrame, persons: DataFrame, settings: LinkageSettings) -> DataFrame:
    """One row per record: its best person (or none), the decision and the evidence.

    `persons` is bronze `population/persons` (raw IDs: this runs in the raw
    layer); the caller pseudonymises `id_number` before anything leaves it.
    Weights are in bits with an even prior over the blocked candidates, so
    `match_probability` = 2^w / (1 + 2^w).
    """
    s = settings
    # Periods, names, frequencies and the population count all read the
    # versions: materialise them once instead of re-running the window each time.
    versions = person_versions(persons).localCheckpoint()
    periods = person_phone_periods(versions)
    population = versions.select("id_number").distinct().count() or 1
    floor = 1.0 / population
    names = versions.select("id_number", "name").distinct().withColumn("masked_id", mask_id(F.col("id_number")))
    name_tf, surname_tf, mask_tf, phone_tf = _frequencies(versions, periods, records, population)
    people = versions.select("id_number", F.col("name").alias("_person_name"),
                             F.col("gender").alias("_person_gender")).distinct()

    title_surname, title_gender = _title(F.col("name"))
    compared = (_candidates(records, periods, names)
                .join(records.select("source", "record_id", "name", "phone", "masked_id"), ["source", "record_id"])
                .join(people, "id_number")
                .groupBy("source", "record_id", "id_number", "has_phone_at_time", "has_phone_ever",
                         "name", "phone", "masked_id")
                .agg(F.max(F.col("_person_name") == F.col("name")).alias("is_exact"),
                     F.max((F.substring("_person_name", 1, F.length(title_surname)) == title_surname)
                           & (F.col("_person_gender") == title_gender)).alias("is_title"))
                .join(name_tf, "name", "left")
                .join(surname_tf.withColumnRenamed("surname", "_surname").withColumnRenamed("gender", "_g"),
                      (F.col("_surname") == title_surname) & (F.col("_g") == title_gender), "left")
                .join(mask_tf, "masked_id", "left")
                .join(phone_tf, "phone", "left"))

    def tf(column: str) -> Column:
        return F.greatest(F.coalesce(F.col(column), F.lit(floor)), F.lit(floor))

    is_name_match = F.when(F.col("name").isNull(), F.lit(None)).otherwise(
        F.col("is_exact") | F.coalesce(F.col("is_title"), F.lit(False)))
    is_masked_match = F.when(F.col("masked_id").isNull(), F.lit(None)).otherwise(
        F.col("masked_id") == mask_id(F.col("id_number")))
    phone_bits = (F.when(F.col("has_phone_at_time"), F.log2(F.lit(s.m_phone) / tf("phone_tf")))
                  .when(F.col("has_phone_ever"), F.log2(F.lit(s.m_phone_other_time) / tf("phone_tf")))
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
    scored = compared.select("source", "record_id", "id_number", "has_phone_at_time",
                             is_name_match.alias("is_name_match"), is_masked_match.alias("is_masked_id_match"),
                             tf("name_tf").alias("name_frequency"),
                             (phone_bits + name_bits + masked_bits).alias("match_weight"))

    best_first = Window.partitionBy("source", "record_id").orderBy(F.desc("match_weight"), "id_number")
    per_record = Window.partitionBy("source", "record_id")
    ranked = (scored.withColumn("_rank", F.row_number().over(best_first))
              .withColumn("candidates", F.count(F.lit(1)).over(per_record))
              .withColumn("runner_up_weight", F.lead("match_weight").over(best_first))
              .where("_rank = 1").drop("_rank"))
    margin = F.col("match_weight") - F.coalesce(F.col("runner_up_weight"), F.lit(-1e9))
    status = (F.when(F.col("match_weight") < s.link_threshold_bits, "weak")
              .when(margin < s.min_margin_bits, "ambiguous").otherwise("linked"))
    decided = (ranked.withColumn("match_probability", 1.0 / (1.0 + F.pow(F.lit(2.0), -F.col("match_weight"))))
               .withColumn("status", status))
    linked = (records.select("source", "record_id")
              .join(decided, ["source", "record_id"], "left")
              .withColumn("status", F.coalesce("status", F.lit("no_candidate")))
              .withColumn("candidates", F.coalesce("candidates", F.lit(0)))
              # Only a link names a person: weak and ambiguous candidates are evidence, not identity.
              .withColumn("id_number", F.when(F.col("status") == "linked", F.col("id_number"))))
    return linked.select(*LINK_COLUMNS)
