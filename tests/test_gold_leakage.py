"""No leak, end to end, on a data set generated with leakage traps.

The generator's `--leakage-traps` mode delivers every record on its event day
and gives most nightly cases records dated on and after their filing day:
disposals, closures, listings, person versions, divorces, orders, transfers,
social links (`truth/leakage_traps.csv`). Two checks:

1. The contract's test: features of the cases filed by D are identical
   whether gold is built from the batches up to D or from every batch.
2. A stronger one: removing every trap record from silver (or undoing a trap
   update, such as a disposal) changes no feature of any case. This also
   covers the filing-day traps, which arrive in the case's own batch.
"""

from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest
from pyspark.sql import functions as F
from helpers.paths import CONF

from features.profile import Silver, case_features, debtor_profile, respondents
from pipelines.gold.build import SILVER_TABLES, build_gold, read_silver
from features.labels import labels
from features.catalogue import feature_names
from pipelines.core import storage
from pipelines.bronze import ingest
from pipelines.core.config import load_settings
from pipelines.core.privacy import DEV_SECRET, person_key_of
from pipelines.silver.build import conform
from pipelines.silver.resolve import resolve_entities
from pipelines.core import catalog
from synthetic import generate

CUT = dt.date(2026, 11, 2)
LAST = dt.date(2026, 11, 6)

# How to take a trap back out of silver: a trap that *ends* something (a disposal, an account
# closure) is undone by clearing the end; any other trap record is removed.
UNDO_BY_CLEARING = {("finance/assets", "disposed_on"): ["disposed_on", "disposed_to_key"],
                    ("finance/accounts", "closed_on"): ["closed_on"],
                    ("court/dishonest", "delisted_on"): ["delisted_on"],
                    ("social/links", "until"): ["until"]}


def _settings(landing, lake, run_date):
    return load_settings(CONF, landing=str(landing), lake=str(lake), run_date=run_date)


def _features(spark, settings, cases=None):
    df = storage.read_delta(spark, settings.table(catalog.CASE_FEATURES)).select("case_no", *feature_names())
    pdf = df.toPandas().set_index("case_no").sort_index()
    return pdf if cases is None else pdf.loc[sorted(cases)]


