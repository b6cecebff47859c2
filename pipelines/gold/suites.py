"""Quality suites of the gold layer, derived from the feature dictionary.

Besides keys and label values, the ranges are point-in-time invariants: every
`days since` feature is at least 1, because the event it measures from must
lie strictly before the filing date. A value of 0 would mean a leak.
"""

from __future__ import annotations

from features.catalogue import Feature, load_dictionary
from pipelines.core.contract import dataset
from pipelines.quality import Between, Columns, InSet, Integrity, NotNull, TableSuite, Unique
from pipelines.quality.checks import Check

__all__ = ["gold_suites", "watch_suites"]

SIGNED = {"deposit_change_4q"}                      # a change may be negative
ENUMS = {
    "education": ("population/persons", "education"),
    "occupation": ("population/persons", "occupation"),
    "cause": ("court/cases", "cause"),
    "applicant_kind": ("court/cases", "applicant_kind"),
}


def _range(f: Feature) -> list[Check]:
    if f.unit in ("count", "CNY", "ratio") and f.name not in SIGNED:
        return [Between(f.name, min=0)]
    if f.unit == "flag":
        return [InSet(f.name, (0, 1))]
    if f.unit == "share":
        return [Between(f.name, min=0, max=1)]
    if f.name.startswith("days_since"):
        return [Between(f.name, min=1)]                # the event lies strictly before filing
    if f.unit == "days":
        return [Between(f.name, min=0)]
    if f.name == "age_at_filing":
        return [Between(f.name, min=0, max=130), Between(f.name, min=16, max=100, severity="warning")]
    if f.unit == "years":
        return [Between(f.name, min=0, strict_min=True)]
    if f.name in ENUMS:
        return [InSet(f.name, dataset(ENUMS[f.name][0]).column(ENUMS[f.name][1]).values)]
    if f.name == "marital_status":
        return [InSet(f.name, ("married", "divorced", "none_registered"))]
    return []


def gold_suites() -> list[TableSuite]:
    features = load_dictionary()
    person_level = [f for f in features if f.agg != "case"]
    case_checks: list[Check] = [
        Columns({c: None for c in ("case_no", "court_code", "filed_on", *(f.name for f in features),
                                   "label", "label_status", "label_as_of", "features_built_on")}, exact=True),
        NotNull(["case_no", "court_code", "filed_on", "label_status", "label_as_of"]),
        Unique("case_no"),
        InSet("label_status", ("labelled", "censored", "excluded")),
        InSet("label", (0, 1)),
        NotNull("n_respondents"),
        Between("n_respondents", min=1, severity="warning"),
    ]
    profile_checks: list[Check] = [
        Columns({c: None for c in ("case_no", "person_key", "filed_on", "respondent_no",
                                   *(f.name for f in person_level), "features_built_on")}, exact=True),
        NotNull(["case_no", "person_key", "filed_on", "respondent_no"]),
        Unique(["case_no", "person_key"]),
        Integrity("case_no", "case_features", at_least=1.0),
        # A respondent unknown to the population registry has no identity features.
        NotNull("age_at_filing", mostly=0.9, severity="warning"),
    ]
    for f in features:
        checks = _range(f)
        case_checks += checks
        if f.agg != "case":
            profile_checks += checks
    return [TableSuite("case_features", case_checks), TableSuite("debtor_profile", profile_checks)]


WATCH_COLUMNS = ("run_date", "court_code", "case_no", "filed_on", "closed_on", "claim_amount", "amount_recovered",
                 "outstanding", "recoverable_estimate", "recovery_ratio", "rank_in_court", "respondents",
                 "respondents_with_leads", "leads_count", "leads")


def watch_suites() -> list[TableSuite]:
    """`gold/asset_watch`, gated on the run date's rows before any court gets its file."""
    return [TableSuite("asset_watch", [
        Columns({c: None for c in WATCH_COLUMNS}, exact=True),
        NotNull(["run_date", "court_code", "case_no", "closed_on", "outstanding", "recoverable_estimate",
                 "recovery_ratio", "rank_in_court", "leads_count"]),
        Unique(["run_date", "case_no"]),
        Unique(["run_date", "court_code", "rank_in_court"]),
        Between("outstanding", min=0, strict_min=True),          # a settled debt is not watched
        Between("recoverable_estimate", min=0),
        Between("recovery_ratio", min=0, max=1),                 # the estimate is capped at what is owed
        Between("leads_count", min=1),                           # an empty debtor stays silent
        Between("respondents_with_leads", min=1),
        Integrity("case_no", "case_features", at_least=1.0),     # a watched case is a case gold knows
    ])]
