"""Credit history (信用历史): loans, earlier enforcement cases, the dishonest list.

- Loans: each loan's last monthly snapshot before filing says what was
  outstanding; all snapshots of the 24 months before filing give the worst
  overdue days.
- Earlier cases: filed before this filing date; a closure counts only if it
  happened before it too (an earlier case closed on the filing day was still
  open).
- Dishonest list: listed before the filing date, and not delisted before it.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from features.labels import NO_ASSETS, PERFORMED
from features.pit import AS_OF, KEY, as_of_join, before, held_at, money, within

__all__ = ["loans", "prior_cases", "dishonest", "dishonest_at_filing"]

CONCEALMENT = ("conceals_assets", "false_declaration", "obstructs")


def loans(spine: DataFrame, loan_snapshots: DataFrame) -> DataFrame:
    rows = loan_snapshots.select(
        "loan_id", F.col("borrower_key").alias("person_key"), F.col("as_of").alias("snapshot_on"),
        "issued_on", money("principal").alias("principal"), money("outstanding").alias("outstanding"),
        "overdue_days", "status")
    seen = as_of_join(spine, rows, "snapshot_on")
    per_loan = seen.groupBy(*KEY, "loan_id").agg(
        F.max_by(F.struct("outstanding", "status", "overdue_days", "principal", "issued_on"), "snapshot_on")
        .alias("last"),
        F.max(F.when(within("snapshot_on", months=24), F.col("overdue_days"))).alias("max_overdue_24m"),
        F.max((F.col("status") == "written_off").cast("int")).alias("ever_written_off"),
    )
    live = F.col("last.status").isin("current", "overdue") & (F.col("last.outstanding") > 0)
    return per_loan.groupBy(*KEY).agg(
        F.count(F.when(live, 1)).cast("int").alias("loans_outstanding"),
        F.sum(F.when(live, F.col("last.outstanding"))).alias("loans_outstanding_amount"),
        F.count(F.when(F.col("last.status") == "overdue", 1)).cast("int").alias("loans_overdue"),
        F.max("max_overdue_24m").cast("int").alias("max_overdue_days_24m"),
        F.sum("ever_written_off").cast("int").alias("loans_written_off"),
        F.count(F.when(within("last.issued_on", months=12), 1)).cast("int").alias("loans_issued_12m"),
    )


def overdue_months(loan_snapshots: DataFrame) -> DataFrame:
    """(person_key, month_end) at which some loan of the person was overdue or written off."""
    return loan_snapshots.where(F.col("status").isin("overdue", "written_off") | (F.col("overdue_days") > 0)) \
        .select(F.col("borrower_key").alias("person_key"), F.col("as_of").alias("month_end")).distinct()


def prior_cases(spine: DataFrame, cases: DataFrame, parties: DataFrame, closures: DataFrame) -> DataFrame:
    """Earlier cases of the person, as respondent and as applicant, and how they had closed."""
    involved = parties.where(F.col("party_key").isNotNull()).select(
        "case_no", "role", F.col("party_key").alias("person_key")).distinct()
    rows = involved.join(cases.select("case_no", F.col("filed_on").alias("other_filed_on"),
                                      money("claim_amount").alias("other_claim")), "case_no") \
        .join(closures.select("case_no", "closed_on", "closure"), "case_no", "left")
    seen = as_of_join(spine, rows, "other_filed_on")
    resp = F.col("role") == "respondent"
    closed = F.col("closed_on").isNotNull() & before("closed_on")
    return seen.groupBy(*KEY).agg(
        F.count(F.when(resp, 1)).cast("int").alias("prior_cases"),
        F.count(F.when(resp & ~closed, 1)).cast("int").alias("prior_cases_open"),
        F.count(F.when(resp & closed & F.col("closure").isin(*NO_ASSETS), 1)).cast("int")
        .alias("prior_cases_no_assets"),
        F.count(F.when(resp & closed & F.col("closure").isin(*PERFORMED), 1)).cast("int")
        .alias("prior_cases_performed"),
        F.sum(F.when(resp, F.col("other_claim"))).alias("prior_claims_amount"),
        F.datediff(F.col(AS_OF), F.max(F.when(resp, F.col("other_filed_on")))).alias("days_since_prior_case"),
        F.count(F.when(~resp, 1)).cast("int").alias("cases_as_applicant"),
        F.sum(F.when(~resp, F.col("other_claim"))).alias("claims_as_applicant_amount"),
    )


def dishonest_at_filing() -> F.Column:
    return held_at("listed_on", "delisted_on")


def dishonest(spine: DataFrame, listings: DataFrame) -> DataFrame:
    rows = listings.select("person_key", "listed_on", "delisted_on", "ground")
    seen = as_of_join(spine, rows, "listed_on")
    return seen.groupBy(*KEY).agg(
        F.max(dishonest_at_filing().cast("int")).alias("dishonest_at_filing"),
        F.count("*").cast("int").alias("dishonest_listings"),
        F.count(F.when(F.col("ground").isin(*CONCEALMENT), 1)).cast("int").alias("dishonest_concealment_listings"),
        F.datediff(F.col(AS_OF), F.max("listed_on")).alias("days_since_dishonest_listing"),
    )
