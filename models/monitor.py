"""The nightly drift check: PSI of the score and the top features, kept in `monitor/drift`.

Two monitored populations per night, each against the champion's training
window (the reference logged with the model, `models.train.DRIFT_REFERENCE`):
- `night`: the cases scored tonight;
- `recent_<N>d`: every scored case filed in the last N days (`monitor.window_days`),
  which is what usually has enough cases for the PSI to mean something.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

import mlflow
import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from models.drift import drift_counts, drift_rows
from models.registry import Champion
from models.train import DRIFT_REFERENCE
from pipelines.core import catalog, storage
from pipelines.core.config import Settings

__all__ = ["DriftReport", "monitor"]

log = logging.getLogger(__name__)

DRIFT_COLUMNS = ["run_date", "scope", "feature", "psi", "level", "n_cases", "n_reference", "model_version",
                 "computed_at"]
DRIFT_SCHEMA = ("run_date date, scope string, feature string, psi double, level string, n_cases long, "
                "n_reference long, model_version string, computed_at timestamp")


@dataclass
class DriftReport:
    table: pd.DataFrame
    shifted: list[str]
    seconds: float
    note: str | None = None

    def to_text(self) -> str:
        if self.note:
            return f"drift: {self.note}"
        lines = [f"drift (PSI against the training window, {self.seconds:.1f}s):"]
        for row in self.table.sort_values(["scope", "psi"], ascending=[True, False]).head(24).itertuples():
            flag = "  <<< SHIFT" if row.level == "shift" else ""
            lines.append(f"  {row.scope:<12} {row.feature:<36} PSI {row.psi:7.3f}  n {row.n_cases:>6}  "
                         f"{row.level}{flag}")
        return "\n".join(lines)


def _reference(champion: Champion) -> dict | None:
    try:
        return mlflow.artifacts.load_dict(f"runs:/{champion.run_id}/{DRIFT_REFERENCE}")
    except Exception:  # noqa: BLE001 - a model registered before drift references existed
        return None


def monitor(spark: SparkSession, settings: Settings, champion: Champion, run_date: dt.date) -> DriftReport:
    started = time.monotonic()
    cfg = settings.monitor
    reference = _reference(champion)
    if reference is None:
        return DriftReport(pd.DataFrame(columns=DRIFT_COLUMNS), [], 0.0,
                           f"model v{champion.version} has no drift reference ({DRIFT_REFERENCE}); retrain to get one")
    scores = storage.read_delta(spark, settings.table(catalog.CASE_SCORES))
    features = storage.read_delta(spark, settings.table(catalog.CASE_FEATURES))
    watched = [name for name in reference["variables"] if name in features.columns]
    scored = scores.select("case_no", "probability", "run_date", "filed_on") \
        .join(features.select("case_no", *watched), "case_no", "left")
    since = run_date - dt.timedelta(days=cfg.window_days)
    populations = {
        "night": scored.where(F.col("run_date") == F.lit(run_date)),
        f"recent_{cfg.window_days}d": scored.where((F.col("filed_on") > F.lit(since))
                                                   & (F.col("filed_on") <= F.lit(run_date))),
    }
    rows = []
    for scope, population in populations.items():
        counts = drift_counts(population, reference)
        rows += drift_rows(scope, reference, counts, cfg.investigate, cfg.shift, cfg.min_cases)
    table = pd.DataFrame(rows).assign(run_date=run_date, model_version=champion.version,
                                      computed_at=dt.datetime.now())[DRIFT_COLUMNS]
    storage.replace_where(spark.createDataFrame(table, DRIFT_SCHEMA), settings.table(catalog.DRIFT),
                          f"run_date = '{run_date.isoformat()}'")
    shifted = sorted({f"{r.scope}:{r.feature}" for r in table.itertuples() if r.level == "shift"})
    report = DriftReport(table, shifted, time.monotonic() - started)
    if shifted:
        log.warning("DRIFT: PSI at or above %.2f for %s", cfg.shift, ", ".join(shifted))
    return report
