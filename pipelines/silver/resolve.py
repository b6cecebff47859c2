"""Run entity resolution and carry its links into silver.

Writes `silver/entity_links` (one row per order and social account: the
person's key or none, the decision, the evidence) and sets `person_key` and
`match_confidence` on `silver/ecommerce_orders` and `silver/social_accounts`.
Raw IDs exist only inside this step (read from bronze) and are pseudonymised
before anything is written. The family relations in bronze `social/links`
let an account its phone and name leave undecided use its relatives' links.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

from pipelines.core import catalog, storage
from pipelines.core.config import Settings
from pipelines.core.timing import stage
from pipelines.silver.linkage import family_pairs, link_records, order_records, social_records

__all__ = ["resolve_entities", "LINKED_TABLES"]

log = logging.getLogger(__name__)

# silver table -> (link source, the table's record id column)
LINKED_TABLES = {"ecommerce_orders": ("ecommerce/orders", "order_id"),
                 "social_accounts": ("social/accounts", "account_id")}


def resolve_entities(spark: SparkSession, settings: Settings, pseudonymise: Callable[[Column], Column]) -> None:
    with stage("entity_resolution", log) as timed:
        persons_uri = settings.table(catalog.BRONZE["population_persons"])
        if not storage.delta_exists(spark, persons_uri):
            log.warning("no bronze persons yet: entity resolution skipped")
            return
        sources = []
        for uri, shape in ((settings.table(catalog.BRONZE["ecommerce_orders"]), order_records),
                           (settings.table(catalog.BRONZE["social_accounts"]), social_records)):
            if storage.delta_exists(spark, uri):
                sources.append(shape(storage.read_delta(spark, uri)))
        if not sources:
            return
        records = sources[0] if len(sources) == 1 else sources[0].unionByName(sources[1])
        social_links_uri = settings.table(catalog.BRONZE["social_links"])
        family = (family_pairs(storage.read_delta(spark, social_links_uri))
                  if storage.delta_exists(spark, social_links_uri) else None)
        links = link_records(records, storage.read_delta(spark, persons_uri), settings.linkage, family)
        links = (links.withColumn("person_key", pseudonymise(F.col("id_number"))).drop("id_number")
                 .withColumn("match_confidence", F.when(F.col("status") == "linked", F.col("match_probability"))))
        links_uri = settings.table(catalog.ENTITY_LINKS)
        storage.overwrite(links, links_uri)
        links = storage.read_delta(spark, links_uri)
        for table, (source, id_column) in LINKED_TABLES.items():
            uri = settings.table(catalog.SILVER[table])
            if storage.delta_exists(spark, uri):
                # each record's person_key and confidence, where they changed
                updates = (links.where(F.col("source") == source)
                           .select(F.col("record_id").alias(id_column), "person_key", "match_confidence"))
                storage.update_columns(spark, uri, updates, [id_column], ["person_key", "match_confidence"])
        counts = {r.status: r["count"] for r in links.groupBy("status").count().collect()}
        timed.rows, timed.fields["statuses"] = sum(counts.values()), counts
