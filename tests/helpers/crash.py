"""Crash tests' tools: run a job in a process group of its own, optionally killed at a fault point
(`pipelines/core/faults.py`), and read a whole lake by content with a second engine (delta-rs).

Content means every row of every Delta table, compared as a multiset: the columns that record when
or in which attempt a row was written (`VOLATILE`) are left out, since a re-run writes them anew.
The clerks' files are compared by their bytes (an XLSX by its parts, less the time it was saved), and
the model registry by what its aliases mean (`registry_content`).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
from deltalake import DeltaTable
from helpers.paths import ROOT

__all__ = ["JOBS", "VOLATILE", "start_job", "finish", "run_job", "lake_content", "differences", "assert_killed",
           "exports_content", "TEMPORARY", "registry_content"]

# A job's module is `jobs.<job>`, but for these short names.
JOBS = {"features": "jobs.build_features"}
# When and in which attempt a row was written: a re-run writes these anew.
VOLATILE = {"ingested_at", "started_at", "finished_at", "run_id", "scored_at", "conformed_at", "computed_at"}
# Tables whose rows are about attempts, not data: the run audit has a row per job run, killed ones included.
ATTEMPT_TABLES = {"monitor/runs"}


def start_job(job: str, args: list[str], fault: str | None = None,
              extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """`python -m jobs.<job> args` in a session of its own, so a fault's SIGKILL takes it and nothing else."""
    # No MLFLOW_* either: mlflow.set_tracking_uri/set_registry_uri export theirs to the environment, and an
    # inherited MLFLOW_REGISTRY_URI would send the job's model to another lake's registry.
    env = {k: v for k, v in os.environ.items() if k != "ZHIXING_FAULT" and not k.startswith("MLFLOW_")}
    env.update({"PYSPARK_PYTHON": sys.executable, **(extra_env or {})})   # the registry: the lake's own by default
    if fault:
        env["ZHIXING_FAULT"] = fault
    return subprocess.Popen([sys.executable, "-m", JOBS.get(job, f"jobs.{job}"), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT, start_new_session=True)


def finish(process: subprocess.Popen, timeout: int = 1500) -> subprocess.CompletedProcess:
    """Wait for a started job; on timeout kill its group and raise."""
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def run_job(job: str, args: list[str], fault: str | None = None, timeout: int = 1500,
            extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return finish(start_job(job, args, fault, extra_env), timeout)


def assert_killed(done: subprocess.CompletedProcess, fault: str) -> None:
    assert done.returncode == -signal.SIGKILL, (
        f"expected the job to be killed at {fault}, it exited {done.returncode}:\n"
        + done.stdout[-2000:] + done.stderr[-4000:])


def _cell(value):
    """A hashable, comparable form of a cell: arrays, maps and structs as their repr."""
    if isinstance(value, float) and value != value:
        return None
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, dict, tuple)):
        return repr(value)
    return value


def table_content(path: Path) -> pd.DataFrame:
    frame = DeltaTable(str(path)).to_pandas()
    frame = frame.drop(columns=[c for c in frame.columns if c in VOLATILE])
    frame = frame.map(_cell) if len(frame) else frame
    columns = sorted(frame.columns)
    return frame[columns].sort_values(columns, key=lambda s: s.astype(str)).reset_index(drop=True)


def lake_content(lake: Path) -> dict[str, pd.DataFrame]:
    """Every Delta table under `lake` by `<layer>/<table>`, read by delta-rs (so also: readable)."""
    tables = {}
    for log in sorted(lake.glob("*/*/_delta_log")):
        name = f"{log.parent.parent.name}/{log.parent.name}"
        if name not in ATTEMPT_TABLES and any(log.glob("*.json")):   # no commit yet: no table
            tables[name] = table_content(log.parent)
    return tables


def differences(expected: dict[str, pd.DataFrame], actual: dict[str, pd.DataFrame], rtol: float = 1e-9) -> list[str]:
    """What differs between two lakes' contents, one line per table; [] when they are equal."""
    found = []
    for name in sorted(expected.keys() | actual.keys()):
        if name not in actual or name not in expected:
            found.append(f"{name}: only in the {'expected' if name in expected else 'actual'} lake")
            continue
        want, got = expected[name], actual[name]
        if list(want.columns) != list(got.columns) or len(want) != len(got):
            found.append(f"{name}: {len(want)} rows {list(want.columns)} expected, {len(got)} rows {list(got.columns)}")
            continue
        try:
            pd.testing.assert_frame_equal(want, got, check_exact=False, rtol=rtol, check_dtype=False)
        except AssertionError as exc:
            found.append(f"{name}: {str(exc).splitlines()[0:6]}")
    return found


# The exports' temporary names (pipelines/exports/sheet.py): ".<final name>.tmp-<pid>-<8 hex digits>".
TEMPORARY = re.compile(r"\.(?P<final>.+)\.tmp-\d+-[0-9a-f]{8}")
# Written into every XLSX: when it was saved (openpyxl stamps docProps/core.xml and the zip entries).
XLSX_SAVE_TIME = "docProps/core.xml"


def exports_content(folder: Path) -> dict[str, object]:
    """Every file under `folder` by its relative path: its bytes, or for an XLSX its parts' bytes less
    `XLSX_SAVE_TIME` (so two saves of one workbook are equal). Temporaries and dot-files included."""
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if path.suffix == ".xlsx" and not TEMPORARY.fullmatch(path.name):
            with zipfile.ZipFile(path) as workbook:
                files[name] = {part: workbook.read(part) for part in sorted(workbook.namelist())
                               if part != XLSX_SAVE_TIME}
        else:
            files[name] = path.read_bytes()
    return files


REGISTERED_NAME = "zhixing-execution-risk"      # conf/base.yaml model.registered_name
REGISTRY_METRICS = ("test_", "baseline_test_auc")


def registry_content(lake: Path) -> dict[str, dict]:
    """What each alias of the lake's registry (`<lake>/_mlflow/mlflow.db`) means, by alias: the version's
    training run parameters (a table by `<layer>/<table>`, whichever lake), its out-of-time metrics, its promotion tag
    and status; and which aliases share a version. Version numbers are left out: a killed training
    leaves its version behind, so a re-run's numbers differ from an uninterrupted one's."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    store = lake / "_mlflow" / "mlflow.db"
    if not store.exists():                        # opening a store creates it: read, never write
        return {}
    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    try:
        aliases = client.get_registered_model(REGISTERED_NAME).aliases
    except MlflowException:                       # no model registered yet
        return {}
    content = {"shared": sorted(sorted(a for a, v in aliases.items() if v == version) for version in set(aliases.values()))}
    for alias, version in sorted(aliases.items()):
        model = client.get_model_version(REGISTERED_NAME, version)
        run = client.get_run(model.run_id).data
        content[alias] = {
            "params": {k: _lake_free(v) for k, v in run.params.items()},
            "metrics": {k: round(v, 9) for k, v in run.metrics.items() if k.startswith(REGISTRY_METRICS)},
            "promotion": model.tags.get("promotion"), "status": model.status}
    return content


def _lake_free(param: str) -> str:
    """A parameter naming a table (`file:///.../lake/gold/case_features`) as `<lake>/gold/case_features`:
    a copy of a lake holds the registry of the lake it was copied from."""
    if param.startswith(("file:", "/")):
        return "<lake>/" + "/".join(param.rstrip("/").split("/")[-2:])
    return param
