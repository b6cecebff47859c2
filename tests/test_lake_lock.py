"""The lake's run lock: one writer at a time, and a dead holder never blocks the next run."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import signal
import time

import pytest

from pipelines.core.lock import LOCK_FILE, LakeBusy, lake_lock

NIGHT = dt.date(2026, 11, 6)


def _hold(lock_dir: str, ready, release) -> None:
    with lake_lock(lock_dir, "nightly", NIGHT):
        ready.set()
        release.wait(30)


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock until told to let go (or killed)."""
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    process = ctx.Process(target=_hold, args=(str(tmp_path), ready, release))
    process.start()
    assert ready.wait(30), "the holder never took the lock"
    yield process, release
    if process.is_alive():          # a killed sleeper would never acknowledge the event
        release.set()
    process.join(10)


def test_a_second_run_fails_at_once_naming_the_holder(tmp_path, holder):
    process, _ = holder
    started = time.monotonic()
    with pytest.raises(LakeBusy) as busy, lake_lock(tmp_path, "ingest", NIGHT):
        pytest.fail("the block ran while another process held the lock")
    assert time.monotonic() - started < 2
    message = str(busy.value)
    assert f"pid {process.pid}" in message and "nightly for run date 2026-11-06" in message
    assert "stopped before writing anything" in message


def test_the_lock_is_free_once_the_holder_finishes(tmp_path, holder):
    process, release = holder
    release.set()
    process.join(10)
    with lake_lock(tmp_path, "nightly", NIGHT) as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert (tmp_path / LOCK_FILE).read_text() == ""          # nothing claims it after the block


def test_a_killed_holder_leaves_no_stale_lock(tmp_path, holder):
    process, _ = holder
    os.kill(process.pid, signal.SIGKILL)
    process.join(10)
    assert (tmp_path / LOCK_FILE).read_text()                # its note is still there...
    with lake_lock(tmp_path, "nightly", NIGHT):              # ...but the lock went with it
        pass


def test_the_lock_is_released_when_the_block_raises(tmp_path):
    with pytest.raises(RuntimeError), lake_lock(tmp_path, "conform"):
        raise RuntimeError("the job failed")
    with lake_lock(tmp_path, "conform"):
        pass


def test_no_lock_folder_warns_and_runs(caplog):
    with lake_lock(None, "nightly") as path:
        assert path is None
    assert "concurrent runs of nightly are not prevented" in caplog.text


def test_a_writing_job_exits_7_without_running_while_the_lake_is_locked(tmp_path):
    from pipelines.flows.runtime import EXIT_BUSY, EXIT_OK, job_parser, run
    from helpers.paths import CONF

    ran = []
    argv = ["--conf", str(CONF), "--lake", str(tmp_path / "lake"), "--run-date", "2026-11-06"]
    with lake_lock(tmp_path / "lake" / "_locks", "nightly", NIGHT):
        assert run(lambda args: ran.append(1) or EXIT_OK, job_parser("x"), argv, writes="ingest") == EXIT_BUSY
        assert run(lambda args: ran.append(2) or EXIT_OK, job_parser("x"), argv) == EXIT_OK   # read-only: no lock
    assert ran == [2]
    assert run(lambda args: ran.append(3) or EXIT_OK, job_parser("x"), argv, writes="ingest") == EXIT_OK
    assert ran == [2, 3]


def test_the_lock_folder_is_the_lakes_unless_configured(tmp_path):
    from pipelines.core.config import ConfigError, load_settings
    from helpers.paths import CONF

    assert load_settings(CONF, lake=str(tmp_path / "lake")).lock_dir() == tmp_path / "lake" / "_locks"
    assert load_settings(CONF, lake="hdfs://nn/lake").lock_dir() is None
    raw = tmp_path / "conf.yaml"
    raw.write_text(f"extends: {CONF}\npaths:\n  locks: {tmp_path / 'shared'}\n")
    assert load_settings(raw, lake="hdfs://nn/lake").lock_dir() == tmp_path / "shared"
    raw.write_text(f"extends: {CONF}\npaths:\n  locks: s3a://bucket/locks\n")
    with pytest.raises(ConfigError, match="locks"):
        load_settings(raw)


def test_a_production_config_without_a_real_secret_refuses_before_writing(tmp_path, monkeypatch):
    from pipelines.core.privacy import DEV_SECRET
    from pipelines.flows.runtime import EXIT_OK, EXIT_USAGE, job_parser, run
    from helpers.paths import ROOT

    ran = []
    argv = ["--conf", str(ROOT / "conf" / "cluster.yaml"), "--lake", str(tmp_path / "lake"),
            "--landing", str(tmp_path / "landing")]
    for secret in (None, DEV_SECRET):
        if secret is None:
            monkeypatch.delenv("ZHIXING_PSEUDONYM_SECRET", raising=False)
        else:
            monkeypatch.setenv("ZHIXING_PSEUDONYM_SECRET", secret)
        assert run(lambda args: ran.append(1) or EXIT_OK, job_parser("x"), argv, writes="ingest") == EXIT_USAGE
    assert ran == [] and not (tmp_path / "lake").exists()
    monkeypatch.setenv("ZHIXING_PSEUDONYM_SECRET", "a-real-secret-of-some-length")
    assert run(lambda args: ran.append(1) or EXIT_OK, job_parser("x"), argv, writes="ingest") == EXIT_OK
    assert ran == [1]
