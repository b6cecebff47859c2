"""End to end over the committed sample: landing -> bronze -> silver -> gold -> model -> the night.

Checks the reconciliation identity for every batch, that every fault listed in
the sample's truth is caught where the contract says, that a second engine
reads the tables, that silver and gold carry no raw personal data, entity
resolution's precision and recall, the labels against the generator's truth,
the model, and a nightly run (gates, scoring, drift, clerk exports) both in
this process and under spark-submit on a real standalone cluster.
"""

from __future__ import annotations

import csv
import datetime as dt
import time
from pathlib import Path

import pandas as pd
import pytest
from deltalake import DeltaTable
from pyspark.sql import functions as F
from helpers.paths import CONF, ROOT, SAMPLE

from pipelines.gold.build import build_gold
from pipelines.core import storage
from pipelines.bronze import ingest
from pipelines.core.config import load_settings
from pipelines.core.contract import load_contract
from pipelines.silver.build import conform
from pipelines.silver.resolve import resolve_entities
from pipelines.core import catalog

pytestmark = pytest.mark.e2e
FAULTS = list(csv.DictReader((SAMPLE / "truth" / "faults.csv").open(encoding="utf-8")))
LAST_BATCH = dt.date(2026, 11, 6)


@pytest.fixture(scope="module", autouse=True)
def captured_logs(tmp_path_factory):
    """Everything the pipeline logs in this module, for the personal-data audit."""
    import logging

    folder = tmp_path_factory.mktemp("logs")
    handler = logging.FileHandler(folder / "e2e.log", encoding="utf-8")
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(min(level, logging.INFO) or logging.INFO)
    yield folder
    root.removeHandler(handler)
    root.setLevel(level)
    handler.close()


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    settings = load_settings(CONF, landing=str(SAMPLE / "landing"), lake=str(tmp_path_factory.mktemp("lake")),
                             run_date=LAST_BATCH)
    report = ingest(spark, settings)
    conform_report = conform(spark, settings, link=resolve_entities)
    build_gold(spark, settings, full_rebuild=True)
    return settings, report, conform_report


def test_every_batch_reconciles(lake, spark):
    settings, report, _ = lake
    loaded = [r for r in report.results if r.status == "loaded"]
    assert len(loaded) == 14 * 7 - 2
    for r in loaded:
        assert r.rows_in_files == r.rows_manifest == r.rows_loaded + r.rows_quarantined + r.rows_duplicate, r
    log = storage.read_delta(spark, settings.table(catalog.INGEST_LOG)).where("status = 'loaded'")
    assert log.where("rows_in_files != rows_loaded + rows_quarantined + rows_duplicate").count() == 0


def test_batch_faults_are_reported(lake):
    _, report, _ = lake
    status = {(r.dataset, r.batch_dt.isoformat()): r for r in report.results}
    for fault in (f for f in FAULTS if not f["row"]):
        result = status[(fault["dataset"], fault["dt"])]
        expected = {"manifest_mismatch": ("rejected", "row_count_mismatch"),
                    "missing_success": ("waiting", None), "extra_column": ("loaded", None)}[fault["kind"]]
        assert (result.status, result.reason_code) == expected, fault
        if fault["kind"] == "extra_column":
            assert result.extra_columns == ["branch_name"]


def test_every_bad_row_is_quarantined_with_its_reason(lake, spark):
    settings, report, _ = lake
    quarantined = {}
    for dataset in load_contract().values():
        rows = storage.read_delta(spark, settings.table(catalog.QUARANTINE[dataset.table_name])).select(
            F.date_format("batch_dt", "yyyy-MM-dd").alias("dt"),
            F.regexp_extract("source_file", r"([^/]+)$", 1).alias("file"), "source_row", "reason_detail").collect()
        quarantined.update({(dataset.name, r.dt, r.file, r.source_row):
                            {part.split(":")[0] for part in r.reason_detail.split("; ")} for r in rows})
    rejected = {(r.dataset, r.batch_dt.isoformat()) for r in report.rejected}
    row_faults = [f for f in FAULTS if f["row"] and (f["dataset"], f["dt"]) not in rejected]
    expected = {(f["dataset"], f["dt"], f["file"], int(f["row"])): f["reason"]
                for f in row_faults if f["kind"] != "exact_duplicate"}
    # A row may break several rules; the one the generator injected must be among them.
    missed = {k: (reason, quarantined.get(k)) for k, reason in expected.items() if reason not in quarantined.get(k, ())}
    assert not missed
    assert set(quarantined) == set(expected)          # nothing else was quarantined
    duplicates = sum(r.rows_duplicate for r in report.results)
    assert duplicates == sum(f["kind"] == "exact_duplicate" for f in row_faults)


