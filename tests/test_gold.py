"""Gold: labels per contract section 4, the feature dictionary, combining
respondents, nightly runs against a full rebuild, and the gold gate."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.testing import assertDataFrameEqual
from helpers.silver_frames import frame, silver
from helpers.paths import ROOT

from features import catalogue
from features.profile import case_features, debtor_profile, respondents
from pipelines.gold.build import GoldError, build_gold
from features.labels import labels
from pipelines.gold.suites import gold_suites
from pipelines.core import storage
from pipelines.quality.layer import check_layer
from pipelines.core import catalog

D = dt.date(2026, 1, 10)                 # filed_on of the label cases; d + H = 2026-07-09
H_END = D + dt.timedelta(days=180)
LABEL_SCHEMA = "case_no string, label int, label_status string, label_as_of date"


def day(offset: int) -> str:
    return (D + dt.timedelta(days=offset)).isoformat()


# ---------------------------------------------------------------- labels, every branch of section 4
LABEL_CASES = [
    # case, closure, closed_on offset, T offset, expected (label, status)
    ("performed_in_horizon", "executed_in_full", 30, 40, (0, "labelled")),
    ("settled_on_the_horizon_day", "settled", 180, 200, (0, "labelled")),
    ("terminated_no_assets", "terminated_no_assets", 100, 120, (1, "labelled")),
    ("terminated_other", "terminated_other", 10, 10, (1, "labelled")),
    ("paid_after_the_horizon", "executed_in_full", 181, 200, (1, "labelled")),
    ("no_closure_horizon_passed", None, None, 180, (1, "labelled")),
    ("no_closure_horizon_not_passed", None, None, 179, (None, "censored")),
    ("closure_after_T_is_unknown", "executed_in_full", 50, 49, (None, "censored")),
    ("closure_after_T_past_horizon", "executed_in_full", 200, 190, (1, "labelled")),
    ("transferred", "transferred", 20, 30, (None, "excluded")),
    ("transferred_after_T", "transferred", 20, 19, (None, "censored")),
]


@pytest.mark.parametrize("case, closure, closed, t, expected", LABEL_CASES, ids=[c[0] for c in LABEL_CASES])
def test_label_branch(spark, case, closure, closed, t, expected):
    cases = frame(spark, "cases", [{"case_no": case, "filed_on": D.isoformat()}])
    closures = frame(spark, "closures", [{"case_no": case, "closure": closure, "closed_on": day(closed)}]
                     if closure else [])
    run_date = D + dt.timedelta(days=t)
    label, status = expected
    assertDataFrameEqual(labels(cases, closures, run_date),
                         spark.createDataFrame([(case, label, status, run_date)], LABEL_SCHEMA))


def test_labels_of_many_cases_at_once(spark):
    """The vectorised form agrees with the one-case form for all branches together."""
    cases = frame(spark, "cases", [{"case_no": c[0], "filed_on": D.isoformat()} for c in LABEL_CASES])
    closures = frame(spark, "closures", [{"case_no": c[0], "closure": c[1], "closed_on": day(c[2])}
                                         for c in LABEL_CASES if c[1]])
    run_date = D + dt.timedelta(days=185)
    expected = spark.createDataFrame([
        ("performed_in_horizon", 0, "labelled", run_date),
        ("settled_on_the_horizon_day", 0, "labelled", run_date),
        ("terminated_no_assets", 1, "labelled", run_date),
        ("terminated_other", 1, "labelled", run_date),
        ("paid_after_the_horizon", 1, "labelled", run_date),
        ("no_closure_horizon_passed", 1, "labelled", run_date),
        ("no_closure_horizon_not_passed", 1, "labelled", run_date),   # the horizon has passed at T
        ("closure_after_T_is_unknown", 0, "labelled", run_date),      # known by then, paid in time
        ("closure_after_T_past_horizon", 1, "labelled", run_date),
        ("transferred", None, "excluded", run_date),
        ("transferred_after_T", None, "excluded", run_date),           # known by then too
    ], LABEL_SCHEMA)
    assertDataFrameEqual(labels(cases, closures, run_date), expected)


# ---------------------------------------------------------------- the dictionary
def test_dictionary_has_every_dimension_and_enough_features():
    features = catalogue.load_dictionary()
    assert len(features) >= 60
    assert {f.dimension for f in features} == set(catalogue.DIMENSIONS)
    assert all(f.en and f.zh and f.reason_zh and f.sources for f in features)


def test_features_md_is_generated_from_the_dictionary():
    text = (ROOT / "FEATURES.md").read_text(encoding="utf-8")
    assert text == catalogue.render_markdown(catalogue.load_dictionary()), \
        "FEATURES.md is stale: run `python -m features.catalogue --write`"


def test_duplicate_feature_names_are_refused(tmp_path):
    path = tmp_path / "d.yaml"
    entry = ("- {name: x, dimension: case, unit: count, agg: case, sources: [court/cases], "
             "en: a, zh: b, reason_zh: c}\n")
    path.write_text(entry * 2, encoding="utf-8")
    with pytest.raises(ValueError, match="listed twice"):
        catalogue.load_dictionary.__wrapped__(path)


# ---------------------------------------------------------------- a small court
A, B, C = "a" * 64, "b" * 64, "c" * 64


def person(key, born, version="2015-01-01", **kw):
    return {"person_key": key, "valid_from": version, "birth_date": born, "hukou_region": "320312",
            "education": "bachelor", "occupation": "worker", "has_phone": True, "is_region_change": False,
            "is_phone_change": False, **kw}


def party(case_no, key, row, role="respondent"):
    return {"case_no": case_no, "role": role, "party_kind": "person", "party_key": key,
            "source_batch_dt": "2026-01-01", "source_file": "f", "source_row": row}


COURT = dict(
    persons=[person(A, "1980-05-01"), person(B, "1990-01-01", occupation="farmer"), person(C, "1970-01-01")],
    cases=[
        {"case_no": "C1", "court_code": "苏0312", "filed_on": "2026-01-10", "cause": "private_lending",
         "claim_amount": "50000", "applicant_kind": "person"},
        {"case_no": "C2", "court_code": "苏0312", "filed_on": "2026-03-01", "cause": "financial_loan",
         "claim_amount": "200000", "applicant_kind": "bank"},
        {"case_no": "C3", "court_code": "苏0405", "filed_on": "2026-06-01", "cause": "labor",
         "claim_amount": "8000", "applicant_kind": "person"},
    ],
    # C1 has two respondents (B listed first), C2 and C3 one each; C is the applicant of C3.
    parties=[party("C1", B, 1), party("C1", A, 2), party("C2", A, 3), party("C3", B, 4),
             party("C3", C, 5, role="applicant")],
    closures=[{"case_no": "C1", "closed_on": "2026-02-01", "closure": "executed_in_full", "amount_recovered": "50000"},
              {"case_no": "C2", "closed_on": "2026-07-01", "closure": "terminated_no_assets",
               "amount_recovered": "0"}],
    assets=[{"asset_id": "h1", "owner_key": A, "asset_type": "real_estate", "acquired_on": "2019-01-01",
             "declared_value": "900000"},
            {"asset_id": "v1", "owner_key": B, "asset_type": "vehicle", "acquired_on": "2020-01-01",
             "disposed_on": "2026-05-01", "disposed_to_key": C, "declared_value": "60000"}],
    dishonest=[{"person_key": B, "case_no": "C0", "listed_on": "2025-12-01", "ground": "conceals_assets"}],
)


@pytest.fixture(scope="module")
def court(spark):
    return silver(spark, **COURT)


def test_multi_respondent_case_combines_its_respondents(spark, court):
    cases = court.cases.where("case_no = 'C1'")
    profile = debtor_profile(respondents(cases, court.parties), court)
    # case_features has a column per feature: the ones this case is about.
    got = case_features(cases, profile, labels(cases, court.closures, dt.date(2026, 11, 6))).select(
        "case_no", "n_respondents", "assets_value", "dishonest_at_filing", "occupation", "age_at_filing",
        "claim_to_total_assets", "label", "label_status")
    expected = spark.createDataFrame([(
        "C1",
        2,
        900000.0 + 60000.0,       # assets_value: sum
        1,                        # dishonest_at_filing: max: B is on the list
        "farmer",                 # occupation: lead: B is listed first
        36,                       # age_at_filing: B, born 1990-01-01, on 2026-01-10
        50000 / 960000,           # claim_to_total_assets
        0, "labelled",
    )], "case_no string, n_respondents int, assets_value double, dishonest_at_filing int, occupation string, "
        "age_at_filing int, claim_to_total_assets double, label int, label_status string")
    # atol=1e-12: tighter than pytest.approx on the ratio, and under one ulp of 960,000, so the sum stays exact.
    assertDataFrameEqual(got, expected, rtol=0, atol=1e-12)
    assertDataFrameEqual(profile.select("person_key", "respondent_no"),
                         spark.createDataFrame([(B, 1), (A, 2)], "person_key string, respondent_no int"))


def test_min_features_take_the_most_recent_respondent(spark):
    """`agg: min` (the `days_since_*` features): the case shows the respondent with the most recent event.
    A (second respondent) was listed 21 days before C1's filing, B (listed first) 40: min gives 21, where
    `lead` or `max` would give 40; a respondent never listed (null) does not count."""
    dishonest = [*COURT["dishonest"], {"person_key": A, "case_no": "C0b", "listed_on": "2025-12-20",
                                       "ground": "obstructs"}]
    court = silver(spark, **{**COURT, "dishonest": dishonest})
    cases = court.cases.where("case_no = 'C1'")
    profile = debtor_profile(respondents(cases, court.parties), court)
    got = case_features(cases, profile, labels(cases, court.closures, dt.date(2026, 11, 6)))
    per_person = {r.person_key: r.days_since_dishonest_listing for r in profile.collect()}
    assert per_person == {B: 40, A: 21}
    assertDataFrameEqual(got.select("case_no", "days_since_dishonest_listing"),
                         spark.createDataFrame([("C1", 21)], "case_no string, days_since_dishonest_listing int"))


def test_case_features_columns_are_the_dictionary(spark, court):
    cases = court.cases
    profile = debtor_profile(respondents(cases, court.parties), court)
    built = case_features(cases, profile, labels(cases, court.closures, dt.date(2026, 11, 6)))
    assert built.columns == ["case_no", "court_code", "filed_on", *catalogue.feature_names(),
                             "label", "label_status", "label_as_of"]


def _settings(settings_for, tmp_path, run_date, lake="lake"):
    return settings_for(tmp_path / "landing", tmp_path / lake).model_copy(update={"run_date": run_date})


def _table(spark, settings, name):
    df = storage.read_delta(spark, settings.table(catalog.lookup("gold", name))).drop("features_built_on")
    return sorted(tuple(r) for r in df.collect())


def test_nightly_runs_equal_a_full_rebuild(spark, court, settings_for, tmp_path):
    """Three nights (cases arrive, closures arrive) give what one retraining run gives."""
    reports = [build_gold(spark, _settings(settings_for, tmp_path, dt.date.fromisoformat(t)), silver=court)
               for t in ("2026-03-05", "2026-06-10", "2026-09-01")]
    assert [r.new_cases for r in reports] == [2, 1, 0]
    assert [r.mode for r in reports] == ["full rebuild", "nightly", "nightly"]
    nightly = _settings(settings_for, tmp_path, dt.date(2026, 9, 1))
    statuses = {r[0]: r[-2] for r in _table(spark, nightly, "case_features")}
    assert reports[1].label_status == {"labelled": 1, "censored": 2}
    assert statuses == {"C1": "labelled", "C2": "labelled", "C3": "censored"}

    full = _settings(settings_for, tmp_path, dt.date(2026, 9, 1), lake="full")
    build_gold(spark, full, full_rebuild=True, silver=court)
    for name in ("case_features", "debtor_profile"):
        assert _table(spark, nightly, name) == _table(spark, full, name)

    with pytest.raises(GoldError, match="--full-rebuild"):
        build_gold(spark, _settings(settings_for, tmp_path, dt.date(2026, 6, 10)), silver=court)


def test_an_earlier_run_date_reproduces_an_earlier_state(spark, court, settings_for, tmp_path):
    settings = _settings(settings_for, tmp_path, dt.date(2026, 2, 1))
    report = build_gold(spark, settings, full_rebuild=True, silver=court)
    assert report.cases_total == 1                            # only C1 was filed by then
    (row,) = storage.read_delta(spark, settings.table(catalog.CASE_FEATURES)).collect()
    assert (row["case_no"], row["label"], row["label_status"]) == ("C1", 0, "labelled")


def test_gold_gate_passes_good_tables_and_fails_a_leak(spark, court, settings_for, tmp_path):
    settings = _settings(settings_for, tmp_path, dt.date(2026, 9, 1))
    build_gold(spark, settings, full_rebuild=True, silver=court)
    good = check_layer(spark, settings, "gold", gold_suites(), context_dir=tmp_path / "gx")
    assert good.success, good.to_text()

    # A days-since feature of 0 means an event on the filing day was used: a leak.
    uri = settings.table(catalog.CASE_FEATURES)
    leaked = storage.read_delta(spark, uri).withColumn("days_since_dishonest_listing",
                                                       storage.F.lit(0).cast("int"))
    storage.overwrite(leaked.localCheckpoint(), uri)
    bad = check_layer(spark, settings, "gold", gold_suites(), context_dir=tmp_path / "gx")
    assert not bad.success
    assert bad.failed(table="case_features", column="days_since_dishonest_listing")
