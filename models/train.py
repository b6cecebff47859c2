"""Train, evaluate, explain, log and register the execution-risk model.

What was known at the run date T alone: the labelled cases of gold whose
180-day horizon has passed by T (labels re-evaluated at T from silver
closures), split out of time. LightGBM with a small recorded grid search and
early stopping, refitted on training plus early-stopping folds, calibrated on
a later time fold, compared with a logistic baseline and with the champion on
the most recent (test) window.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import pickle
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from sklearn.metrics import roc_auc_score

from features.catalogue import load_dictionary
from features.labels import HORIZON_DAYS, labels
from models import plots, registry
from models.baseline import baseline
from models.card import model_card
from models.drift import drift_reference
from models.metrics import age_band, auc_ceiling_share, bands, deciles, evaluate, fairness_gaps, slices
from models.reasons import contributions
from models.registry import Promotion
from models.risk_model import RiskModel, design_matrix, fit_calibrator, refit, search
from models.split import Split as TimeSplit
from models.split import time_split
from pipelines.core import catalog
from pipelines.core.config import ModelSettings, Settings

__all__ = ["DRIFT_REFERENCE", "TrainReport", "Fit", "Evaluation", "training_frame", "fit_model", "evaluate_fit",
           "write_report", "train", "TRAINING_TABLES", "frame_digest"]

log = logging.getLogger(__name__)

DRIFT_REFERENCE = "monitor/drift_reference.json"   # run artifact: the training window's bins (models/drift.py)


@dataclass
class TrainReport:
    run_id: str
    version: str
    promotion: Promotion
    metrics: dict[str, float]
    baseline_auc: float
    ceiling_auc: float | None = None
    folds: dict[str, int] = field(default_factory=dict)
    report_dir: Path | None = None
    seconds: float = 0.0

    def to_text(self) -> str:
        m = self.metrics
        lines = [f"model version {self.version} (run {self.run_id}) in {self.seconds:.0f}s; folds: "
                 + ", ".join(f"{k} {v}" for k, v in self.folds.items()),
                 f"out-of-time: AUC {m['auc']:.4f}  KS {m['ks']:.4f}  PR-AUC {m['pr_auc']:.4f}  "
                 f"Brier {m['brier']:.4f}  ECE {m['ece']:.4f}  (baseline logistic AUC {self.baseline_auc:.4f})"]
        if self.ceiling_auc is not None:
            lines.append(f"truth ceiling AUC {self.ceiling_auc:.4f}: the model reaches "
                         f"{auc_ceiling_share(m['auc'], self.ceiling_auc):.0%} of its lift over 0.5")
        lines.append(f"registry: {'champion' if self.promotion.promote else 'challenger'} ({self.promotion.reason})")
        if self.report_dir:
            lines.append(f"report and model card: {self.report_dir}")
        return "\n".join(lines)


# What training reads, by the lineage parameter that pins its Delta version.
TRAINING_TABLES = {"gold_version": catalog.CASE_FEATURES, "profile_version": catalog.DEBTOR_PROFILE,
                   "closures_version": catalog.SILVER["court_closures"],
                   "persons_version": catalog.SILVER["population_persons"]}


def training_frame(spark: SparkSession, settings: Settings, run_date: dt.date,
                   versions: dict[str, int] | None = None) -> tuple[pd.DataFrame, dict]:
    """Matured labelled cases known at `run_date`, with slice columns; and the lineage.

    The lineage pins the Delta version of every table read (`TRAINING_TABLES`) and a digest of the
    frame, so `training_frame(spark, settings, run_date, versions=<the run's *_version params>)`
    reads the exact training set again, however far the lake has moved on.
    """
    from delta.tables import DeltaTable

    versions = dict(versions or {})
    read = {}
    for key, entry in TRAINING_TABLES.items():
        uri = settings.table(entry)
        if versions.get(key) is None:
            versions[key] = int(DeltaTable.forPath(spark, uri).history(1).select("version").first()[0])
        read[key] = spark.read.format("delta").option("versionAsOf", versions[key]).load(uri)
    gold = read["gold_version"].where(F.col("filed_on") <= F.lit(run_date - dt.timedelta(days=HORIZON_DAYS))) \
        .drop("label", "label_status", "label_as_of")
    known = labels(gold.select("case_no", "filed_on"), read["closures_version"], run_date)
    lead = read["profile_version"].where("respondent_no = 1").select("case_no", "person_key") \
        .join(read["persons_version"].groupBy("person_key").agg(F.max("gender").alias("gender")),
              "person_key", "left").drop("person_key")
    matured = gold.join(known, "case_no").where(F.col("label_status") == "labelled").join(lead, "case_no", "left")
    matured = matured.persist(StorageLevel.MEMORY_AND_DISK)   # counted, then sampled: joined once
    sample, sampling = stratified_sample(matured, settings.model.max_training_rows, settings.model.seed)
    frame = sample.toPandas()
    matured.unpersist()
    frame["filed_on"] = pd.to_datetime(frame["filed_on"]).dt.date
    frame = frame.sort_values(["filed_on", "case_no"]).reset_index(drop=True)
    return frame, {"gold_table": settings.table(catalog.CASE_FEATURES), **versions,
                   "label_as_of": run_date.isoformat(), "training_digest": frame_digest(frame), **sampling}


def frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's cells, row by row in its order: equal digests, equal training sets."""
    import hashlib

    rows = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(rows.tobytes() + ",".join(frame.columns).encode()).hexdigest()