def test_a_second_engine_reads_every_table(lake, spark):
    settings, _, _ = lake
    for layer in ("bronze", "silver"):
        for dataset in load_contract().values():
            uri = settings.table(catalog.lookup(layer, dataset.table_name))
            assert DeltaTable(uri).to_pyarrow_table().num_rows == storage.read_delta(spark, uri).count(), uri
    for name in ("case_features", "debtor_profile"):
        uri = settings.table(catalog.lookup("gold", name))
        assert DeltaTable(uri).to_pyarrow_table().num_rows == storage.read_delta(spark, uri).count() > 5000


def test_entity_resolution_against_truth(lake):
    from benchmarks.linkage import linkage_quality
    from pipelines.core.privacy import resolve_secret

    settings, _, _ = lake
    links = DeltaTable(settings.table(catalog.ENTITY_LINKS)).to_pandas(
        columns=["source", "record_id", "person_key", "status"])
    quality = linkage_quality(links, SAMPLE / "truth", resolve_secret(settings))["all"]
    assert quality["precision"] >= 0.99
    assert quality["recall"] >= 0.90


def test_labels_match_the_generators_truth(lake):
    """Every case's label and status at the last batch, exactly as truth/case_truth.csv has it."""
    settings, _, _ = lake
    gold = DeltaTable(settings.table(catalog.CASE_FEATURES)).to_pandas(columns=["case_no", "label", "label_status"])
    truth = {r["case_no"]: r["label_at_last_dt"]
             for r in csv.DictReader((SAMPLE / "truth" / "case_truth.csv").open(encoding="utf-8"))}
    mine = {r.case_no: (str(int(r.label)) if r.label_status == "labelled" else r.label_status)
            for r in gold.itertuples()}
    assert len(mine) == len(truth) == 5200
    wrong = {k: (v, truth[k]) for k, v in mine.items() if v != truth[k]}
    assert not wrong, f"{len(wrong)} labels differ from truth, e.g. {list(wrong.items())[:3]}"


@pytest.fixture(scope="module")
def trained(lake, spark, tmp_path_factory, monkeypatch_module):
    from models.train import train

    settings, _, _ = lake
    monkeypatch_module.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path_factory.mktemp('mlflow')}/mlflow.db")
    first = train(spark, settings, truth_dir=SAMPLE / "truth")
    second = train(spark, settings, truth_dir=SAMPLE / "truth")
    return settings, first, second


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_model_beats_the_baseline_without_beating_the_truth(trained):
    """An AUC above the true probabilities' AUC on the same cases can only come from leakage."""
    _, report, _ = trained
    print(report.to_text())
    assert report.metrics["auc"] > report.baseline_auc
    assert report.ceiling_auc is not None
    assert report.metrics["auc"] <= report.ceiling_auc + 0.01, "above the ceiling: a feature leaks"
    assert report.folds["test"] >= 300 and report.metrics["ece"] < 0.1


def test_first_model_is_champion_and_an_equal_one_stays_challenger(trained):
    import mlflow

    _, first, second = trained
    assert first.promotion.promote and "no champion" in first.promotion.reason
    assert not second.promotion.promote                       # the same data and seed: no gain
    assert second.metrics == first.metrics                    # deterministic for a seed
    client = mlflow.MlflowClient()
    assert str(client.get_model_version_by_alias("zhixing-execution-risk", "champion").version) == first.version
    assert str(client.get_model_version_by_alias("zhixing-execution-risk", "challenger").version) == second.version


def test_the_champion_scores_case_features_as_they_are(trained, spark):
    import mlflow

    settings, _, _ = trained
    cases = storage.read_delta(spark, settings.table(catalog.CASE_FEATURES)).limit(50).toPandas()
    scores = mlflow.pyfunc.load_model("models:/zhixing-execution-risk@champion").predict(cases)
    assert len(scores) == 50 and ((scores > 0) & (scores < 1)).all()


