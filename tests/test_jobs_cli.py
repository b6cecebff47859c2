"""The jobs with no test of their own, run as a user runs them: `python -m jobs.<name> --conf ... --lake ...`.

One tiny lake is built once in this process (a 400-person synthetic landing, its back-fill night:
ingest, conform, features, train, score), and each test runs a job in a subprocess over a copy of it,
then checks the exit code, what the job printed, and what it wrote: Delta tables read with delta-rs,
the clerks' files, and the MLflow registry. A job's refusals (bad flags) need no lake and no Spark.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from deltalake import DeltaTable
from helpers.crash import run_job
from helpers.paths import ROOT

from pipelines.core.config import load_settings

NIGHT = dt.date(2026, 10, 31)     # the synthetic landing's back-fill batch
PERSONS, SEED = 400, 7            # about 160 cases: enough for every training fold, and quick
LAKE_LAYERS = ("silver", "gold", "monitor")   # what jobs.compact looks after


@dataclass(frozen=True)
class Built:
    conf: Path         # local.yaml with a small Spark: one shuffle partition, 1g
    lake: Path         # after the back-fill night; the registry is at <lake>/_mlflow/mlflow.db
    version: str       # the registered model version trained there, the champion


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory) -> Built:
    from models.registry import load_champion
    from models.scoring import score_cases
    from models.train import train
    from pipelines.bronze.ingest import ingest
    from pipelines.gold.build import build_gold
    from pipelines.silver.build import conform
    from pipelines.silver.resolve import resolve_entities
    from synthetic import generate

    root = tmp_path_factory.mktemp("jobs_cli")
    generate(root / "synthetic", PERSONS, SEED, backfill_dt=NIGHT.isoformat(), daily_batches=1)
    conf = root / "conf.yaml"
    conf.write_text(f"extends: {ROOT / 'conf' / 'local.yaml'}\n"
                    "spark:\n  shuffle_partitions: 1\n  driver_memory: 1g\n", encoding="utf-8")
    lake = root / "lake"
    settings = load_settings(conf, landing=str(root / "synthetic" / "landing"), lake=str(lake), run_date=NIGHT)
    with pytest.MonkeyPatch.context() as env:
        env.delenv("MLFLOW_TRACKING_URI", raising=False)     # the lake's own registry, as the jobs use it
        assert not ingest(spark, settings).rejected
        conform(spark, settings, link=resolve_entities)
        build_gold(spark, settings, full_rebuild=True)
        report = train(spark, settings)
        assert report.promotion.promote, report.promotion.reason   # the first model: champion
        score_cases(spark, settings, load_champion(settings), NIGHT)
    return Built(conf, lake, report.version)


def run_cli(job: str, *args: str, timeout: int = 1500) -> subprocess.CompletedProcess:
    """`python -m jobs.<job> args` from the project root, without a fault armed or an inherited MLflow URI."""
    return run_job(job, list(args), timeout=timeout)


def night_args(conf: Path, lake: Path, *more: str) -> list[str]:
    return ["--conf", str(conf), "--lake", str(lake), "--run-date", NIGHT.isoformat(), *more]


def copy_lake(built: Built, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built.lake, tmp_path / "lake"))


def said(done: subprocess.CompletedProcess) -> str:
    return f"exit {done.returncode}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-5000:]}"


def delta_tables(lake: Path, layers=("bronze", *LAKE_LAYERS)) -> list[str]:
    """`layer/name` of every committed Delta table of `lake` in `layers`."""
    return sorted(f"{log.parent.parent.name}/{log.parent.name}" for layer in layers
                  for log in (lake / layer).glob("*/_delta_log") if any(log.glob("*.json")))


def rows(path: Path, version: int | None = None) -> tuple[list[str], list[tuple]]:
    """A table's columns and its rows as a sorted multiset of cell reprs (arrays and NaN compare too)."""
    table = DeltaTable(str(path), version=version).to_pandas()
    return list(table.columns), sorted(tuple(repr(v) for v in row) for row in table.itertuples(index=False))


def csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def registry(lake: Path):
    import mlflow

    uri = f"sqlite:///{lake / '_mlflow' / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)          # models:/ URIs below resolve against this lake's registry
    mlflow.set_registry_uri(uri)
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture(scope="module", autouse=True)
def mlflow_uris_restored():
    """Leave MLflow's URIs (its globals and the environment it exports them to) as this module found them."""
    import mlflow

    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    yield
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