def stratified_sample(cases: DataFrame, max_rows: int, seed: int) -> tuple[DataFrame, dict]:
    """At most about `max_rows` cases, the same share of every (filing month, label) stratum.

    Below the cap every case is kept. Above it, each stratum keeps its `ceil(n * max_rows / total)`
    cases with the smallest seeded hash of the case number, so the label rate and the time profile
    (which the out-of-time split depends on) are those of the full set, and a re-run picks the same
    cases. Only the sample reaches the driver.
    """
    total = cases.count()
    if total <= max_rows:
        return cases, {"training_rows_total": total, "training_sample_fraction": 1.0}
    fraction = max_rows / total
    stratum = Window.partitionBy(F.date_trunc("month", "filed_on"), "label")
    rank = Window.partitionBy(F.date_trunc("month", "filed_on"), "label").orderBy(F.xxhash64("case_no", F.lit(seed)))
    sample = cases.withColumn("_n", F.count("*").over(stratum)).withColumn("_rank", F.row_number().over(rank)) \
        .where(F.col("_rank") <= F.ceil(F.col("_n") * F.lit(fraction))).drop("_n", "_rank")
    log.info("train: %d matured labelled cases exceed model.max_training_rows %d: a stratified sample of "
             "%.4f of every (filing month, label) stratum is trained on", total, max_rows, fraction)
    return sample, {"training_rows_total": total, "training_sample_fraction": round(fraction, 6)}


def _truth_ceiling(frame: pd.DataFrame, test: np.ndarray, truth_dir: Path | None) -> float | None:
    if truth_dir is None or not (truth_dir / "case_truth.csv").exists():
        return None
    truth = pd.read_csv(truth_dir / "case_truth.csv", dtype={"case_no": str})[["case_no", "true_probability"]]
    joined = frame.loc[test, ["case_no", "label"]].merge(truth, on="case_no")
    return float(roc_auc_score(joined["label"], joined["true_probability"]))


@dataclass
class Fit:
    """A fitted model and what it was fitted on: the folds, the design matrix, the search."""

    split: TimeSplit
    fold: dict[str, np.ndarray]
    features: list
    names: list[str]
    categorical: list[str]
    levels: dict
    X_all: pd.DataFrame
    y: np.ndarray
    best: dict
    trials: list[dict]
    booster: object
    model: RiskModel
    seconds: dict[str, float] = field(default_factory=dict)   # matrix_seconds, fit_seconds

    @property
    def fitted(self) -> np.ndarray:
        """The rows the booster was refitted on: training and early stopping."""
        return self.fold["train"] | self.fold["early_stopping"]

    @property
    def counts(self) -> dict[str, int]:
        return {k: int(v.sum()) for k, v in self.fold.items()}