def test_the_run_logs_lineage_card_and_plots(trained):
    import mlflow

    _, report, _ = trained
    run = mlflow.get_run(report.run_id)
    assert run.data.params["gold_table"].endswith("gold/case_features") and "gold_version" in run.data.params
    names = {a.path for a in mlflow.MlflowClient().list_artifacts(report.run_id, "report")}
    for expected in ("roc.png", "calibration.png", "gains.png", "importance.png", "shap_summary.png",
                     "model_card.md", "deciles.csv", "slices.csv"):
        assert f"report/{expected}" in names
    card = (report.report_dir / "model_card.md").read_text(encoding="utf-8")
    assert "never an automatic sanction" in card.lower() and "gender" in card


# -- the night: scoring, drift and the clerks' files, here and on a standalone cluster ----------------------

@pytest.fixture(scope="module")
def night(trained, spark, tmp_path_factory):
    """A snapshot of the lake and registry before the night, then the night run in this process."""
    import os
    import shutil

    from pipelines.core.config import local_path
    from pipelines.flows.nightly import run_night

    settings, _, _ = trained
    before = tmp_path_factory.mktemp("before_night")
    shutil.copytree(local_path(settings.paths.lake), before / "lake")
    shutil.copy(os.environ["MLFLOW_TRACKING_URI"].removeprefix("sqlite:///"), before / "mlflow.db")
    settings = settings.model_copy(update={"paths": settings.paths.model_copy(
        update={"exports": str(tmp_path_factory.mktemp("exports"))})})
    report = run_night(spark, settings)
    print(report.to_text())
    return settings, report, before


def test_the_night_gates_scores_monitors_and_exports(night, spark):
    settings, report, _ = night
    # Every batch is in already, so the night ingests nothing (the rejected batch was reported when it came).
    assert report.exit_code == 0, report.to_text()
    # The first night of a month runs the asset watch (watch.cadence); local.yaml turns the whereabouts on.
    assert [s.stage for s in report.stages] == ["ingest", "gate bronze", "conform", "gate silver", "features",
                                                "gate gold", "watch", "gate watch", "watch export", "score", "monitor",
                                                "export", "whereabouts"]
    scores = DeltaTable(settings.table(catalog.CASE_SCORES)).to_pandas()
    assert len(scores) == scores["case_no"].nunique() == 5200          # every case, once
    assert set(scores["band"]) == {"高", "中", "低"} and scores["probability"].between(0, 1).all()
    assert scores["reasons"].map(len).between(1, 4).all()
    drift = DeltaTable(settings.table(catalog.DRIFT)).to_pandas()
    recent = drift[drift["scope"] == "recent_30d"]
    assert "score" in set(recent["feature"]) and len(recent) == 1 + settings.monitor.top_features
    assert (drift["run_date"] == LAST_BATCH).all() and drift["psi"].notna().all()


def test_each_court_gets_its_own_cases_with_names_and_masked_ids(night, spark):
    from pipelines.exports.risk import EXPORT_COLUMNS

    settings, report, _ = night
    folder = report.export.folder
    cases = DeltaTable(settings.table(catalog.SILVER["court_cases"])).to_pandas(columns=["case_no", "court_code"])
    courts = dict(zip(cases["case_no"], cases["court_code"], strict=True))
    parties = storage.read_delta(spark, settings.table(catalog.BRONZE["court_parties"])).where("role = 'respondent'") \
        .select("case_no", "name").toPandas().groupby("case_no")["name"].apply(set).to_dict()
    exported = 0
    for court in sorted(set(courts.values())):
        raw = (folder / f"{court}.csv").read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
        assert rows[0] == EXPORT_COLUMNS
        for row in rows[1:]:
            assert courts[row[0]] == court                                       # nobody else's case
            assert set(row[2].split("、")) <= parties[row[0]]                    # the court's own party names
            assert all(len(m) == 18 and m[6:14] == "*" * 8 for m in row[3].split("、"))
        probabilities = [float(r[5].rstrip("%")) for r in rows[1:]]
        assert probabilities == sorted(probabilities, reverse=True)
        exported += len(rows) - 1
        assert (folder / f"{court}.xlsx").stat().st_size > 0
    assert exported == report.export.cases > 0
    summary = (folder / "summary.md").read_text(encoding="utf-8")
    assert "| **合计** | " in summary and "recent\\_30d" in summary   # Markdown-escaped


