"""One night, end to end: ingest -> gates -> conform -> gates -> features -> gate -> [watch] -> [train]
-> score -> monitor -> export -> [whereabouts].

The asset watch runs on the nights `watch.cadence` says (monthly by default);
the whereabouts export only when `whereabouts.enabled` is on.

Every stage is idempotent, so a failed night is re-run as it is: ingest skips
batches it already holds, conform and gold take only what they have not seen,
scoring replaces the night's rows, monitoring replaces the night's drift rows
and the export rewrites the night's folder. Each stage logs its rows and
seconds; `NightReport.exit_code` says how the night went (codes in
`pipelines.flows.runtime`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import SparkSession

from models.monitor import DriftReport, monitor
from models.registry import NoChampion, load_champion
from models.scoring import score_cases
from models.train import train
from pipelines.bronze import ingest
from pipelines.bronze.ingest import IngestReport, gate_scopes
from pipelines.core.config import Settings
from pipelines.core.timing import stage
from pipelines.exports.risk import ExportReport, export_night
from pipelines.exports.watch import export_watch
from pipelines.exports.whereabouts import WhereaboutsReport, export_whereabouts
from pipelines.flows.gates import GATES
from pipelines.flows.runtime import EXIT_DRIFT, EXIT_NO_MODEL, EXIT_OK, EXIT_QUALITY_FAILED, EXIT_REJECTED
from pipelines.gold.build import build_gold
from pipelines.gold.watch import WatchReport, run_watch, watch_due
from pipelines.quality.layer import check_layer
from pipelines.silver.build import conform
from pipelines.silver.resolve import resolve_entities

__all__ = ["NightReport", "StageResult", "run_night"]

log = logging.getLogger(__name__)


@dataclass
class StageResult:
    stage: str
    rows: int
    seconds: float
    detail: str = ""


@dataclass
class NightReport:
    run_date: dt.date
    stages: list[StageResult] = field(default_factory=list)
    exit_code: int = EXIT_OK
    messages: list[str] = field(default_factory=list)
    ingest: IngestReport | None = None
    export: ExportReport | None = None
    drift: DriftReport | None = None
    watch: WatchReport | None = None
    whereabouts: WhereaboutsReport | None = None

    def to_text(self) -> str:
        lines = [f"night {self.run_date}: exit code {self.exit_code}", f"{'stage':<16}{'rows':>10}{'seconds':>10}"]
        lines += [f"{s.stage:<16}{s.rows:>10}{s.seconds:>10.1f}" for s in self.stages]
        for result in self.stages:
            if result.detail:
                lines += ["", f"-- {result.stage}", result.detail]
        lines += ["", *self.messages] if self.messages else []
        return "\n".join(lines)


class _Night:
    """Runs stages in order, timing and logging each."""

    def __init__(self, report: NightReport):
        self.report = report

    def stage(self, name: str, work: Callable[[], Any], rows: Callable[[Any], int],
              detail: Callable[[Any], str] = lambda r: r.to_text()) -> Any:
        with stage(name.replace(" ", "_"), log) as timed:
            result = work()
            timed.rows = rows(result)
        self.report.stages.append(StageResult(name, timed.rows, timed.seconds, detail(result)))
        return result

    def gate(self, spark: SparkSession, settings: Settings, name: str, run_date: dt.date,
             scopes: dict[str, str] | None = None) -> bool:
        gate = GATES[name]
        report = self.stage(f"gate {name}",
                            lambda: check_layer(spark, settings, gate.layer, gate.suites(), run_date=run_date,
                                                scopes=scopes),
                            lambda g: sum(t.rows for t in g.tables))
        if not report.success:
            self.report.exit_code = EXIT_QUALITY_FAILED
            self.report.messages.append(f"the {name} quality gate failed: nothing downstream of {gate.layer} was "
                                        "written tonight; see the Data Docs, fix the source, re-run the night")
        return report.success


def run_night(spark: SparkSession, settings: Settings, retrain: bool = False, full_rebuild: bool = False,
              promote: bool = False, promote_reason: str | None = None, watch: bool | None = None) -> NightReport:
    """`watch`: run the asset watch tonight (True), not (False), or as `watch.cadence` says (None)."""
    run_date = settings.run_date
    if run_date is None:
        raise ValueError("a night needs a run date (--run-date YYYY-MM-DD)")
    report = NightReport(run_date)
    night = _Night(report)

    ingested = night.stage("ingest", lambda: ingest(spark, settings), lambda r: sum(b.rows_loaded for b in r.results))
    report.ingest = ingested
    if ingested.rejected:
        report.exit_code = EXIT_REJECTED
        report.messages.append("rejected source batch(es), not loaded (the rest of the night went on): "
                               + "; ".join(f"{b.dataset} dt={b.batch_dt}: {b.reason_code}" for b in ingested.rejected))
    # Bronze rows never change after their night: the gate checks tonight's batches (see gate_scopes).
    if not night.gate(spark, settings, "bronze", run_date, gate_scopes(spark, settings, ingested)):
        return report
    night.stage("conform", lambda: conform(spark, settings, link=resolve_entities), lambda r: sum(r.tables.values()))
    if not night.gate(spark, settings, "silver", run_date):
        return report
    night.stage("features", lambda: build_gold(spark, settings, full_rebuild=full_rebuild), lambda r: r.new_cases)
    if not night.gate(spark, settings, "gold", run_date):
        return report
    if watch if watch is not None else watch_due(spark, settings, run_date):
        report.watch = night.stage("watch", lambda: run_watch(spark, settings),
                                   lambda r: r.cases_with_leads)
        if not night.gate(spark, settings, "watch", run_date, {"asset_watch": f"run_date = '{run_date}'"}):
            return report
        night.stage("watch export", lambda: export_watch(spark, settings, run_date), lambda r: len(r[1]),
                    lambda r: f"{len(r[1])} court files in {r[0]}")
    if retrain:
        night.stage("train", lambda: train(spark, settings, promote=promote, promote_reason=promote_reason),
                    lambda r: sum(r.folds.values()))

    try:
        champion = load_champion(settings)
    except NoChampion as exc:
        report.exit_code = EXIT_NO_MODEL
        report.messages.append(f"{exc}. Nothing was scored or exported tonight; re-run the night with --retrain "
                               "once gold holds matured labelled cases.")
        log.error("%s", exc)
        return report
    scored = night.stage("score", lambda: score_cases(spark, settings, champion, run_date), lambda r: r.cases)
    if scored.cases == 0:
        report.messages.append(f"no new cases to score for {run_date}: every court gets a header-only file")
    drift = night.stage("monitor", lambda: monitor(spark, settings, champion, run_date), lambda r: len(r.table))
    report.drift = drift
    notes = [f"模型：{champion.name} 第 {champion.version} 版", *report.messages]
    report.export = night.stage("export", lambda: export_night(spark, settings, run_date, drift.table, notes),
                                lambda r: r.cases)
    if settings.whereabouts.enabled:
        report.whereabouts = night.stage("whereabouts", lambda: export_whereabouts(spark, settings, run_date),
                                         lambda r: r.leads)
    else:
        export_whereabouts(spark, settings, run_date)   # removes a folder an earlier, switched-on run left
    if drift.shifted:
        report.messages.append(f"DRIFT: population shift (PSI >= {settings.monitor.shift}) in "
                               + ", ".join(drift.shifted))
        if settings.monitor.fail_on_shift and report.exit_code == EXIT_OK:
            report.exit_code = EXIT_DRIFT
    return report
