"""The nightly run's control flow: stage order, where it stops, and its exit code per outcome.

The stages themselves are tested elsewhere (and end to end in test_sample_e2e.py);
here they are replaced by fakes that record their calls.
"""

import datetime as dt
from types import SimpleNamespace

import pandas as pd
import pytest
from helpers.paths import CONF

from models.registry import NoChampion
from pipelines.flows import nightly
from pipelines.core.config import load_settings
from pipelines.flows.runtime import EXIT_DRIFT, EXIT_NO_MODEL, EXIT_OK, EXIT_QUALITY_FAILED, EXIT_REJECTED

NIGHT = dt.date(2026, 11, 6)


class _Report(SimpleNamespace):
    def to_text(self):
        return ""


@pytest.fixture
def fakes(monkeypatch):
    calls, outcome = [], {"rejected": [], "failing_gate": None, "champion": True, "cases": 3, "shifted": [],
                          "watch_due": False}

    def record(name, result):
        def fake(*args, **kwargs):
            calls.append(name)
            return result() if callable(result) else result
        return fake

    monkeypatch.setattr(nightly, "ingest", record("ingest", lambda: _Report(
        results=[SimpleNamespace(rows_loaded=10)], rejected=outcome["rejected"])))
    monkeypatch.setattr(nightly, "gate_scopes", lambda spark, settings, report: {})
    monkeypatch.setattr(nightly, "check_layer", lambda spark, settings, layer, suites, run_date, scopes=None: (
        calls.append(f"gate {layer}"), _Report(tables=[SimpleNamespace(rows=7)], success=layer != outcome["failing_gate"]))[1])
    monkeypatch.setattr(nightly, "conform", record("conform", _Report(tables={"t": 5})))
    monkeypatch.setattr(nightly, "build_gold", record("features", _Report(new_cases=3)))
    monkeypatch.setattr(nightly, "train", record("train", _Report(folds={"train": 9})))

    def champion(settings):
        calls.append("champion")
        if not outcome["champion"]:
            raise NoChampion("no model 'zhixing-execution-risk@champion' in the registry")
        return SimpleNamespace(name="zhixing-execution-risk", version="2")

    monkeypatch.setattr(nightly, "load_champion", champion)
    monkeypatch.setattr(nightly, "score_cases", record("score", lambda: _Report(cases=outcome["cases"])))
    monkeypatch.setattr(nightly, "monitor", record("monitor", lambda: _Report(
        table=pd.DataFrame({"psi": [0.3]}), shifted=outcome["shifted"])))
    monkeypatch.setattr(nightly, "export_night", record("export", _Report(cases=outcome["cases"])))
    monkeypatch.setattr(nightly, "watch_due", lambda spark, settings, run_date: outcome["watch_due"])
    monkeypatch.setattr(nightly, "run_watch", record("watch", _Report(cases_with_leads=2)))
    monkeypatch.setattr(nightly, "export_watch", record("watch export", ("folder", {"苏0312": {}})))
    monkeypatch.setattr(nightly, "export_whereabouts", lambda spark, settings, run_date: (
        calls.append("whereabouts" if settings.whereabouts.enabled else "whereabouts removed"), _Report(leads=4))[1])
    return calls, outcome


def _settings(whereabouts=True, **monitor):
    settings = load_settings(CONF, run_date=NIGHT)
    return settings.model_copy(update={"monitor": settings.monitor.model_copy(update=monitor),
                                       "whereabouts": settings.whereabouts.model_copy(update={"enabled": whereabouts})})


ALL = ["ingest", "gate bronze", "conform", "gate silver", "features", "gate gold", "champion", "score",
       "monitor", "export", "whereabouts"]


def test_a_good_night_runs_every_stage_in_order(fakes):
    calls, _ = fakes
    report = nightly.run_night(None, _settings())
    assert calls == ALL and report.exit_code == EXIT_OK
    assert [s.stage for s in report.stages] == [c for c in ALL if c != "champion"]
    assert all(s.seconds >= 0 for s in report.stages) and report.stages[0].rows == 10


def test_retrain_trains_after_the_gold_gate(fakes):
    calls, _ = fakes
    nightly.run_night(None, _settings(), retrain=True)
    assert calls.index("train") == calls.index("gate gold") + 1 and calls.index("train") < calls.index("score")


