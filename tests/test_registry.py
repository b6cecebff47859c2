"""The registry reads its aliases from config: training's promotion and nightly scoring agree on them."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from helpers.paths import CONF

from models import registry
from pipelines.core.config import load_settings


class Constant(mlflow.pyfunc.PythonModel):
    """A stand-in model: scores every case `p` (or the test frame's label, when `p` is None: a perfect model)."""

    def __init__(self, p: float | None):
        self.p = p
        self.model = f"constant {p}"

    def predict(self, context, model_input, params=None):
        if self.p is None:
            return model_input["label"].to_numpy(dtype=float)
        return np.full(len(model_input), self.p)


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    conf = tmp_path / "aliases.yaml"
    conf.write_text(f"extends: {CONF}\nscoring:\n  model_alias: production\nmodel:\n  challenger_alias: candidate\n",
                    encoding="utf-8")
    return load_settings(conf, lake=str(tmp_path / "lake"), run_date="2026-11-06")


def _register(settings, p: float | None) -> str:
    with mlflow.start_run(experiment_id=registry.experiment_id(settings)):
        info = mlflow.pyfunc.log_model(name="model", python_model=Constant(p),
                                       registered_model_name=settings.model.registered_name)
    return str(info.registered_model_version)


def _aliases(settings) -> dict[str, str]:
    client = mlflow.MlflowClient(registry.tracking_uri(settings))
    return {alias: str(version) for alias, version in client.get_registered_model(settings.model.registered_name).aliases.items()}


def test_promotion_and_scoring_use_the_configured_aliases(settings):
    test = pd.DataFrame({"label": [0, 1, 0, 1]})
    y = test["label"].to_numpy()
    assert registry.tracking_uri(settings) == f"sqlite:///{settings.mlflow_dir() / 'mlflow.db'}"
    with pytest.raises(registry.NoChampion, match="@production"):
        registry.load_champion(settings)
    assert registry.champion_version(settings) is None

    first = _register(settings, None)                     # no champion yet: promoted
    decision = registry.promote(settings, first, test, y, auc=1.0, force=False, reason=None)
    assert decision.promote and _aliases(settings) == {"production": first, "candidate": first}

    second = _register(settings, 0.5)                     # the champion scores AUC 1.0 on the same window
    decision = registry.promote(settings, second, test, y, auc=0.5, force=False, reason=None)
    assert not decision.promote and "stays challenger" in decision.reason
    assert _aliases(settings) == {"production": first, "candidate": second}
    champion = registry.load_champion(settings)
    assert (champion.version, champion.model) == (first, "constant None")
    assert registry.champion_version(settings) == first

    registry.promote(settings, second, test, y, auc=0.5, force=True, reason="judges' review")
    assert _aliases(settings) == {"production": second, "candidate": second}
    assert registry.load_champion(settings).version == second
    assert not (settings.mlflow_dir().parent / "mlruns").exists()   # artifacts beside the store, not in the cwd


def test_the_decision_is_tagged_before_the_champion_alias_moves(settings, monkeypatch):
    """A training that dies between the two registry calls leaves a decided version with its reason,
    never a champion without one (the crash matrix kills a real job there: registry:decided)."""
    from pipelines.core import faults

    class Killed(Exception):
        pass

    def die_at(name):
        if name == "registry:decided":
            raise Killed(name)

    test = pd.DataFrame({"label": [0, 1, 0, 1]})
    first = _register(settings, None)
    monkeypatch.setattr(faults, "point", die_at)
    with pytest.raises(Killed):
        registry.promote(settings, first, test, test["label"].to_numpy(), auc=1.0, force=False, reason=None)
    client = mlflow.MlflowClient(registry.tracking_uri(settings))
    assert "no champion" in client.get_model_version(settings.model.registered_name, first).tags["promotion"]
    assert _aliases(settings) == {"candidate": first}          # decided and tagged; the champion alias not yet