def test_the_watch_flags_the_debtors_whose_assets_reappeared(night):
    """Every planted reappearance (truth/asset_reappearance.csv) is a lead of its case, with its record,
    date and amount, in gold/asset_watch and in its court's 终本案件财产线索 file."""
    from pipelines.exports.watch import WATCH_FOLDER, WATCH_SHEET

    settings, report, _ = night
    truth = pd.read_csv(SAMPLE / "truth" / "asset_reappearance.csv", dtype=str)
    assert len(truth) >= 20
    watch = DeltaTable(settings.table(catalog.ASSET_WATCH)).to_pandas()
    assert (watch["run_date"] == LAST_BATCH).all() and watch["case_no"].is_unique
    assert len(watch) == report.watch.cases_with_leads > truth["case_no"].nunique()
    leads = {(row.case_no, lead["record_id"]): lead for row in watch.itertuples() for lead in row.leads}
    kinds = {"asset": "asset_acquired", "transfer_in": "transfer_in"}
    for event in truth.itertuples():
        lead = leads.get((event.case_no, event.record_id))
        assert lead is not None, f"{event.case_no}: {event.kind} {event.record_id} on {event.event_date} not flagged"
        assert lead["kind"] == kinds[event.kind] and str(lead["event_on"]) == event.event_date
        assert lead["amount"] == pytest.approx(float(event.amount))
    assert watch["recovery_ratio"].between(0, 1).all() and (watch["leads_count"] >= 1).all()
    flagged = watch[watch["case_no"].isin(truth["case_no"])]
    assert flagged["recoverable_estimate"].gt(0).all()
    folder = Path(settings.paths.exports) / LAST_BATCH.isoformat() / WATCH_FOLDER
    exported = set()
    for court, group in watch.groupby("court_code"):
        rows = list(csv.reader((folder / f"{court}_{WATCH_FOLDER}.csv").read_text(encoding="utf-8-sig").splitlines()))
        assert tuple(rows[0]) == WATCH_SHEET.columns
        exported |= {r[1] for r in rows[1:] if r and r[1].startswith("(")}
        assert {r[1] for r in rows[1:] if r and r[1].startswith("(")} == set(group["case_no"])   # its own cases only
    assert set(truth["case_no"]) <= exported


def test_the_watch_is_idempotent(night, spark):
    """Running the watch again for the same date leaves the table's rows and the clerks' files as they were."""
    from pipelines.exports.watch import WATCH_FOLDER, export_watch
    from pipelines.gold.watch import run_watch

    settings, report, _ = night
    uri = settings.table(catalog.ASSET_WATCH)
    folder = Path(settings.paths.exports) / LAST_BATCH.isoformat() / WATCH_FOLDER
    before = DeltaTable(uri).to_pandas().sort_values("case_no").reset_index(drop=True)
    files = {p.name: p.read_bytes() for p in folder.glob("*.csv")}
    again = run_watch(spark, settings)
    export_watch(spark, settings, LAST_BATCH)
    after = DeltaTable(uri).to_pandas().sort_values("case_no").reset_index(drop=True)
    assert again.cases_with_leads == report.watch.cases_with_leads and len(after) == len(before)
    pd.testing.assert_frame_equal(before.drop(columns=["leads"]), after.drop(columns=["leads"]))
    assert [list(x) for x in before["leads"]] == [list(x) for x in after["leads"]]
    assert {p.name: p.read_bytes() for p in folder.glob("*.csv")} == files