@pytest.mark.parametrize("layer", ["bronze", "silver", "gold"])
def test_a_failed_gate_stops_the_night_there(fakes, layer):
    calls, outcome = fakes
    outcome["failing_gate"] = layer
    report = nightly.run_night(None, _settings())
    assert calls[-1] == f"gate {layer}" and "score" not in calls
    assert report.exit_code == EXIT_QUALITY_FAILED and layer in report.messages[-1]


def test_a_rejected_batch_is_reported_and_the_night_goes_on(fakes):
    calls, outcome = fakes
    outcome["rejected"] = [SimpleNamespace(dataset="finance/transactions", batch_dt=NIGHT,
                                           reason_code="row_count_mismatch")]
    report = nightly.run_night(None, _settings())
    assert calls == ALL and report.exit_code == EXIT_REJECTED
    assert "finance/transactions dt=2026-11-06: row_count_mismatch" in report.to_text()


def test_no_champion_scores_nothing_and_says_what_to_do(fakes):
    calls, outcome = fakes
    outcome["champion"] = False
    report = nightly.run_night(None, _settings())
    assert "score" not in calls and report.exit_code == EXIT_NO_MODEL
    assert "--retrain" in report.messages[-1] and "Nothing was scored" in report.messages[-1]


def test_no_new_cases_still_exports_and_exits_zero(fakes):
    calls, outcome = fakes
    outcome["cases"] = 0
    report = nightly.run_night(None, _settings())
    assert calls[-2:] == ["export", "whereabouts"] and report.exit_code == EXIT_OK
    assert any("no new cases" in m for m in report.messages)


@pytest.mark.parametrize(("fail_on_shift", "code"), [(False, EXIT_OK), (True, EXIT_DRIFT)])
def test_a_shift_is_flagged_and_fails_the_night_only_if_configured(fakes, fail_on_shift, code):
    _, outcome = fakes
    outcome["shifted"] = ["recent_30d:score"]
    report = nightly.run_night(None, _settings(fail_on_shift=fail_on_shift))
    assert report.exit_code == code and any("DRIFT" in m and "recent_30d:score" in m for m in report.messages)


def test_a_night_needs_a_run_date(fakes):
    with pytest.raises(ValueError, match="run date"):
        nightly.run_night(None, load_settings(CONF))


def test_the_watch_runs_after_the_gold_gate_when_due_or_asked(fakes):
    calls, outcome = fakes
    outcome["watch_due"] = True
    report = nightly.run_night(None, _settings())
    assert calls[calls.index("gate gold") + 1:][:3] == ["watch", "gate gold", "watch export"]
    assert [s.stage for s in report.stages][6:9] == ["watch", "gate watch", "watch export"]
    assert report.watch.cases_with_leads == 2
    calls.clear()
    nightly.run_night(None, _settings(), watch=False)
    assert "watch" not in calls
    outcome["watch_due"] = False
    calls.clear()
    nightly.run_night(None, _settings(), watch=True, retrain=True)
    assert calls.index("watch") == calls.index("gate gold") + 1 < calls.index("train")


def test_the_whereabouts_export_is_a_stage_only_when_switched_on(fakes):
    calls, _ = fakes
    report = nightly.run_night(None, _settings(whereabouts=False))
    assert calls[-1] == "whereabouts removed" and "whereabouts" not in [s.stage for s in report.stages]
    assert report.whereabouts is None and report.exit_code == EXIT_OK


def test_a_failed_watch_gate_stops_the_night_before_any_watch_file(fakes, monkeypatch):
    calls, outcome = fakes
    outcome["watch_due"] = True
    gates = []

    def check_layer(spark, settings, layer, suites, run_date, scopes=None):
        gates.append(scopes)
        return _Report(tables=[SimpleNamespace(rows=7)], success=not scopes or "asset_watch" not in scopes)

    monkeypatch.setattr(nightly, "check_layer", check_layer)
    report = nightly.run_night(None, _settings())
    assert report.exit_code == EXIT_QUALITY_FAILED and "watch export" not in calls and "score" not in calls
    assert gates[-1] == {"asset_watch": f"run_date = '{NIGHT}'"}
