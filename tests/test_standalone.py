"""The spark-submit command for a standalone cluster. The cluster itself is exercised by
test_sample_e2e.py, which runs the nightly job on one and compares it with a local run."""

import sys
from pathlib import Path


from tools.standalone import DELTA_PACKAGE, spark_submit_command

CASES = [
    ["(2025)苏0312执1号", "苏0312", "2025-06-30", "labor", "1000.00", "person"],
    ["(2025)苏0312执2号", "苏0312", "2025-06-30", "financial_loan", "25000.50", "company"],
    ["(2025)苏0311执7号", "苏0311", "2025-07-01", "sales_contract", "380.00", "person"],
]


def _conf_values(cmd: list[str]) -> dict[str, str]:
    return dict(cmd[i + 1].split("=", 1) for i, arg in enumerate(cmd) if arg == "--conf" and "=" in cmd[i + 1])


def test_submit_command_uses_jar_folder_when_it_has_jars(tmp_path):
    (tmp_path / "jars").mkdir()
    (tmp_path / "jars" / "b.jar").write_bytes(b"")
    (tmp_path / "jars" / "a.jar").write_bytes(b"")
    cmd = spark_submit_command("spark://127.0.0.1:7077", Path("jobs/ingest.py"), ["--conf", "conf/local.yaml"],
                               tmp_path / "jars", tmp_path / ".ivy", conf={"spark.ui.enabled": "false"})
    assert Path(cmd[0]).name == "spark-submit"
    assert cmd[cmd.index("--master") + 1] == "spark://127.0.0.1:7077"
    assert cmd[cmd.index("--deploy-mode") + 1] == "client"
    assert cmd[cmd.index("--jars") + 1] == f"{tmp_path / 'jars' / 'a.jar'},{tmp_path / 'jars' / 'b.jar'}"
    assert "--packages" not in cmd
    conf = _conf_values(cmd)
    assert conf["spark.executor.memory"] == "2g" and conf["spark.executor.cores"] == "2"
    assert conf["spark.ui.enabled"] == "false" and "spark.jars.ivy" not in conf
    assert conf["spark.pyspark.python"] == sys.executable      # executors' Python workers: the venv
    # The script comes after every spark-submit option; its own arguments follow it untouched.
    assert cmd[-3:] == ["jobs/ingest.py", "--conf", "conf/local.yaml"]


def test_submit_command_falls_back_to_packages_and_project_ivy(tmp_path):
    (tmp_path / "jars").mkdir()                     # empty folder: no jars
    cmd = spark_submit_command("spark://h:1", Path("job.py"), [], tmp_path / "jars", tmp_path / ".ivy")
    assert "--jars" not in cmd
    assert cmd[cmd.index("--packages") + 1] == DELTA_PACKAGE
    assert _conf_values(cmd)["spark.jars.ivy"] == str((tmp_path / ".ivy").resolve())
    assert cmd[-1] == "job.py"
    missing = spark_submit_command("spark://h:1", Path("job.py"), [], tmp_path / "nope", tmp_path / ".ivy",
                                   delta_package="g:a:1")
    assert missing[missing.index("--packages") + 1] == "g:a:1"
