"""Crash tests' tools: run a job in a process group of its own, optionally killed at a fault point
(`pipelines/core/faults.py`), and read a whole lake by content with a second engine (delta-rs).

Content means every row of every Delta table, compared as a multiset: the columns that record when
or in which attempt a row was written (`VOLATILE`) are left out, since a re-run writes them anew.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
from deltalake import DeltaTable
from helpers.paths import ROOT

__all__ = ["JOBS", "VOLATILE", "start_job", "finish", "run_job", "lake_content", "differences", "assert_killed"]

JOBS = {"ingest": "jobs.ingest", "conform": "jobs.conform", "features": "jobs.build_features",
        "train": "jobs.train", "score": "jobs.score", "nightly": "jobs.nightly"}
# When and in which attempt a row was written: a re-run writes these anew.
VOLATILE = {"ingested_at", "started_at", "finished_at", "run_id", "scored_at", "conformed_at", "computed_at"}
# Tables whose rows are about attempts, not data: the run audit has a row per job run, killed ones included.
ATTEMPT_TABLES = {"monitor/runs"}


def start_job(job: str, args: list[str], fault: str | None = None,
              extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """`python -m jobs.<job> args` in a session of its own, so a fault's SIGKILL takes it and nothing else."""
    env = {k: v for k, v in os.environ.items() if k not in ("ZHIXING_FAULT", "MLFLOW_TRACKING_URI")}
    env.update({"PYSPARK_PYTHON": sys.executable, **(extra_env or {})})   # the registry: the lake's own by default
    if fault:
        env["ZHIXING_FAULT"] = fault
    return subprocess.Popen([sys.executable, "-m", JOBS[job], *args], stdout=subprocess.PIPE,
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
