"""The same job runs under spark-submit, where the JVM starts before Python."""

import os
import subprocess
import sys
from pathlib import Path

from deltalake import DeltaTable
from landing import csv_text, write_batch
from tests_paths import CONF, ROOT

from pipelines.session import delta_jar_files


def test_ingest_under_spark_submit(tmp_path):
    land, lake = tmp_path / "landing", tmp_path / "lake"
    write_batch(land, "court/cases", "2025-07-01", {"part-0001.csv": csv_text(
        ["case_no", "court_code", "filed_on", "cause", "claim_amount", "applicant_kind"],
        [["(2025)苏0312执1号", "苏0312", "2025-06-30", "labor", "1000.00", "person"]])})
    jars = delta_jar_files(str(ROOT / "jars"))
    delta = (["--jars", ",".join(jars)] if jars else
             ["--packages", "io.delta:delta-spark_4.1_2.13:4.4.0", "--conf", f"spark.jars.ivy={ROOT / '.ivy'}"])
    spark_submit = Path(sys.executable).parent / "spark-submit"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    done = subprocess.run(
        [str(spark_submit), "--master", "local[1]", "--conf", "spark.ui.enabled=false", *delta,
         str(ROOT / "jobs" / "ingest.py"), "--conf", str(CONF), "--landing", str(land), "--lake", str(lake)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "court/cases" in done.stdout and "loaded" in done.stdout
    rows = DeltaTable(str(lake / "bronze" / "court_cases")).to_pyarrow_table().to_pylist()
    assert [(r["case_no"], str(r["claim_amount"])) for r in rows] == [("(2025)苏0312执1号", "1000.00")]