@dataclass
class Evaluation:
    """The out-of-time test window's scores and metrics, against the baseline and the truth ceiling."""

    p_test: np.ndarray
    metrics: dict[str, float]
    baseline_auc: float
    ceiling_auc: float | None


def fit_model(frame: pd.DataFrame, cfg: ModelSettings) -> Fit:
    """Split out of time, search, refit on training + early stopping, calibrate on the calibration fold."""
    split = time_split(frame["filed_on"], cfg.test_months, cfg.calibration_months, cfg.early_stopping_share)
    sensitive = set(cfg.sensitive)
    features = [f for f in load_dictionary() if f.name not in sensitive]
    names = [f.name for f in features]
    categorical = [f.name for f in features if f.is_categorical]
    fold = {k: split.mask(k) for k in ("train", "early_stopping", "calibration", "test")}
    started = time.monotonic()
    X_train, levels = design_matrix(frame[fold["train"]], names, categorical)
    X_all, _ = design_matrix(frame, names, categorical, levels)
    y = frame["label"].astype(int).to_numpy()
    matrix_done = time.monotonic()
    best, trials = search(X_train, y[fold["train"]], X_all[fold["early_stopping"]], y[fold["early_stopping"]],
                          cfg.search, cfg.monotone, cfg.seed)
    fitted = fold["train"] | fold["early_stopping"]
    booster = refit(X_all[fitted], y[fitted], best["params"], best["rounds"], cfg.monotone, cfg.seed,
                    scale=fitted.sum() / fold["train"].sum())
    raw = booster.predict(X_all, raw_score=True)
    calibrator = fit_calibrator(raw[fold["calibration"]], y[fold["calibration"]], cfg.calibration)
    model = RiskModel(booster, calibrator, names, categorical, levels)
    seconds = {"matrix_seconds": matrix_done - started, "fit_seconds": time.monotonic() - matrix_done}
    return Fit(split, fold, features, names, categorical, levels, X_all, y, best, trials, booster, model, seconds)


def evaluate_fit(fit: Fit, frame: pd.DataFrame, cfg: ModelSettings, truth_dir: Path | None = None) -> Evaluation:
    """The model, a logistic baseline and (with the generator's truth) the ceiling on the test window."""
    test = fit.fold["test"]
    p_test = fit.model.predict_proba(frame[test])
    base = baseline([n for n in fit.names if n not in fit.categorical], fit.categorical, cfg.seed)
    as_objects = fit.X_all.astype({c: object for c in fit.categorical})
    base.fit(as_objects[fit.fitted], fit.y[fit.fitted])
    baseline_auc = float(roc_auc_score(fit.y[test], base.predict_proba(as_objects[test])[:, 1]))
    return Evaluation(p_test, evaluate(fit.y[test], p_test), baseline_auc, _truth_ceiling(frame, test, truth_dir))