def test_whereabouts_hold_each_courts_own_respondents_and_vanish_when_switched_off(night, spark):
    from pipelines.exports.whereabouts import WHEREABOUTS_FOLDER, WHEREABOUTS_SHEET, export_whereabouts

    settings, report, _ = night
    folder = Path(settings.paths.exports) / LAST_BATCH.isoformat() / WHEREABOUTS_FOLDER
    cases = DeltaTable(settings.table(catalog.SILVER["court_cases"])).to_pandas(columns=["case_no", "court_code"])
    courts = dict(zip(cases["case_no"], cases["court_code"], strict=True))
    watched = set(DeltaTable(settings.table(catalog.ASSET_WATCH)).to_pandas(columns=["case_no"])["case_no"])
    leads = 0
    for court in sorted(set(courts.values())):
        rows = list(csv.reader((folder / f"{court}_{WHEREABOUTS_FOLDER}.csv").read_text(encoding="utf-8-sig")
                               .splitlines()))
        assert tuple(rows[0]) == WHEREABOUTS_SHEET.columns
        assert all(courts[r[0]] == court for r in rows[1:])                 # the court's own cases only
        phones = [r for r in rows[1:] if r[4] == "手机号码"]
        assert all(len(r[6]) == 11 and r[6].isdigit() for r in phones)
        for (case, name), group in pd.DataFrame(phones, columns=rows[0]).groupby(["案号", "被执行人"]):
            assert list(group["日期"]) == sorted(group["日期"], reverse=True)   # most recent first
        assert all(0 < float(r[9]) <= 1 for r in rows[1:])
        assert all(r[8] <= LAST_BATCH.isoformat() for r in rows[1:])
        leads += len(rows) - 1
    assert leads == report.whereabouts.leads > 100
    covered = {r for court in set(courts.values()) for r in _first_column(folder / f"{court}_{WHEREABOUTS_FOLDER}.csv")}
    assert watched & covered and covered - watched                      # watched and newly filed cases

    off = settings.model_copy(update={"whereabouts": settings.whereabouts.model_copy(update={"enabled": False})})
    assert not export_whereabouts(spark, off, LAST_BATCH).enabled
    assert not folder.exists()
    export_whereabouts(spark, settings, LAST_BATCH)                     # back on, for the audit below
    assert len(list(folder.glob("*.csv"))) == len(set(courts.values()))


def _first_column(path: Path) -> set[str]:
    return {r[0] for r in list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))[1:]}


def test_the_night_on_a_standalone_cluster_equals_the_local_one(night, tmp_path):
    """On the lake as it was before the night, `spark-submit --master spark://...` runs `jobs/nightly.py`;
    a second night started meanwhile exits 7 at once (the run lock), and every table of the cluster's
    lake equals the local run's, by content. (Crashes and re-runs: `make test-chaos`.)"""
    import subprocess

    from helpers.crash import differences, lake_content, run_job

    from pipelines.core.config import local_path
    from tools.standalone import spark_submit_command, standalone_cluster

    settings, _, before = night
    exports = tmp_path / "exports"
    args = ["--conf", str(CONF), "--landing", str(SAMPLE / "landing"), "--lake", str(before / "lake"),
            "--exports", str(exports), "--run-date", LAST_BATCH.isoformat()]
    registry = {"MLFLOW_TRACKING_URI": f"sqlite:///{before / 'mlflow.db'}"}
    lock = before / "lake" / "_locks" / "lake.lock"

    with standalone_cluster(tmp_path / "cluster", timeout=120) as cluster:
        cmd = spark_submit_command(cluster.master_url, ROOT / "jobs" / "nightly.py", args, ROOT / "jars",
                                   ROOT / ".ivy", conf={"spark.ui.enabled": "false", "spark.driver.memory": "3g"})
        night_job = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**cluster.env, **registry}, cwd=ROOT)
        while night_job.poll() is None and not (lock.exists() and "nightly" in lock.read_text()):
            time.sleep(0.2)
        second = run_job("nightly", args, extra_env=registry, timeout=120)
        stdout, stderr = night_job.communicate(timeout=1400)
        status = cluster.status()
        executors = list((cluster.workdir / "work").glob("app-*/*/stderr"))   # executor JVMs the worker started
    assert second.returncode == 7, second.stderr[-3000:]
    assert "the lake is busy: nightly for run date 2026-11-06" in second.stderr
    assert night_job.returncode == 0, stdout[-4000:] + stderr[-3000:]
    assert [a["name"] for a in status["completedapps"] + status["activeapps"]] == [f"zhixing-nightly-{LAST_BATCH}"]
    assert f"master={cluster.master_url}" in stdout and executors

    columns = ["case_no", "court_code", "filed_on", "model_version", "probability", "band", "reasons", "run_date"]
    local = DeltaTable(settings.table(catalog.CASE_SCORES)).to_pandas(columns=columns) \
        .sort_values("case_no").reset_index(drop=True)
    remote = DeltaTable(str(before / "lake" / "gold" / "case_scores")).to_pandas(columns=columns) \
        .sort_values("case_no").reset_index(drop=True)
    assert len(remote) == 5200
    pd.testing.assert_frame_equal(local, remote, check_exact=False, rtol=1e-12)
    night_dir = Path(settings.paths.exports) / LAST_BATCH.isoformat()
    local_files = sorted(p.relative_to(night_dir) for p in night_dir.rglob("*.csv"))
    assert len(local_files) >= 15                        # risk, asset watch and whereabouts files per court
    assert sorted(p.relative_to(exports / LAST_BATCH.isoformat())
                  for p in (exports / LAST_BATCH.isoformat()).rglob("*.csv")) == local_files
    for name in local_files:                             # the clerks get the same bytes either way
        assert (exports / LAST_BATCH.isoformat() / name).read_bytes() == (night_dir / name).read_bytes()
    assert differences(lake_content(local_path(settings.paths.lake)), lake_content(before / "lake")) == []