# -- every job: --help, and the flags it refuses (no Spark, no lake) -----------------------------------------

@pytest.mark.parametrize(("job", "flags"), [
    ("compact", ["--min-files"]),
    ("export", ["--exports"]),
    ("watch", ["--exports"]),
    ("train", ["--promote", "--reason", "--truth"]),
])
def test_every_job_explains_its_flags(job, flags):
    done = run_cli(job, "--help", timeout=300)
    assert done.returncode == 0, said(done)
    assert done.stdout.startswith("usage: ")
    for flag in ("--conf", "--lake", "--run-date", *flags):
        assert flag in done.stdout, f"{job} --help does not mention {flag}"


@pytest.mark.parametrize(("job", "flags", "message"), [
    ("export", [], "--run-date is required"),
    ("watch", [], "--run-date YYYY-MM-DD is required"),
    ("train", ["--run-date", NIGHT.isoformat(), "--promote"], "--promote needs --reason"),
    ("train", ["--run-date", NIGHT.isoformat(), "--promote", "--reason", "   "], "--promote needs --reason"),
    ("nightly", ["--run-date", NIGHT.isoformat(), "--retrain", "--promote"], "--promote needs --reason"),
])
def test_a_job_refuses_bad_flags_with_exit_2_before_writing_anything(job, flags, message, tmp_path):
    lake, exports = tmp_path / "lake", tmp_path / "exports"
    conf = ROOT / "conf" / "local.yaml"
    done = run_cli(job, "--conf", str(conf), "--lake", str(lake), "--exports", str(exports), *flags, timeout=300)
    assert done.returncode == 2, said(done)
    assert message in done.stderr, said(done)
    assert not exports.exists()
    # At most the run lock's folder: no table, no model report, no MLflow store.
    assert not lake.exists() or [p.name for p in lake.iterdir()] in ([], ["_locks"]), list(lake.iterdir())


# -- compact -------------------------------------------------------------------------------------------------

@pytest.mark.e2e
def test_compact_bin_packs_the_tables_with_enough_files_and_changes_no_row(built, spark, tmp_path):
    from pipelines.core import storage

    lake = copy_lake(built, tmp_path)
    fragmented = ["silver/court_cases", "gold/case_features"]
    for name in fragmented:      # the same rows, rewritten as 4 files (as a few nights of merges leave them)
        uri = str(lake / name)
        storage.overwrite(storage.read_delta(spark, uri).repartition(4), uri)
    min_files = 3
    tables = delta_tables(lake)
    before = {name: (sorted(DeltaTable(str(lake / name)).file_uris()), DeltaTable(str(lake / name)).version(),
                     rows(lake / name)) for name in tables}
    assert all(len(before[name][0]) == 4 for name in fragmented)
    looked_after = [name for name in tables if name.split("/")[0] in LAKE_LAYERS]
    assert any(len(before[name][0]) < min_files for name in looked_after), "no table to leave alone"

    done = run_cli("compact", *night_args(built.conf, lake, "--min-files", str(min_files)))

    assert done.returncode == 0, said(done)
    printed = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    assert sorted(printed) == looked_after, said(done)
    for name in tables:
        files_before, version_before, content = before[name]
        table = DeltaTable(str(lake / name))
        files_after = sorted(table.file_uris())
        assert rows(lake / name) == content, f"{name}: rows changed"
        if name in looked_after and len(files_before) >= min_files:
            # OPTIMIZE leaves one file per partition (each file here is far below its 1 GB target).
            partitions = {os.path.dirname(f) for f in files_before}
            assert len(files_after) == len(partitions) < len(files_before), name
            assert printed[name] == f"{len(files_before)} files -> {len(files_after)}"
            assert table.version() == version_before + 1
            assert rows(lake / name, version_before) == content, f"{name}: time travel lost the old version"
        else:                       # too few files, or bronze (not compacted): untouched
            assert files_after == files_before and table.version() == version_before, name
            assert name not in looked_after or printed[name] == "left as it is"
    assert set(fragmented) <= {n for n in looked_after if printed[n] != "left as it is"}
    runs = DeltaTable(str(lake / "monitor" / "runs")).to_pandas()
    assert runs[["job", "exit_code"]].values.tolist() == [["compact", 0]]