def write_report(fit: Fit, evaluation: Evaluation, frame: pd.DataFrame, settings: Settings, lineage: dict,
                 report_dir: Path) -> list[Path]:
    """Plots, tables and the model card in `report_dir`; returns the files, in the order MLflow logs them."""
    cfg, test, y_test, p_test = settings.model, fit.fold["test"], fit.y[fit.fold["test"]], evaluation.p_test
    report_dir.mkdir(parents=True, exist_ok=True)
    scored = frame.loc[test, ["case_no", "court_code", "filed_on", "age_at_filing", "gender",
                              "hukou_province", "label"]].assign(p=p_test)
    slice_table = slices(scored, "label", "p", {
        "court": "court_code", "age_band": scored["age_at_filing"].map(age_band), "gender": "gender",
        "province": "hukou_province"}, threshold=cfg.threshold)
    gaps = fairness_gaps(slice_table)
    decile_table = deciles(y_test, p_test)
    contrib, _ = contributions(fit.booster, fit.X_all[test])
    band_table = bands(y_test, p_test, settings.scoring.high, settings.scoring.medium)
    band_table.to_csv(report_dir / "bands.csv", index=False)
    plotted = [
        plots.roc_plot(y_test, p_test, report_dir / "roc.png"),
        plots.calibration_plot(y_test, p_test, report_dir / "calibration.png"),
        plots.gains_plot(decile_table, report_dir / "gains.png"),
        plots.importance_plot(fit.names, fit.booster.feature_importance("gain"), report_dir / "importance.png"),
        plots.shap_summary_plot(contrib.to_numpy(), fit.X_all[test], report_dir / "shap_summary.png"),
    ]
    decile_table.to_csv(report_dir / "deciles.csv", index=False)
    slice_table.to_csv(report_dir / "slices.csv", index=False)
    gaps.to_csv(report_dir / "fairness_gaps.csv", index=False)
    card = model_card(
        run_date=settings.run_date, lineage=lineage, bounds=fit.split.bounds, counts=fit.counts,
        features=fit.features, sensitive=sorted(set(cfg.sensitive)), monotone=cfg.monotone,
        params=fit.best["params"], rounds=fit.booster.current_iteration(), metrics=evaluation.metrics,
        baseline_auc=evaluation.baseline_auc, ceiling_auc=evaluation.ceiling_auc, decile_table=decile_table,
        band_table=band_table, slice_table=slice_table, gaps=gaps, calibration=cfg.calibration)
    (report_dir / "model_card.md").write_text(card, encoding="utf-8")
    return [*plotted, *(report_dir / n for n in ("deciles.csv", "bands.csv", "slices.csv", "fairness_gaps.csv",
                                                 "model_card.md"))]


def _drift_reference(fit: Fit, frame: pd.DataFrame, settings: Settings) -> dict:
    """The bins of the score and the top features over the fitted window, for nightly drift (models/drift.py)."""
    importance = fit.booster.feature_importance("gain")
    watched = [fit.names[i] for i in np.argsort(-importance, kind="stable")[:settings.monitor.top_features]]
    return drift_reference(frame[fit.fitted], fit.model.predict_proba(frame[fit.fitted]), watched, fit.categorical,
                           settings.monitor.bins)


def _log_run(fit: Fit, evaluation: Evaluation, frame: pd.DataFrame, settings: Settings, lineage: dict,
             timings: dict[str, float], reference: dict, files: list[Path]) -> tuple[str, str]:
    """Log the search, parameters, metrics, report and model; register the model. Returns (run id, version)."""
    cfg, metrics, ceiling = settings.model, evaluation.metrics, evaluation.ceiling_auc
    experiment = registry.experiment_id(settings)
    with mlflow.start_run(experiment_id=experiment, run_name=f"train-{settings.run_date.isoformat()}") as run:
        for i, t in enumerate(fit.trials):
            with mlflow.start_run(experiment_id=experiment, run_name=f"search-{i}", nested=True):
                mlflow.log_params(t["params"])
                mlflow.log_metrics({"early_stopping_auc": t["auc"], "rounds": t["rounds"]})
        mlflow.log_params({**lineage, **{f"best_{k}": v for k, v in fit.best["params"].items()},
                           "best_rounds": fit.best["rounds"], "seed": cfg.seed, "calibration": cfg.calibration,
                           "n_features": len(fit.names), "sensitive_excluded": ",".join(sorted(set(cfg.sensitive))),
                           **{f"{k}_from": str(v[0]) for k, v in fit.split.bounds.items()},
                           **{f"{k}_to": str(v[1]) for k, v in fit.split.bounds.items()}})
        mlflow.log_metrics({f"test_{k}": float(v) for k, v in metrics.items()})
        mlflow.log_metrics(timings)
        mlflow.log_metrics({"baseline_test_auc": evaluation.baseline_auc,
                            **({"truth_ceiling_auc": ceiling,
                                "ceiling_lift_share": auc_ceiling_share(metrics["auc"], ceiling)} if ceiling else {})})
        mlflow.log_dict({"monotone": cfg.monotone, "levels": fit.levels}, "model_config.json")
        mlflow.log_dict(reference, DRIFT_REFERENCE)
        for path in files:
            mlflow.log_artifact(str(path), "report")
        with tempfile.TemporaryDirectory() as tmp:
            pickled = Path(tmp) / "risk_model.pkl"
            pickled.write_bytes(pickle.dumps(fit.model))
            example = frame.loc[fit.fold["test"], fit.names].head(5).astype(_example_types(fit.features))
            info = mlflow.pyfunc.log_model(
                name="model", python_model=_pyfunc(), artifacts={"risk_model": str(pickled)},
                code_paths=[str(Path(__file__).parent)], signature=_signature(fit.features),
                input_example=example, registered_model_name=cfg.registered_name)
        return run.info.run_id, str(info.registered_model_version)


