"""The crash matrix (`make test-chaos`, about 30 minutes; not part of `make test`).

The back-fill night of the committed sample is run job by job, uninterrupted: ingest, conform,
features, train, score. Then each of ingest, conform, features and score is started again from the
lake as it was before it, killed with SIGKILL at a point of one of its Delta writes (before it,
inside its Spark job before the commit, or right after the commit; `pipelines/core/faults.py`), and run
once more. Every table must then hold exactly what the uninterrupted run left, compared by content
(`tests/crash.py`), and every table must be readable right after the kill.

`make test` runs one such kill too, in `tests/test_sample_e2e.py`: a night killed while entity
resolution rewrites its links, re-run on a standalone cluster.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from helpers.crash import assert_killed, differences, lake_content, run_job
from deltalake import DeltaTable
from helpers.paths import CONF, SAMPLE

pytestmark = pytest.mark.chaos
NIGHT = dt.date(2026, 10, 31)             # the sample's back-fill batch
CHAIN = ["ingest", "conform", "features", "train", "score"]
POINTS = {
    "ingest": ["bronze/finance_balances:during",          # the largest table, files half written
               "bronze/court_parties_quarantine:after",   # some datasets in, others not, nothing logged
               "bronze/ingest_log:during"],               # every table in, the log not
    "conform": ["silver/population_persons:during",
                "silver/entity_links:after",              # links written, not yet applied to orders
                "silver/social_accounts:during",          # links half applied
                "silver/conform_log:before"],             # silver done, the log not
    "features": ["gold/debtor_profile:after",             # profiles written, case features not
                 "gold/case_features:during"],
    "score": ["gold/case_scores:during", "gold/case_scores:after"],
}


def job_args(lake: Path) -> list[str]:
    return ["--conf", str(CONF), "--landing", str(SAMPLE / "landing"), "--lake", str(lake),
            "--run-date", NIGHT.isoformat()]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """The uninterrupted chain: per job, the lake before it, its exit code, and the lake's content after it."""
    root = tmp_path_factory.mktemp("baseline")
    lake = root / "lake"
    states = {}
    for job in CHAIN:
        before = root / f"before_{job}"
        shutil.copytree(lake, before) if lake.exists() else before.mkdir()
        done = run_job(job, job_args(lake))
        assert done.returncode in (0, 3), done.stdout[-2000:] + done.stderr[-4000:]
        states[job] = before, done.returncode, lake_content(lake)
    return states


def _version(table: Path) -> int | None:
    """The table's version; None before its first commit (a `_delta_log` folder alone is no table)."""
    return DeltaTable(str(table)).version() if any((table / "_delta_log").glob("*.json")) else None


@pytest.mark.parametrize(("job", "fault"), [(job, fault) for job, faults in POINTS.items() for fault in faults])
def test_a_job_killed_at_a_write_reruns_to_the_uninterrupted_lake(baseline, job, fault, tmp_path):
    before, exit_code, expected = baseline[job]
    lake = tmp_path / "lake"
    shutil.copytree(before, lake)
    table = lake / fault.split(":")[0]
    version_before = _version(table)

    assert_killed(run_job(job, job_args(lake), fault), fault)
    lake_content(lake)                                       # every table readable: old state or new
    if fault.endswith(":during"):
        assert _version(table) == version_before, f"{fault}: a commit happened although the job died before it"
    elif fault.endswith(":after"):
        assert _version(table) != version_before, f"{fault}: the write had committed before the kill"

    again = run_job(job, job_args(lake))
    assert again.returncode == exit_code, again.stdout[-2000:] + again.stderr[-4000:]
    assert differences(expected, lake_content(lake)) == []
