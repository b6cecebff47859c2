"""A real Spark standalone cluster on this machine: one master, one worker.

`local[N]` runs the driver and the tasks in one JVM, so it cannot show what a
cluster does differently: executors are separate JVMs started by a worker,
they fetch the jars from the driver, they start *their own* Python workers
(which must be the venv interpreter, or `pipelines` is not importable), and
the application is registered with a master. This module starts such a cluster
from the pip-installed pyspark, which ships `bin/spark-class` but no
`sbin/start-master.sh`:

    with standalone_cluster(Path("/tmp/zx-cluster")) as cluster:
        cmd = spark_submit_command(cluster.master_url, Path("jobs/ingest.py"),
                                   ["--conf", "conf/local.yaml"], Path("jars"), Path(".ivy"))
        subprocess.run(cmd, env=cluster.env, check=True)

or, from the shell (starts the cluster, submits, stops it, exits with
spark-submit's code):

    python -m tools.standalone --workdir /tmp/zx-cluster -- \\
        jobs/ingest.py --conf conf/local.yaml --landing data/sample/landing --lake /tmp/zx-lake

Everything stays on 127.0.0.1 and inside the work folder: logs in
`<workdir>/logs`, executor folders in `<workdir>/work`, shuffle and block files
in `<workdir>/local`. Ports default to free ones, so several clusters (or other
Spark jobs) can run side by side.

How a real cluster differs:
- The daemons run under `sbin/spark-daemon.sh`, not as children of a Python
  process: `sbin/spark-daemon.sh start org.apache.spark.deploy.master.Master 1
  --host <host> --port 7077 --webui-port 8080` on the master node, and
  `sbin/spark-daemon.sh start org.apache.spark.deploy.worker.Worker 1 --cores N
  --memory Xg spark://<master>:7077` on each worker node (with a full Spark
  distribution, `sbin/start-master.sh` / `sbin/start-worker.sh` wrap these),
  with `SPARK_LOG_DIR` / `SPARK_PID_DIR` set and `spark-daemon.sh stop ...` to stop.
- Always give the worker `--memory`: without it it offers nearly all the RAM.
- Every worker node needs the same Python environment at the same path
  (`spark.pyspark.python`), since executors start Python workers locally.
- Paths such as `--lake` must be visible from every node (HDFS, S3, NFS), not
  a local folder; here one machine plays every node, so local paths work.
- The jars given with `--jars` (or resolved by the driver from `--packages`)
  are served by the driver to the executors; workers need no Ivy cache or
  network access to Maven.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Cluster", "ClusterError", "spark_home", "free_port", "standalone_cluster", "spark_submit_command"]

DELTA_PACKAGE = "io.delta:delta-spark_4.1_2.13:4.4.0"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


class ClusterError(RuntimeError):
    """The cluster did not come up (the message carries the tail of the logs)."""


@dataclass
class Cluster:
    master_url: str                     # spark://host:port, for --master
    webui_url: str                      # http://host:port of the master's web UI
    master_log: Path
    worker_log: Path
    workdir: Path
    env: dict[str, str]                 # the environment to run spark-submit in (same IPs, dirs, python)
    processes: list[subprocess.Popen] = field(default_factory=list, repr=False)

    def status(self, timeout: float = 5.0) -> dict:
        """The master's JSON status: workers, activeapps, completedapps, ..."""
        return _get_json(self.webui_url + "/json/", timeout)


def spark_home() -> Path:
    """SPARK_HOME of the pip-installed pyspark."""
    import pyspark
    return Path(pyspark.__file__).resolve().parent


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _port_busy(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _get_json(url: str, timeout: float) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as resp:   # noqa: S310 - our own local web UI
        return json.loads(resp.read().decode("utf-8"))


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"({path} not readable)"
    return "\n".join(text[-lines:]) or "(empty)"


def _cluster_env(workdir: Path, host: str, python: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "SPARK_HOME": str(spark_home()),
        "PYSPARK_PYTHON": python,
        "PYSPARK_DRIVER_PYTHON": python,
        "SPARK_LOCAL_IP": host,                       # bind and advertise 127.0.0.1 only
        "SPARK_LOCAL_HOSTNAME": host,                 # ...also in URLs (not the machine's hostname)
        "SPARK_LOCAL_DIRS": str(workdir / "local"),   # shuffle and block files
        "SPARK_WORKER_DIR": str(workdir / "work"),
        "SPARK_LOG_DIR": str(workdir / "logs"),
        "SPARK_PID_DIR": str(workdir / "pids"),
    })
    # The daemons themselves are small; the default 1g heap each is more than they need.
    env.setdefault("SPARK_DAEMON_MEMORY", "512m")
    return env


def _stop(procs: list[subprocess.Popen], grace: float) -> None:
    """SIGTERM each daemon's process group (the worker's executors are in it), then SIGKILL."""
    for proc in procs:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait(timeout=10)
        # Executors of a worker that died hard would be orphans in its group.
        _signal_group(proc, signal.SIGKILL)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)      # our child leads its own session, so pgid == pid
    except (ProcessLookupError, PermissionError):
        pass


def _start(cmd: list[str], log: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=cwd, start_new_session=True)