def train(spark: SparkSession, settings: Settings, promote: bool = False, promote_reason: str | None = None,
          truth_dir: Path | None = None) -> TrainReport:
    """Fit, evaluate, report, log and register the model as of `settings.run_date`; promote it if it wins."""
    started = time.monotonic()
    run_date = settings.run_date
    if run_date is None:
        raise ValueError("training needs a run date (--run-date): only labels matured by then are used")
    frame, lineage = training_frame(spark, settings, run_date)
    log.info("train: %d matured labelled cases as of %s (gold version %d, digest %s)", len(frame), run_date,
             lineage["gold_version"], lineage["training_digest"][:12])
    frame_seconds = time.monotonic() - started
    fit = fit_model(frame, settings.model)
    timings = {"frame_seconds": frame_seconds, **fit.seconds}
    log.info("train: building the training data took %.1fs (Spark to pandas %.1fs, design matrix %.1fs); "
             "LightGBM's search, refit and calibration %.1fs", frame_seconds + fit.seconds["matrix_seconds"],
             frame_seconds, fit.seconds["matrix_seconds"], fit.seconds["fit_seconds"])
    evaluation = evaluate_fit(fit, frame, settings.model, truth_dir)
    report_dir = settings.reports_dir() / f"run-{run_date.isoformat()}"
    files = write_report(fit, evaluation, frame, settings, lineage, report_dir)
    reference = _drift_reference(fit, frame, settings)
    run_id, version = _log_run(fit, evaluation, frame, settings, lineage, timings, reference, files)
    test = fit.fold["test"]
    mlflow.set_tracking_uri(registry.tracking_uri(settings))
    with mlflow.start_run(run_id=run_id):
        promotion = registry.promote(settings, version, frame[test], fit.y[test], evaluation.metrics["auc"], promote,
                                     promote_reason)
        mlflow.set_tags({"promotion": promotion.reason, "promoted": str(promotion.promote)})
    (report_dir / "metrics.json").write_text(json.dumps({**evaluation.metrics, "baseline_auc": evaluation.baseline_auc,
                                                         "ceiling_auc": evaluation.ceiling_auc}, indent=2))
    report = TrainReport(run_id, version, promotion, evaluation.metrics, evaluation.baseline_auc,
                         evaluation.ceiling_auc, fit.counts, report_dir, time.monotonic() - started)
    log.info("%s", report.to_text())
    return report


def _column_type(f) -> str:
    """The signature type of a gold feature column, so that `case_features` rows pass as they are.

    Counts and flags that are never null (they have a fill) are integers of either width; any other
    number is a double, so that a null (NaN in pandas) passes too. Every column is optional.
    """
    if f.is_categorical:
        return "string"
    return "long" if f.unit in ("count", "flag", "days") and f.fill is not None else "double"


def _signature(features) -> ModelSignature:
    inputs = Schema([ColSpec(_column_type(f), f.name, required=False) for f in features])
    return ModelSignature(inputs=inputs, outputs=Schema([ColSpec("double")]))


def _example_types(features) -> dict[str, str]:
    return {f.name: {"string": "object", "long": "int64", "double": "float64"}[_column_type(f)] for f in features}


def _pyfunc():
    from models.pyfunc import RiskPyfunc
    return RiskPyfunc()