@pytest.fixture(scope="module")
def lakes(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("leak")
    generate(root / "data", persons=3000, seed=11, leakage_traps=True)
    landing = root / "data" / "landing"
    cut_landing = root / "cut_landing"
    for batch in landing.glob("*/*/dt=*"):
        if dt.date.fromisoformat(batch.name[3:]) <= CUT:
            shutil.copytree(batch, cut_landing / batch.relative_to(landing))

    cut = _settings(cut_landing, root / "cut_lake", CUT)
    ingest(spark, cut)
    conform(spark, cut, link=resolve_entities)
    build_gold(spark, cut, full_rebuild=True)

    # The full lake continues from the cut one: the later batches arrive, and gold is rebuilt.
    shutil.copytree(root / "cut_lake", root / "full_lake")
    full = _settings(landing, root / "full_lake", LAST)
    ingest(spark, full)
    conform(spark, full, link=resolve_entities)
    build_gold(spark, full, full_rebuild=True)
    traps = pd.read_csv(root / "data" / "truth" / "leakage_traps.csv", dtype=str)
    return root, cut, full, traps


def test_the_data_set_has_traps_of_every_family_around_the_cut(lakes):
    _, _, _, traps = lakes
    assert {"on_filing_day", "after_filing"} <= set(traps["timing"])
    assert traps["dataset"].nunique() >= 9
    filed = pd.to_datetime(traps["filed_on"]).dt.date
    assert ((filed <= CUT) & (pd.to_datetime(traps["event_date"]).dt.date > CUT)).any(), \
        "no trap of a case filed by the cut lies after it: the first check would prove nothing"


def test_features_do_not_change_when_later_batches_arrive(spark, lakes):
    _, cut, full, _ = lakes
    before = _features(spark, cut)
    assert len(before) > 100
    after = _features(spark, full, cases=before.index)
    pd.testing.assert_frame_equal(before, after, check_exact=False, rtol=1e-9)


def _without_traps(spark, silver: Silver, traps: pd.DataFrame) -> Silver:
    secret = DEV_SECRET.encode()
    tables = {f: getattr(silver, f) for f in SILVER_TABLES}
    by_table = {v.name: k for k, v in SILVER_TABLES.items()}
    for (dataset, event), rows in traps.groupby(["dataset", "event_column"]):
        field = by_table[dataset.replace("/", "_")]
        parts = rows["record_key"].str.split("|", expand=True)
        if dataset == "population/persons":
            keys = spark.createDataFrame([(person_key_of(i, secret), t) for i, t in parts.values],
                                         "k_person string, k_at string")
            cond = (F.col("person_key") == F.col("k_person")) & \
                (F.date_format("valid_from", "yyyy-MM-dd HH:mm:ss") == F.col("k_at"))
        elif dataset == "court/dishonest":
            keys = spark.createDataFrame([(person_key_of(i, secret), c) for i, c in parts.values],
                                         "k_person string, k_case string")
            cond = (F.col("person_key") == F.col("k_person")) & (F.col("case_no") == F.col("k_case"))
        elif dataset == "social/links":
            keys = spark.createDataFrame(parts.values.tolist(), "k_src string, k_dst string, k_relation string")
            cond = (F.col("src_account") == F.col("k_src")) & (F.col("dst_account") == F.col("k_dst")) & \
                (F.col("relation") == F.col("k_relation"))
        else:
            key_column = silver_key(dataset)
            keys = spark.createDataFrame([(k,) for k in rows["record_key"]], "k_id string")
            cond = F.col(key_column) == F.col("k_id")
        table = tables[field]
        hit = table.join(F.broadcast(keys), cond, "left_semi")
        rest = table.join(F.broadcast(keys), cond, "left_anti")
        clear = UNDO_BY_CLEARING.get((dataset, event))
        if clear:
            rest = rest.unionByName(hit.select(*(F.lit(None).cast(table.schema[c].dataType).alias(c)
                                                 if c in clear else F.col(c) for c in table.columns)))
        tables[field] = rest
    return Silver(**tables)


def silver_key(dataset: str) -> str:
    return {"marriage/registrations": "registration_id", "finance/accounts": "account_id",
            "finance/assets": "asset_id", "finance/transactions": "txn_id", "ecommerce/orders": "order_id",
            "social/accounts": "account_id", "court/closures": "case_no", "finance/balances": "account_id",
            "finance/loans": "loan_id"}[dataset]


def test_removing_the_traps_changes_no_feature(spark, lakes):
    """For the cases filed on day F, silver without the trap records dated F or later gives the same features.

    Traps dated before F may be legitimate history of a case filed on F (a relative's
    new house counts for a later case), so each filing day removes only what lies
    on or after it.
    """
    _, _, full, traps = lakes
    silver = read_silver(spark, full)
    with_traps = _features(spark, full)
    filed = storage.read_delta(spark, full.table(catalog.CASE_FEATURES)).select("case_no", "filed_on").toPandas()
    first_trap = pd.to_datetime(traps["event_date"]).dt.date.min()
    groups = [(None, filed[filed.filed_on < first_trap])] + \
        [(day, cases) for day, cases in filed[filed.filed_on >= first_trap].groupby("filed_on")]
    assert len(groups) >= 6
    for day, cases in groups:
        future = traps if day is None else traps[pd.to_datetime(traps["event_date"]).dt.date >= day]
        clean = _without_traps(spark, silver, future)
        chosen = clean.cases.where(F.col("case_no").isin(list(cases.case_no)))
        built = case_features(chosen, debtor_profile(respondents(chosen, clean.parties), clean),
                              labels(chosen, clean.closures, LAST))
        without = built.select("case_no", *feature_names()).toPandas().set_index("case_no").sort_index()
        # Values, not dtypes: an integer column of a subset without nulls is int, of the whole table float.
        pd.testing.assert_frame_equal(with_traps.loc[without.index], without, check_exact=False, rtol=1e-9,
                                      check_dtype=False,
                                      obj=f"case_features of the cases filed on {day or 'back-fill days'}")