@contextmanager
def standalone_cluster(workdir: Path, host: str = "127.0.0.1", master_port: int | None = None,
                       webui_port: int | None = None, worker_cores: int = 2, worker_memory: str = "3g",
                       timeout: float = 120, python: str = sys.executable,
                       grace: float = 15) -> Iterator[Cluster]:
    """Start a master and one worker, wait until the worker is ALIVE, yield, stop both.

    Ports left as None are picked free. A port given explicitly but already in use
    fails at once rather than letting Spark silently move to the next port.
    """
    workdir = Path(workdir).expanduser().resolve()
    logs = workdir / "logs"
    for sub in ("logs", "work", "local", "pids"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    for name, port in (("master port", master_port), ("master web UI port", webui_port)):
        if port is not None and _port_busy(host, port):
            raise ClusterError(f"{name} {host}:{port} is already in use (leave it None to pick a free one)")
    master_port = master_port or free_port(host)
    webui_port = webui_port or free_port(host)
    worker_port, worker_webui_port = free_port(host), free_port(host)

    env = _cluster_env(workdir, host, python)
    spark_class = str(spark_home() / "bin" / "spark-class")
    master_url = f"spark://{host}:{master_port}"
    webui_url = f"http://{host}:{webui_port}"
    master_log, worker_log = logs / "master.log", logs / "worker.log"
    cluster = Cluster(master_url, webui_url, master_log, worker_log, workdir, env)

    def fail(reason: str) -> ClusterError:
        return ClusterError(f"{reason}\n--- {master_log} (tail) ---\n{_tail(master_log)}"
                            f"\n--- {worker_log} (tail) ---\n{_tail(worker_log)}")

    with ExitStack() as stack:
        stack.callback(_stop, cluster.processes, grace)     # runs even if the body or the start-up raised
        # Stopped in list order: the worker (and its executors) first, then the master.
        master = _start([spark_class, MASTER_CLASS, "--host", host, "--port", str(master_port),
                         "--webui-port", str(webui_port)], master_log, env, workdir)
        cluster.processes.append(master)
        worker = _start([spark_class, WORKER_CLASS, master_url, "--host", host, "--port", str(worker_port),
                         "--webui-port", str(worker_webui_port), "--cores", str(worker_cores),
                         "--memory", worker_memory, "--work-dir", str(workdir / "work")], worker_log, env, workdir)
        cluster.processes.insert(0, worker)

        deadline = time.monotonic() + timeout
        while True:
            for name, proc in (("master", master), ("worker", worker)):
                if proc.poll() is not None:
                    raise fail(f"spark {name} exited with code {proc.returncode} during start-up")
            try:
                state = cluster.status(timeout=2)
                if any(w.get("state") == "ALIVE" for w in state.get("workers", [])):
                    break
            except (urllib.error.URLError, OSError, ValueError):
                pass    # web UI not up yet
            if time.monotonic() > deadline:
                raise fail(f"no ALIVE worker at {webui_url}/json/ after {timeout:.0f}s")
            time.sleep(0.5)
        yield cluster


def spark_submit_command(cluster_master: str, script: Path, args: list[str], jars_dir: Path, ivy_dir: Path,
                         delta_package: str = DELTA_PACKAGE, conf: dict[str, str] | None = None,
                         python: str = sys.executable) -> list[str]:
    """The spark-submit argv that runs `script args...` as a client-mode app on `cluster_master`.

    The Delta jars come from `jars_dir` when it holds jars (offline), else from Maven
    via `--packages` with a project-local Ivy cache. Either way the driver serves them to
    the executors. No `--py-files`: the project is pip-installed (editable) in the venv,
    and the executors' Python workers run that venv's interpreter.
    """
    jars = sorted(str(p.resolve()) for p in Path(jars_dir).glob("*.jar")) if Path(jars_dir).is_dir() else []
    delta = (["--jars", ",".join(jars)] if jars else
             ["--packages", delta_package, "--conf", f"spark.jars.ivy={Path(ivy_dir).expanduser().resolve()}"])
    settings = {
        "spark.executor.memory": "2g",
        "spark.executor.cores": "2",
        "spark.pyspark.python": python,
        "spark.pyspark.driver.python": python,
        **(conf or {}),
    }
    cmd = [str(spark_home() / "bin" / "spark-submit"), "--master", cluster_master, "--deploy-mode", "client", *delta]
    for key, value in settings.items():
        cmd += ["--conf", f"{key}={value}"]
    return [*cmd, str(script), *args]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    own, submit = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(
        prog="python -m tools.standalone",
        description="Start a local Spark standalone cluster, spark-submit a job to it, stop the cluster.",
        epilog="example: python -m tools.standalone --workdir /tmp/zx-cluster -- "
               "jobs/ingest.py --conf conf/local.yaml")
    parser.add_argument("--workdir", type=Path, required=True, help="logs, executor dirs and scratch space")
    parser.add_argument("--worker-cores", type=int, default=2)
    parser.add_argument("--worker-memory", default="3g")
    parser.add_argument("--jars-dir", type=Path, default=Path("jars"), help="Delta jars (else --packages)")
    parser.add_argument("--ivy-dir", type=Path, default=Path(".ivy"))
    parser.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE",
                        help="extra spark-submit --conf; repeatable")
    opts = parser.parse_args(own)
    if not submit:
        parser.error("give the script and its arguments after --")
    conf = dict(item.split("=", 1) for item in opts.spark_conf)
    try:
        with standalone_cluster(opts.workdir, worker_cores=opts.worker_cores,
                                worker_memory=opts.worker_memory) as cluster:
            print(f"cluster up: {cluster.master_url} (web UI {cluster.webui_url}, logs {cluster.master_log.parent})",
                  file=sys.stderr, flush=True)
            cmd = spark_submit_command(cluster.master_url, Path(submit[0]), submit[1:], opts.jars_dir, opts.ivy_dir,
                                       conf=conf)
            return subprocess.run(cmd, env=cluster.env).returncode   # output streams straight through
    except ClusterError as exc:
        print(f"cluster failed to start: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
