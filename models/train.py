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
import os
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
from models import plots
from models.baseline import baseline
from models.card import model_card
from models.drift import drift_reference
from models.metrics import age_band, auc_ceiling_share, bands, deciles, evaluate, fairness_gaps, slices
from models.reasons import contributions
from models.registry import Promotion, promotion_decision
from models.risk_model import RiskModel, design_matrix, fit_calibrator, refit, search
from models.split import time_split
from pipelines.core import storage
from pipelines.core.config import Settings, local_path

__all__ = ["DRIFT_REFERENCE", "TrainReport", "training_frame", "train", "tracking_uri"]

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


def tracking_uri(settings: Settings) -> str:
    """MLFLOW_TRACKING_URI wins; then the config; then a SQLite store under the lake."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    if settings.model.tracking_uri:
        return settings.model.tracking_uri
    return f"sqlite:///{_local_lake(settings) / '_mlflow' / 'mlflow.db'}"


def _local_lake(settings: Settings) -> Path:
    return local_path(settings.paths.lake)


def training_frame(spark: SparkSession, settings: Settings, run_date: dt.date) -> tuple[pd.DataFrame, dict]:
    """Matured labelled cases known at `run_date`, with slice columns; and the gold lineage."""
    from delta.tables import DeltaTable

    uri = settings.table("gold", "case_features")
    version = DeltaTable.forPath(spark, uri).history(1).select("version").first()[0]
    gold = spark.read.format("delta").option("versionAsOf", version).load(uri) \
        .where(F.col("filed_on") <= F.lit(run_date - dt.timedelta(days=HORIZON_DAYS))) \
        .drop("label", "label_status", "label_as_of")
    silver = lambda name: storage.read_delta(spark, settings.table("silver", name))  # noqa: E731
    known = labels(gold.select("case_no", "filed_on"), silver("court_closures"), run_date)
    lead = storage.read_delta(spark, settings.table("gold", "debtor_profile")).where("respondent_no = 1") \
        .select("case_no", "person_key") \
        .join(silver("population_persons").groupBy("person_key").agg(F.max("gender").alias("gender")),
              "person_key", "left").drop("person_key")
    matured = gold.join(known, "case_no").where(F.col("label_status") == "labelled").join(lead, "case_no", "left")
    matured = matured.persist(StorageLevel.MEMORY_AND_DISK)   # counted, then sampled: joined once
    sample, sampling = stratified_sample(matured, settings.model.max_training_rows, settings.model.seed)
    frame = sample.toPandas()
    matured.unpersist()
    frame["filed_on"] = pd.to_datetime(frame["filed_on"]).dt.date
    frame = frame.sort_values(["filed_on", "case_no"]).reset_index(drop=True)
    return frame, {"gold_table": uri, "gold_version": int(version), "label_as_of": run_date.isoformat(), **sampling}


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


def train(spark: SparkSession, settings: Settings, promote: bool = False, promote_reason: str | None = None,
          truth_dir: Path | None = None) -> TrainReport:
    started = time.monotonic()
    cfg = settings.model
    run_date = settings.run_date or dt.date.today()
    frame, lineage = training_frame(spark, settings, run_date)
    log.info("train: %d matured labelled cases as of %s (gold version %d)", len(frame), run_date,
             lineage["gold_version"])
    matrix_started = time.monotonic()
    split = time_split(frame["filed_on"], cfg.test_months, cfg.calibration_months, cfg.early_stopping_share)
    sensitive = set(cfg.sensitive)
    features = [f for f in load_dictionary() if f.name not in sensitive]
    names = [f.name for f in features]
    categorical = [f.name for f in features if f.is_categorical]
    fold = {k: split.mask(k) for k in ("train", "early_stopping", "calibration", "test")}
    X_train, levels = design_matrix(frame[fold["train"]], names, categorical)
    X_all, _ = design_matrix(frame, names, categorical, levels)
    y = frame["label"].astype(int).to_numpy()
    timings = {"frame_seconds": matrix_started - started, "matrix_seconds": time.monotonic() - matrix_started}
    fit_started = time.monotonic()
    best, trials = search(X_train, y[fold["train"]], X_all[fold["early_stopping"]], y[fold["early_stopping"]],
                          cfg.search, cfg.monotone, cfg.seed)
    fitted = fold["train"] | fold["early_stopping"]
    booster = refit(X_all[fitted], y[fitted], best["params"], best["rounds"], cfg.monotone, cfg.seed,
                    scale=fitted.sum() / fold["train"].sum())
    timings["fit_seconds"] = time.monotonic() - fit_started
    log.info("train: building the training data took %.1fs (Spark to pandas %.1fs, design matrix %.1fs); "
             "LightGBM's search and refit %.1fs", timings["frame_seconds"] + timings["matrix_seconds"],
             timings["frame_seconds"], timings["matrix_seconds"], timings["fit_seconds"])
    raw = booster.predict(X_all, raw_score=True)
    calibrator = fit_calibrator(raw[fold["calibration"]], y[fold["calibration"]], cfg.calibration)
    model = RiskModel(booster, calibrator, names, categorical, levels)
    test = fold["test"]
    p_test = model.predict_proba(frame[test])
    metrics = evaluate(y[test], p_test)

    base = baseline([n for n in names if n not in categorical], categorical, cfg.seed)
    as_objects = X_all.astype({c: object for c in categorical})
    base.fit(as_objects[fold["train"] | fold["early_stopping"]], y[fold["train"] | fold["early_stopping"]])
    baseline_auc = float(roc_auc_score(y[test], base.predict_proba(as_objects[test])[:, 1]))
    ceiling = _truth_ceiling(frame, test, truth_dir)

    report_dir = _local_lake(settings) / "_models" / f"run-{run_date.isoformat()}"
    report_dir.mkdir(parents=True, exist_ok=True)
    evaluation = frame.loc[test, ["case_no", "court_code", "filed_on", "age_at_filing", "gender",
                                  "hukou_province", "label"]].assign(p=p_test)
    slice_table = slices(evaluation, "label", "p", {
        "court": "court_code", "age_band": evaluation["age_at_filing"].map(age_band), "gender": "gender",
        "province": "hukou_province"}, threshold=cfg.threshold)
    gaps = fairness_gaps(slice_table)
    decile_table = deciles(y[test], p_test)
    contrib, _ = contributions(booster, X_all[test])
    importance = booster.feature_importance("gain")
    watched = [names[i] for i in np.argsort(-importance, kind="stable")[:settings.monitor.top_features]]
    reference = drift_reference(frame[fitted], model.predict_proba(frame[fitted]), watched, categorical,
                                settings.monitor.bins)
    band_table = bands(y[test], p_test, settings.scoring.high, settings.scoring.medium)
    band_table.to_csv(report_dir / "bands.csv", index=False)
    artifacts = {
        "roc.png": plots.roc_plot(y[test], p_test, report_dir / "roc.png"),
        "calibration.png": plots.calibration_plot(y[test], p_test, report_dir / "calibration.png"),
        "gains.png": plots.gains_plot(decile_table, report_dir / "gains.png"),
        "importance.png": plots.importance_plot(names, importance, report_dir / "importance.png"),
        "shap_summary.png": plots.shap_summary_plot(contrib.to_numpy(), X_all[test], report_dir / "shap_summary.png"),
    }
    decile_table.to_csv(report_dir / "deciles.csv", index=False)
    slice_table.to_csv(report_dir / "slices.csv", index=False)
    gaps.to_csv(report_dir / "fairness_gaps.csv", index=False)
    card = model_card(
        run_date=run_date, lineage=lineage, bounds=split.bounds, counts={k: int(v.sum()) for k, v in fold.items()},
        features=features, sensitive=sorted(sensitive), monotone=cfg.monotone, params=best["params"],
        rounds=booster.current_iteration(), metrics=metrics, baseline_auc=baseline_auc, ceiling_auc=ceiling,
        decile_table=decile_table, band_table=band_table, slice_table=slice_table, gaps=gaps, calibration=cfg.calibration)
    (report_dir / "model_card.md").write_text(card, encoding="utf-8")

    mlflow.set_tracking_uri(tracking_uri(settings))
    experiment = mlflow.get_experiment_by_name(cfg.experiment)
    experiment_id = experiment.experiment_id if experiment else mlflow.create_experiment(
        cfg.experiment, artifact_location=(_local_lake(settings) / "_mlflow" / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"train-{run_date.isoformat()}") as run:
        for i, t in enumerate(trials):
            with mlflow.start_run(experiment_id=experiment_id, run_name=f"search-{i}", nested=True):
                mlflow.log_params(t["params"])
                mlflow.log_metrics({"early_stopping_auc": t["auc"], "rounds": t["rounds"]})
        mlflow.log_params({**lineage, **{f"best_{k}": v for k, v in best["params"].items()},
                           "best_rounds": best["rounds"], "seed": cfg.seed, "calibration": cfg.calibration,
                           "n_features": len(names), "sensitive_excluded": ",".join(sorted(sensitive)),
                           **{f"{k}_from": str(v[0]) for k, v in split.bounds.items()},
                           **{f"{k}_to": str(v[1]) for k, v in split.bounds.items()}})
        mlflow.log_metrics({f"test_{k}": float(v) for k, v in metrics.items()})
        mlflow.log_metrics(timings)
        mlflow.log_metrics({"baseline_test_auc": baseline_auc,
                            **({"truth_ceiling_auc": ceiling,
                                "ceiling_lift_share": auc_ceiling_share(metrics["auc"], ceiling)} if ceiling else {})})
        mlflow.log_dict({"monotone": cfg.monotone, "levels": levels}, "model_config.json")
        mlflow.log_dict(reference, DRIFT_REFERENCE)
        for path in [*artifacts.values(), report_dir / "deciles.csv", report_dir / "bands.csv", report_dir / "slices.csv",
                     report_dir / "fairness_gaps.csv", report_dir / "model_card.md"]:
            mlflow.log_artifact(str(path), "report")
        with tempfile.TemporaryDirectory() as tmp:
            pickled = Path(tmp) / "risk_model.pkl"
            pickled.write_bytes(pickle.dumps(model))
            example = frame.loc[test, names].head(5).astype(_example_types(features))
            info = mlflow.pyfunc.log_model(
                name="model", python_model=_pyfunc(), artifacts={"risk_model": str(pickled)},
                code_paths=[str(Path(__file__).parent)], signature=_signature(features),
                input_example=example, registered_model_name=cfg.registered_name)
        version = str(info.registered_model_version)
        promotion = _promote(cfg, version, frame[test], y[test], metrics["auc"], promote, promote_reason)
        mlflow.set_tags({"promotion": promotion.reason, "promoted": str(promotion.promote)})
        run_id = run.info.run_id
    (report_dir / "metrics.json").write_text(json.dumps({**metrics, "baseline_auc": baseline_auc,
                                                         "ceiling_auc": ceiling}, indent=2))
    report = TrainReport(run_id, version, promotion, metrics, baseline_auc, ceiling,
                         {k: int(v.sum()) for k, v in fold.items()}, report_dir, time.monotonic() - started)
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


def _promote(cfg, version: str, test_frame: pd.DataFrame, y_test: np.ndarray, auc: float, force: bool,
             reason: str | None) -> Promotion:
    client = mlflow.MlflowClient()
    name = cfg.registered_name
    client.set_registered_model_alias(name, "challenger", version)
    champion_auc = None
    try:
        champion = client.get_model_version_by_alias(name, "champion")
    except mlflow.exceptions.MlflowException:
        champion = None
    if champion is not None and str(champion.version) != version:
        scores = mlflow.pyfunc.load_model(f"models:/{name}@champion").predict(test_frame)
        champion_auc = float(roc_auc_score(y_test, np.asarray(scores)))
    decision = promotion_decision(auc, champion_auc, cfg.promote_margin, force, reason)
    if decision.promote:
        client.set_registered_model_alias(name, "champion", version)
    client.set_model_version_tag(name, version, "promotion", decision.reason)
    return decision
