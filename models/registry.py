"""The MLflow tracking store and model registry: where it is, the aliases, promotion, the champion.

Every new version gets the challenger alias (`model.challenger_alias`). It
becomes champion (`scoring.model_alias`, the alias nightly scoring reads) when
there is none yet, when it beats the current champion on the same
out-of-time window by the configured AUC margin, or when forced (`--promote`,
with a reason that is logged). `promotion_decision` is the pure decision;
`promote` acts on it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from models.risk_model import RiskModel
from pipelines.core import faults
from pipelines.core.config import Settings

__all__ = ["Promotion", "promotion_decision", "promote", "tracking_uri", "experiment_id", "NoChampion", "Champion",
           "load_champion", "champion_version"]


def tracking_uri(settings: Settings) -> str:
    """MLFLOW_TRACKING_URI wins; then `model.tracking_uri`; then a SQLite store in `settings.mlflow_dir()`."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    if settings.model.tracking_uri:
        return settings.model.tracking_uri
    return f"sqlite:///{settings.mlflow_dir() / 'mlflow.db'}"


def experiment_id(settings: Settings) -> str:
    """The model's experiment, created on first use with its artifacts beside the default store."""
    mlflow.set_tracking_uri(tracking_uri(settings))
    name = settings.model.experiment
    experiment = mlflow.get_experiment_by_name(name)
    if experiment:
        return experiment.experiment_id
    return mlflow.create_experiment(name, artifact_location=(settings.mlflow_dir() / "artifacts").as_uri())


@dataclass(frozen=True)
class Promotion:
    promote: bool
    reason: str


def promotion_decision(candidate_auc: float, champion_auc: float | None, margin: float,
                       force: bool = False, force_reason: str | None = None) -> Promotion:
    if force:
        if not force_reason:
            raise ValueError("--promote needs --reason: a forced promotion must say why")
        return Promotion(True, f"forced: {force_reason}")
    if champion_auc is None:
        return Promotion(True, "no champion yet")
    if candidate_auc >= champion_auc + margin:
        return Promotion(True, f"out-of-time AUC {candidate_auc:.4f} beats the champion's {champion_auc:.4f} "
                               f"by at least {margin}")
    return Promotion(False, f"out-of-time AUC {candidate_auc:.4f} does not beat the champion's "
                            f"{champion_auc:.4f} by {margin}; stays challenger")


def promote(settings: Settings, version: str, test_frame: pd.DataFrame, y_test: np.ndarray, auc: float,
            force: bool, reason: str | None) -> Promotion:
    """Alias `version` challenger, score the champion on the same test window, and promote if it wins.

    The decision is tagged on the version (`promotion`) before the champion alias moves: a training
    killed between the two leaves no champion without its reason. A killed training's version stays
    in the registry; the re-run registers another and decides afresh, as a second training would.
    """
    cfg = settings.model
    champion_alias, challenger_alias = settings.scoring.model_alias, cfg.challenger_alias
    mlflow.set_tracking_uri(tracking_uri(settings))
    client = mlflow.MlflowClient()
    name = cfg.registered_name
    faults.point("registry:registered")
    client.set_registered_model_alias(name, challenger_alias, version)
    faults.point("registry:challenger")
    champion_auc = None
    try:
        champion = client.get_model_version_by_alias(name, champion_alias)
    except mlflow.exceptions.MlflowException:
        champion = None
    if champion is not None and str(champion.version) != version:
        scores = mlflow.pyfunc.load_model(f"models:/{name}@{champion_alias}").predict(test_frame)
        champion_auc = float(roc_auc_score(y_test, np.asarray(scores)))
    decision = promotion_decision(auc, champion_auc, cfg.promote_margin, force, reason)
    client.set_model_version_tag(name, version, "promotion", decision.reason)
    faults.point("registry:decided")
    if decision.promote:
        client.set_registered_model_alias(name, champion_alias, version)
        faults.point("registry:champion")
    return decision


class NoChampion(RuntimeError):
    """The registry has no model under the alias scoring uses."""


@dataclass(frozen=True)
class Champion:
    name: str
    version: str
    run_id: str
    model: RiskModel


def load_champion(settings: Settings) -> Champion:
    """The registered model under the scoring alias, unwrapped to the `RiskModel` it serves."""
    name, alias = settings.model.registered_name, settings.scoring.model_alias
    store = tracking_uri(settings)
    mlflow.set_tracking_uri(store)
    client = mlflow.MlflowClient()
    try:
        version = client.get_model_version_by_alias(name, alias)
    except mlflow.exceptions.MlflowException:
        raise NoChampion(f"no model '{name}@{alias}' in the registry at {store}: train one first "
                         "(jobs/train.py, or jobs/nightly.py --retrain)") from None
    served = mlflow.pyfunc.load_model(f"models:/{name}@{alias}").unwrap_python_model()
    return Champion(name, str(version.version), version.run_id, served.model)


def champion_version(settings: Settings) -> str | None:
    """The version under the scoring alias, or None (no registry or no champion yet)."""
    try:
        mlflow.set_tracking_uri(tracking_uri(settings))
        version = mlflow.MlflowClient().get_model_version_by_alias(settings.model.registered_name,
                                                                    settings.scoring.model_alias)
        return str(version.version)
    except Exception:  # noqa: BLE001 - the audit records "no champion" as a null, whatever the reason
        return None