# -- export --------------------------------------------------------------------------------------------------

@pytest.mark.e2e
def test_export_writes_each_courts_files_for_the_night_and_a_rerun_writes_the_same_bytes(built, tmp_path):
    from openpyxl import load_workbook

    from pipelines.exports.risk import EXPORT_COLUMNS, SHEET_NAME
    from pipelines.exports.sheet import safe_file_stem

    lake, exports = copy_lake(built, tmp_path), tmp_path / "exports"
    max_age = load_settings(built.conf).export.max_age_days
    scores = DeltaTable(str(lake / "gold" / "case_scores")).to_pandas()
    tonight = scores[scores["run_date"] == NIGHT]
    recent = tonight[tonight["filed_on"] >= NIGHT - dt.timedelta(days=max_age)]
    backlog = len(tonight) - len(recent)
    courts = sorted(set(DeltaTable(str(lake / "silver" / "court_cases")).to_pandas()["court_code"]))
    assert len(recent) and backlog and len(courts) > 1, "the tiny lake should have recent and back-log cases"

    done = run_cli("export", *night_args(built.conf, lake, "--exports", str(exports)))

    assert done.returncode == 0, said(done)
    assert f"exported {len(recent)} case(s) for {len(courts)} court(s)" in done.stdout, said(done)
    assert f"{backlog} back-log case(s)" in done.stdout
    folder = exports / NIGHT.isoformat()
    stems = {court: safe_file_stem(court) for court in courts}
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{s}.{kind}" for s in stems.values() for kind in ("csv", "xlsx")] + ["summary.md"])
    for court, stem in stems.items():
        mine = recent[recent["court_code"] == court]
        table = csv_rows(folder / f"{stem}.csv")
        assert table[0] == EXPORT_COLUMNS
        assert sorted(r[0] for r in table[1:]) == sorted(mine["case_no"]), court
        band = dict(zip(mine["case_no"], mine["band"], strict=True))
        assert all(r[EXPORT_COLUMNS.index("风险等级")] == band[r[0]] for r in table[1:])
        sheet = load_workbook(folder / f"{stem}.xlsx", read_only=True)[SHEET_NAME]
        cells = [row[0] for row in sheet.iter_rows(values_only=True)]
        assert cells[0] == EXPORT_COLUMNS[0] and sorted(cells[1:]) == sorted(mine["case_no"]), court
    first = {p.name: p.read_bytes() for p in folder.glob("*.csv")}

    again = run_cli("export", *night_args(built.conf, lake, "--exports", str(exports)))

    assert again.returncode == 0, said(again)
    assert {p.name: p.read_bytes() for p in folder.glob("*.csv")} == first
    assert len(list(folder.iterdir())) == 2 * len(courts) + 1        # no temporary left behind


# -- watch ---------------------------------------------------------------------------------------------------

@pytest.mark.e2e
def test_watch_writes_the_nights_asset_watch_and_each_courts_files(built, tmp_path):
    from pipelines.exports.sheet import safe_file_stem
    from pipelines.exports.watch import WATCH_FOLDER, WATCH_SHEET
    from pipelines.exports.whereabouts import WHEREABOUTS_FOLDER

    lake, exports = copy_lake(built, tmp_path), tmp_path / "exports"
    assert not (lake / "gold" / "asset_watch").exists()
    courts = sorted(set(DeltaTable(str(lake / "silver" / "court_cases")).to_pandas()["court_code"]))

    done = run_cli("watch", *night_args(built.conf, lake, "--exports", str(exports)))

    assert done.returncode == 0, said(done)
    watch = DeltaTable(str(lake / "gold" / "asset_watch")).to_pandas()
    assert len(watch) and set(watch["run_date"]) == {NIGHT}
    assert (watch["leads_count"] > 0).all() and watch["case_no"].is_unique
    assert f"; {len(watch)} with leads ({int(watch['leads_count'].sum())} leads)" in done.stdout, said(done)
    folder = exports / NIGHT.isoformat() / WATCH_FOLDER
    assert f"{len(courts)} court files in {folder}" in done.stdout
    for court in courts:
        stem = safe_file_stem(court) + WATCH_SHEET.file_suffix
        assert (folder / f"{stem}.xlsx").is_file()
        table = csv_rows(folder / f"{stem}.csv")
        assert tuple(table[0]) == WATCH_SHEET.columns
        assert sorted(r[1] for r in table[1:]) == sorted(watch.loc[watch["court_code"] == court, "case_no"]), court
    # conf/local.yaml switches the 送达地址线索 on: one pair of files per court beside the watch's.
    assert sorted(p.suffix for p in (exports / NIGHT.isoformat() / WHEREABOUTS_FOLDER).iterdir()) == \
        [".csv"] * len(courts) + [".xlsx"] * len(courts)


