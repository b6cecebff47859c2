"""The run audit: every writing job leaves one row, however it ends."""

from __future__ import annotations

import getpass

from deltalake import DeltaTable

from pipelines.core import storage
from pipelines.flows.runtime import EXIT_FAILURE, EXIT_OK, job_parser, run


def test_each_writing_run_leaves_a_row_with_its_user_exit_and_table_versions(spark, tmp_path, monkeypatch):
    from helpers.paths import CONF

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("ZHIXING_SCHEDULER_RUN_ID", "scheduled__2026-11-06")
    lake = tmp_path / "lake"
    argv = ["--conf", str(CONF), "--lake", str(lake), "--run-date", "2026-11-06"]

    def writes_twice(args):
        table = f"{lake.as_uri()}/gold/case_scores"
        storage.append(spark.createDataFrame([(1,)], "n int"), table)
        storage.append(spark.createDataFrame([(2,)], "n int"), table)
        return EXIT_OK

    def fails(args):
        raise RuntimeError("the cluster fell over")

    assert run(writes_twice, job_parser("x"), argv, writes="score") == EXIT_OK
    assert run(fails, job_parser("x"), argv, writes="score") == EXIT_FAILURE
    assert run(lambda args: EXIT_OK, job_parser("x"), argv) == EXIT_OK                 # read-only: no row

    runs = DeltaTable(str(lake / "monitor" / "runs")).to_pandas().sort_values("started_at")
    assert list(runs["job"]) == ["score", "score"] and list(runs["exit_code"]) == [EXIT_OK, EXIT_FAILURE]
    first = runs.iloc[0]
    assert first["user"] == getpass.getuser() and first["scheduler_run_id"] == "scheduled__2026-11-06"
    assert str(first["run_date"]) == "2026-11-06" and list(first["arguments"]) == argv
    assert dict(first["table_versions"])["gold/case_scores"] == 1                      # two commits: versions 0, 1
    assert first["model_version"] is None                                             # no champion yet
    assert runs["run_id"].nunique() == 2
