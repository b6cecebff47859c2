"""Score newly filed cases with the champion, on the executors.

    champion = load_champion(settings)                     # models:/<name>@champion, from the registry
    report = score_cases(spark, settings, champion, T)     # -> gold/case_scores, that night's rows replaced

Every case of `gold/case_features` filed on or before T that no other night
has scored is scored tonight. The pickled model is broadcast once and applied
with `mapInPandas`, so rows never travel to the driver: each partition turns
its cases into the calibrated probability, the band and the top reasons in
Chinese (`models.reasons`, the same phrases as the model card). Re-running a
night replaces that night's rows in one Delta transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import pickle
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from models.metrics import BANDS, band_of
from models.reasons import contributions, top_reasons
from models.registry import Champion
from models.risk_model import RiskModel
from pipelines.core import catalog, storage
from pipelines.core.config import ScoringSettings, Settings

__all__ = ["BANDS", "ScoreReport", "SCORES_SCHEMA", "band_of",
           "score_frame", "cases_to_score", "score_cases"]

log = logging.getLogger(__name__)

SCORES_SCHEMA = T.StructType([
    T.StructField("case_no", T.StringType(), False),
    T.StructField("court_code", T.StringType()),
    T.StructField("filed_on", T.DateType()),
    T.StructField("model_name", T.StringType()),
    T.StructField("model_version", T.StringType()),
    T.StructField("probability", T.DoubleType()),
    T.StructField("band", T.StringType()),
    T.StructField("reasons", T.ArrayType(T.StringType())),
    T.StructField("reason_codes", T.ArrayType(T.StringType())),
    T.StructField("reason_contributions", T.ArrayType(T.DoubleType())),
    T.StructField("run_date", T.DateType()),
    T.StructField("scored_at", T.TimestampType()),
])


@dataclass
class ScoreReport:
    run_date: dt.date
    model: str
    cases: int
    bands: dict[str, int]
    seconds: float

    def to_text(self) -> str:
        bands = "  ".join(f"{b} {self.bands.get(b, 0)}" for b in BANDS)
        return (f"scored {self.cases} case(s) as of their filing dates with {self.model} "
                f"on run date {self.run_date}: {bands}  ({self.seconds:.1f}s)")


def score_frame(cases: pd.DataFrame, model: RiskModel, cfg: ScoringSettings) -> pd.DataFrame:
    """Gold case rows -> probability, band and reasons (pure pandas; runs on the executors)."""
    if cases.empty:
        return pd.DataFrame({"probability": [], "band": [], "reasons": [], "reason_codes": [],
                             "reason_contributions": []})
    X = model.matrix(cases)
    # TreeSHAP's contributions add up to the raw score, so one pass over the trees gives both
    # the probability and the reasons (a separate predict cost another fifth).
    by_feature, bias = contributions(model.booster, X)
    probability = model.calibrate(by_feature.sum(axis=1).to_numpy() + bias.to_numpy())
    why = top_reasons(by_feature, cases[model.features], k=cfg.reasons)
    texts = why[[f"reason_{i + 1}" for i in range(cfg.reasons)]].to_numpy(dtype=object)
    return pd.DataFrame({
        "probability": probability.astype(float),
        "band": band_of(probability, cfg.high, cfg.medium),
        "reasons": [[t for t in row if t is not None] for row in texts],
        "reason_codes": why["reason_codes"].to_numpy(),
        "reason_contributions": why["reason_contributions"].to_numpy(),
    }, index=cases.index)


def cases_to_score(spark: SparkSession, settings: Settings, run_date: dt.date) -> DataFrame:
    """Gold cases filed on or before `run_date` that no other night has scored."""
    cases = storage.read_delta(spark, settings.table(catalog.CASE_FEATURES)) \
        .where(F.col("filed_on") <= F.lit(run_date)).drop("label", "label_status", "label_as_of")
    scores_uri = settings.table(catalog.CASE_SCORES)
    if storage.delta_exists(spark, scores_uri):
        scored = storage.read_delta(spark, scores_uri).where(F.col("run_date") != F.lit(run_date))
        cases = cases.join(scored.select("case_no"), "case_no", "left_anti")
    return cases


def score_cases(spark: SparkSession, settings: Settings, champion: Champion, run_date: dt.date) -> ScoreReport:
    started = time.monotonic()
    cfg = settings.scoring
    model_bytes = spark.sparkContext.broadcast(pickle.dumps(champion.model))
    name, version = champion.name, champion.version
    scored_at = dt.datetime.now()

    def score_partitions(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model = pickle.loads(model_bytes.value)  # noqa: S301 - our own model, broadcast by this job
        for batch in batches:
            scored = score_frame(batch, model, cfg)
            yield pd.DataFrame({
                "case_no": batch["case_no"], "court_code": batch["court_code"], "filed_on": batch["filed_on"],
                "model_name": name, "model_version": version, **{c: scored[c] for c in scored.columns},
                "run_date": run_date, "scored_at": scored_at})

    # Gold may sit in one file; spread the cases so every core scores.
    cases = cases_to_score(spark, settings, run_date).repartition(spark.sparkContext.defaultParallelism)
    scores = cases.mapInPandas(score_partitions, SCORES_SCHEMA)
    uri = settings.table(catalog.CASE_SCORES)
    storage.replace_where(scores, uri, f"run_date = '{run_date.isoformat()}'")
    tonight = storage.read_delta(spark, uri).where(F.col("run_date") == F.lit(run_date))
    bands = {r["band"]: r["count"] for r in tonight.groupBy("band").count().collect()}
    report = ScoreReport(run_date, f"{name} v{version}", sum(bands.values()), bands, time.monotonic() - started)
    log.info("%s", report.to_text())
    return report