# -- train: a forced promotion, and isotonic calibration -----------------------------------------------------

@pytest.mark.e2e
def test_train_promote_with_a_reason_makes_a_model_no_better_the_champion_and_logs_why(built, tmp_path):
    settings = load_settings(built.conf)
    name, champion_alias = settings.model.registered_name, settings.scoring.model_alias
    lake = copy_lake(built, tmp_path)
    reason = "合议庭决定: the old champion was trained before the 2026 rules"

    done = run_cli("train", *night_args(built.conf, lake, "--promote", "--reason", reason))

    assert done.returncode == 0, said(done)
    assert f"registry: champion (forced: {reason})" in done.stdout, said(done)
    client = registry(lake)
    champion = client.get_model_version_by_alias(name, champion_alias)
    challenger = client.get_model_version_by_alias(name, settings.model.challenger_alias)
    assert str(champion.version) == str(challenger.version) == str(int(built.version) + 1)
    assert champion.tags["promotion"] == f"forced: {reason}"
    run = client.get_run(champion.run_id)
    assert run.data.tags["promotion"] == f"forced: {reason}" and run.data.tags["promoted"] == "True"
    # Same gold, same seed, same test window: it does not beat the old champion by the margin, so
    # the gate alone would have kept it challenger; only --promote made it champion.
    old = client.get_run(client.get_model_version(name, built.version).run_id)
    assert run.data.params["test_from"] == old.data.params["test_from"]
    assert run.data.metrics["test_auc"] < old.data.metrics["test_auc"] + settings.model.promote_margin


@pytest.mark.e2e
def test_isotonic_calibration_registers_a_monotone_step_function_of_the_raw_score(built, spark, tmp_path):
    import mlflow
    from sklearn.isotonic import IsotonicRegression

    from pipelines.core import storage

    settings = load_settings(built.conf)
    name = settings.model.registered_name
    assert settings.model.calibration == "sigmoid"            # the champion was calibrated with Platt
    lake = copy_lake(built, tmp_path)
    conf = tmp_path / "isotonic.yaml"
    conf.write_text(f"extends: {built.conf}\nmodel:\n  calibration: isotonic\n", encoding="utf-8")

    done = run_cli("train", *night_args(conf, lake))

    assert done.returncode == 0, said(done)
    client = registry(lake)
    version = client.get_model_version_by_alias(name, settings.model.challenger_alias)
    assert str(version.version) == str(int(built.version) + 1)
    assert client.get_run(version.run_id).data.params["calibration"] == "isotonic"
    cases = storage.read_delta(spark, str(lake / "gold" / "case_features")).toPandas()

    def served(v: str):
        pyfunc = mlflow.pyfunc.load_model(f"models:/{name}/{v}")
        return pyfunc.unwrap_python_model().model, np.asarray(pyfunc.predict(cases), dtype=float)

    isotonic, p = served(str(version.version))
    assert isinstance(isotonic.calibrator, IsotonicRegression)
    raw = isotonic.raw_score(cases)
    assert ((p >= 0) & (p <= 1)).all()
    order = np.argsort(raw, kind="stable")
    assert (np.diff(p[order]) >= 0).all(), "not monotone in the raw score"
    # A step function: cases with different raw scores share a probability. Platt's sigmoid is
    # one-to-one: the champion's calibrator keeps every distinct raw score apart.
    assert len(np.unique(p)) < len(np.unique(raw)) // 2
    platt, _ = served(built.version)
    assert len(np.unique(platt.calibrate(raw))) == len(np.unique(raw)) > 10
