"""Identity (身份特质): who the debtor was on the filing date.

Attributes come from the last person version with `updated_at` before the
filing date (SCD2 in silver), marital status from the last marriage or
divorce registration before it.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from features.pit import AS_OF, KEY, as_of_join, within

__all__ = ["identity", "marital_events"]


def identity(spine: DataFrame, persons: DataFrame) -> DataFrame:
    versions = persons.select(
        "person_key", "valid_from", F.to_date("valid_from").alias("version_on"), "birth_date", "hukou_region",
        "education", "occupation", "has_phone", "is_region_change", "is_phone_change")
    seen = as_of_join(spine, versions, "version_on")
    latest = F.max_by(F.struct("birth_date", "hukou_region", "education", "occupation", "has_phone"),
                      "valid_from")
    out = seen.groupBy(*KEY).agg(
        latest.alias("v"),
        F.max(F.when(F.col("is_region_change"), F.col("version_on"))).alias("last_region_change"),
        F.count(F.when(F.col("is_phone_change") & within("version_on", months=12), 1)).alias("phone_changes_12m"),
        F.count("*").alias("registry_versions"),
    )
    return out.select(
        *KEY,
        F.floor(F.months_between(F.col(AS_OF), "v.birth_date") / 12).cast("int").alias("age_at_filing"),
        F.col("v.education").alias("education"),
        F.col("v.occupation").alias("occupation"),
        F.substring("v.hukou_region", 1, 2).alias("hukou_province"),
        (F.datediff(F.col(AS_OF), "last_region_change") / 365.25).alias("years_since_registration_change"),
        F.col("phone_changes_12m").cast("int").alias("phone_changes_12m"),
        F.col("v.has_phone").cast("int").alias("has_phone"),
    )


def marital_events(registrations: DataFrame) -> DataFrame:
    """Each registration once per spouse: (person_key, partner_key, kind, registered_on, registration_id)."""
    cols = ["kind", "registered_on", "registration_id"]
    a = registrations.select(F.col("spouse_a_key").alias("person_key"), F.col("spouse_b_key").alias("partner_key"), *cols)
    b = registrations.select(F.col("spouse_b_key").alias("person_key"), F.col("spouse_a_key").alias("partner_key"), *cols)
    return a.unionByName(b)


def marital(spine: DataFrame, registrations: DataFrame) -> DataFrame:
    """Marital status at filing and the divorce history before it."""
    seen = as_of_join(spine, marital_events(registrations), "registered_on")
    is_divorce = F.col("kind") == "divorce"
    out = seen.groupBy(*KEY).agg(
        F.max_by("kind", F.struct("registered_on", "registration_id")).alias("last_kind"),
        F.count(F.when(is_divorce, 1)).alias("divorces_before_filing"),
        F.max(F.when(is_divorce, F.col("registered_on"))).alias("last_divorce_on"),
        F.count(F.when(is_divorce & within("registered_on", months=12), 1)).alias("divorces_12m"),
    )
    return out.select(
        *KEY,
        F.when(F.col("last_kind") == "marriage", "married").otherwise("divorced").alias("marital_status"),
        F.col("divorces_before_filing").cast("int").alias("divorces_before_filing"),
        (F.col("divorces_12m") > 0).cast("int").alias("divorced_12m"),
        F.datediff(F.col(AS_OF), "last_divorce_on").alias("days_since_divorce"),
    )