def test_the_analyst_notebooks_run_on_the_lake(night):
    """Every notebook in notebooks/ executes, top to bottom, against this lake, its registry and exports."""
    import os

    from helpers.notebooks import execute_notebook

    from pipelines.core.config import local_path

    settings, _, _ = night
    env = {"ZHIXING_LAKE": str(local_path(settings.paths.lake)), "ZHIXING_EXPORTS": settings.paths.exports,
           "MLFLOW_TRACKING_URI": os.environ["MLFLOW_TRACKING_URI"], "ZHIXING_RUN_DATE": LAST_BATCH.isoformat()}
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert [n.name[:3] for n in notebooks] == ["01_", "02_", "03_"]
    for path in notebooks:
        executed = execute_notebook(path, env)
        code = [c for c in executed.cells if c.cell_type == "code"]
        assert all(c.execution_count for c in code), path.name
        assert sum(len(c.outputs) for c in code) >= 5, path.name


def test_personal_data_appears_only_where_the_contract_allows(night, captured_logs):
    """After the whole story (ingest, silver, gold, two trainings, a night, the clerks' files), no raw
    ID, phone or name from the raw layer is in silver, gold, monitor, MLflow (store and artifacts), the
    model reports, the Data Docs or the logs; the clerks' files hold names (allowed, contract section 5)
    but no full ID or phone; the pseudonymisation secret is nowhere."""
    import os

    from helpers.pii_audit import Needles, scan_files, scan_mlflow, scan_tables

    from pipelines.core.config import local_path
    from pipelines.core.privacy import DEV_SECRET
    from pipelines.exports.whereabouts import WHEREABOUTS_FOLDER

    settings, _, _ = night
    root = local_path(settings.paths.lake)
    whereabouts = Path(settings.paths.exports) / LAST_BATCH.isoformat() / WHEREABOUTS_FOLDER
    needles = Needles.from_bronze(root / "bronze", DEV_SECRET)
    assert min(len(needles.ids), len(needles.phones), len(needles.names)) > 1000
    assert (captured_logs / "e2e.log").stat().st_size > 10_000
    findings = [*(hit for layer in ("silver", "gold", "monitor") for hit in scan_tables(root / layer, needles)),
                *scan_files(root, needles),          # MLflow artifacts, model reports, Data Docs, the run lock
                *scan_mlflow(Path(os.environ["MLFLOW_TRACKING_URI"].removeprefix("sqlite:///")), needles),
                *scan_files(captured_logs, needles),
                *scan_files(Path(settings.paths.exports), needles, names=False, exclude=whereabouts),
                *scan_files(whereabouts, needles, names=False, phones=False)]
    assert findings == [], "\n".join(findings[:50])
    phones = [hit for hit in scan_files(whereabouts, needles, names=False) if ": phone " in hit]
    assert len(phones) > 100                       # the scan sees them, and they are only here
