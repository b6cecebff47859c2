"""`make bench`: zhixing at 100,000 and 1,000,000 persons, every stage, against what the engines can do.

For each size, in two processes (the back-fill, then the nightly run and the references), so the
driver memory of each night is its own:
  1. generate a landing zone with the project's generator (`python -m synthetic`);
  2. the reference ingest: a bare `spark.read` -> Delta append of the back-fill's files;
  3. night 1, the back-fill, through `pipelines.flows.nightly.run_night` with training: ingest, the three
     gates, conform, features, train, score, monitor, export, each timed, with rows, rows per second
     and the peak memory of the driver's Python process and of the JVM while the stage ran;
  4. night 2, the first nightly batch, the same way without training: the nightly run that courts
     schedule, compared across sizes;
  5. references on the same rows and cores: native LightGBM `Booster.predict` (and with
     `pred_contrib`, the reasons' work) on every case in gold; the core gold aggregates as
     DuckDB SQL over the same silver tables (`benchmarks.gold_sql`);
  6. the size of every layer (bytes, files, rows) and the training timings logged in MLflow.

Results land in <workdir>/results/p<N>.json; `--report` renders them into the generated block of
BENCHMARKS.md (between the `bench:begin` and `bench:end` markers; the prose around it is kept).

    python -m benchmarks.suite --persons 100000 1000000 --workdir bench --report BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

log = logging.getLogger("benchmarks.suite")

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
TARGETS = {"ingest": 1.5, "scoring": 0.5, "gold": 2.0, "nightly": 10.0}


# ---------------------------------------------------------------------------------------------- memory

class MemorySampler:
    """Samples the RSS of this (driver) process and of its JVM child every `interval` seconds."""

    def __init__(self, interval: float = 0.5):
        self.interval = interval
        self.samples: list[tuple[float, int, int]] = []   # (monotonic time, python rss, jvm rss)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            try:
                jvm = sum(c.memory_info().rss for c in me.children(recursive=True) if "java" in c.name())
                self.samples.append((time.monotonic(), me.memory_info().rss, jvm))
            except psutil.Error:
                pass
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, start: float, end: float) -> tuple[float, float]:
        """Peak Python and JVM RSS in MB between two monotonic times."""
        inside = [s for s in self.samples if start <= s[0] <= end] or self.samples[-1:]
        return (max(s[1] for s in inside) / 2**20, max(s[2] for s in inside) / 2**20) if inside else (0.0, 0.0)


class StageClock(logging.Handler):
    """Start and end times of the night's stages, from `pipelines.flows.nightly`'s own log lines."""

    _START = re.compile(r"^stage (.+): started$")
    _END = re.compile(r"^stage (.+): \d+ rows, ")

    def __init__(self):
        super().__init__(logging.INFO)
        self.started: dict[str, float] = {}
        self.ended: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if m := self._START.match(message):
            self.started[m.group(1)] = time.monotonic()
        elif m := self._END.match(message):
            self.ended[m.group(1)] = time.monotonic()


# ---------------------------------------------------------------------------------------------- sizes

def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def layer_sizes(lake: Path) -> dict[str, dict[str, int]]:
    """Per layer: bytes on disk (data and log), data files and rows of the current table versions."""
    from deltalake import DeltaTable

    sizes = {}
    for layer in ("bronze", "silver", "gold", "monitor"):
        tables = [p for p in sorted((lake / layer).glob("*")) if (p / "_delta_log").is_dir()]
        files = rows = 0
        for table in tables:
            actions = DeltaTable(str(table)).get_add_actions(flatten=True)
            files += actions.num_rows
            rows += sum(v or 0 for v in actions.column("num_records").to_pylist())
        sizes[layer] = {"tables": len(tables), "bytes": folder_bytes(lake / layer), "files": files, "rows": rows}
    return sizes


# ---------------------------------------------------------------------------------------------- references

def bare_ingest(spark, landing: Path, lake: Path, dates: list[str]) -> dict:
    """What the engine does with no checks: read each dataset's files (strings) and append them to Delta."""
    from pipelines.core.contract import load_contract

    started, rows = time.monotonic(), 0
    for dataset in load_contract().values():
        files = sorted(str(p) for d in dates for p in (landing / dataset.name / f"dt={d}").glob("part-*"))
        if not files:
            continue
        if dataset.format == "csv":
            df = (spark.read.option("header", True).option("multiLine", True).option("escape", '"')
                  .option("encoding", dataset.encoding).csv(files))
        else:
            df = spark.read.json(files)
        df.write.format("delta").mode("append").save(str(lake / "bronze" / dataset.table_name))
        rows += spark.read.format("delta").load(str(lake / "bronze" / dataset.table_name)).count()
    return {"seconds": time.monotonic() - started, "rows": rows}


def native_scoring(lake: Path, model) -> dict:
    """LightGBM on its own: the same cases, the same cores, the matrix built beforehand (not timed)."""
    from deltalake import DeltaTable

    X = model.matrix(DeltaTable(str(lake / "gold" / "case_features")).to_pandas(columns=model.features))
    threads = os.cpu_count() or 1
    started = time.monotonic()
    model.booster.predict(X, raw_score=True, num_threads=threads)
    predict_s = time.monotonic() - started
    started = time.monotonic()
    model.booster.predict(X, pred_contrib=True, num_threads=threads)
    contrib_s = time.monotonic() - started
    return {"rows": len(X), "predict_seconds": predict_s, "predict_and_contrib_seconds": predict_s + contrib_s,
            "threads": threads}


def gold_agreement(lake: Path, parquet: Path, compare) -> float:
    """The lowest share of cases, over the SQL's columns, where DuckDB's value equals zhixing's gold."""
    import pandas as pd
    from deltalake import DeltaTable

    duck = pd.read_parquet(parquet)
    columns = [c for c in duck.columns if c != "case_no"]
    gold = DeltaTable(str(lake / "gold" / "case_features")).to_pandas(columns=["case_no", *columns])
    return min(compare(duck, gold, columns).values())


def training_timings(settings, run_id: str) -> dict:
    import mlflow

    from models.registry import tracking_uri

    mlflow.set_tracking_uri(tracking_uri(settings))
    data = mlflow.MlflowClient().get_run(run_id).data
    metrics, params = data.metrics, data.params
    keys = ("frame_seconds", "matrix_seconds", "fit_seconds")
    return {**{k: metrics.get(k) for k in keys},
            "training_rows_total": params.get("training_rows_total"),
            "training_sample_fraction": params.get("training_sample_fraction")}


# ---------------------------------------------------------------------------------------------- one size

def _night(spark, settings, run_date: dt.date, sampler: MemorySampler, retrain: bool) -> dict:
    from pipelines.flows.nightly import run_night

    clock = StageClock()
    logging.getLogger("pipelines.flows.nightly").addHandler(clock)
    started = time.monotonic()
    try:
        report = run_night(spark, settings.model_copy(update={"run_date": run_date}), retrain=retrain)
    finally:
        logging.getLogger("pipelines.flows.nightly").removeHandler(clock)
    total = time.monotonic() - started
    stages = []
    for s in report.stages:
        python_mb, jvm_mb = sampler.peak(clock.started.get(s.stage, 0.0), clock.ended.get(s.stage, time.monotonic()))
        stages.append({"stage": s.stage, "rows": s.rows, "seconds": round(s.seconds, 2),
                       "rows_per_second": round(s.rows / s.seconds) if s.seconds else None,
                       "driver_python_peak_mb": round(python_mb), "jvm_peak_mb": round(jvm_mb)})
    python_mb, jvm_mb = sampler.peak(started, time.monotonic())
    return {"run_date": run_date.isoformat(), "exit_code": report.exit_code, "seconds": round(total, 1),
            "driver_python_peak_mb": round(python_mb), "jvm_peak_mb": round(jvm_mb), "stages": stages}


def run_phase(phase: str, persons: int, workdir: Path, conf: str, seed: int, reuse: bool, out: Path) -> None:
    """One phase for one size, in this process; `out` is rewritten after each step, so a failure keeps
    what was measured. `backfill`: generate, the bare ingest, night 1 with training. `nightly`: night 2,
    then the references (they load data into the process, so they come after the night)."""
    from pipelines.bronze.landing import discover_batches
    from pipelines.core.config import load_settings
    from pipelines.core.contract import load_contract
    from pipelines.core.session import build_session
    from pipelines.flows.runtime import configure_logging

    configure_logging()
    root = workdir / f"p{persons}"
    landing, lake = root / "landing", root / "lake"
    result: dict = json.loads(out.read_text()) if phase == "nightly" else {"persons": persons}

    def save() -> None:
        out.write_text(json.dumps(result, indent=2, default=str))

    if phase == "backfill":
        if not (reuse and (landing / "court").exists()):
            shutil.rmtree(root, ignore_errors=True)
            started = time.monotonic()
            subprocess.run([sys.executable, "-m", "synthetic", "--out", str(root), "--persons", str(persons),
                            "--seed", str(seed)], check=True)
            result["generate_seconds"] = round(time.monotonic() - started, 1)
        for folder in ("lake", "lake_bare", "exports"):
            shutil.rmtree(root / folder, ignore_errors=True)
        result["landing"] = {"bytes": folder_bytes(landing), "files": sum(1 for _ in landing.rglob("part-*"))}
    settings = load_settings(conf, landing=str(landing), lake=str(lake), exports=str(root / "exports"))

    with MemorySampler() as sampler:
        spark = build_session(settings.spark, app_name=f"zhixing-bench-{persons}-{phase}")
        spark.range(1000).count()          # the JVM is warm before anything is timed
        dates = sorted({b.batch_dt for b in discover_batches(spark, settings.paths.landing,
                                                              list(load_contract().values()))})
        log.info("bench persons=%d phase=%s nights=%s", persons, phase, [d.isoformat() for d in dates])
        if phase == "backfill":
            result["bare_ingest"] = bare_ingest(spark, landing, root / "lake_bare", [dates[0].isoformat()])
            save()
            shutil.rmtree(root / "lake_bare", ignore_errors=True)
            result["backfill"] = _night(spark, settings, dates[0], sampler, retrain=True)
            result["layers_after_backfill"] = layer_sizes(lake)
            save()
        else:
            result["nightly"] = _night(spark, settings, dates[1], sampler, retrain=False)
            result["layers"] = layer_sizes(lake)
            save()

            from models.registry import load_champion
            champion = load_champion(settings)
            result["training"] = training_timings(settings, champion.run_id)
            result["native_scoring"] = native_scoring(lake, champion.model)
            save()

            from benchmarks.gold_sql import compare, duckdb_core, spark_core
            result["gold_duckdb"] = duckdb_core(str(lake / "silver"), str(root / "gold_duckdb.parquet"))
            result["gold_duckdb"]["agreement_min"] = gold_agreement(lake, root / "gold_duckdb.parquet", compare)
            result["gold_spark_sql"] = spark_core(spark, str(lake / "silver"))
            save()
        result[f"driver_python_peak_mb_{phase}_process"] = round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        result["machine"] = machine(spark)
        save()
        spark.stop()


def machine(spark=None) -> dict:
    import delta
    import duckdb
    import lightgbm

    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30), "python": platform.python_version(),
            "java": subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0],
            "spark": spark.version if spark else None, "delta_spark": getattr(delta, "__version__", None),
            "lightgbm": lightgbm.__version__, "duckdb": duckdb.__version__,
            "master": spark.sparkContext.master if spark else None,
            "shuffle_partitions": spark.conf.get("spark.sql.shuffle.partitions") if spark else None,
            "driver_memory": spark.conf.get("spark.driver.memory") if spark else None,
            "date": dt.date.today().isoformat()}


# ---------------------------------------------------------------------------------------------- report

def _stage(night: dict, name: str) -> dict:
    return next((s for s in night["stages"] if s["stage"] == name), {})


def ratios(results: list[dict]) -> list[dict]:
    """The issue's targets, measured: one row per (what, size)."""
    rows = []
    for r in results:
        b = r["backfill"]
        ingest_s, bare_s = _stage(b, "ingest").get("seconds"), r["bare_ingest"]["seconds"]
        rows.append({"what": "ingest vs bare read -> Delta", "persons": r["persons"], "zhixing": ingest_s,
                     "reference": bare_s, "ratio": ingest_s / bare_s, "target": f"<= {TARGETS['ingest']}x",
                     "met": ingest_s / bare_s <= TARGETS["ingest"]})
        score = _stage(b, "score")
        native = r["native_scoring"]
        ours = score["rows"] / score["seconds"]
        for label, key in (("predict", "predict_seconds"), ("predict + contributions", "predict_and_contrib_seconds")):
            theirs = native["rows"] / native[key]
            rows.append({"what": f"scoring rows/s vs native Booster ({label})", "persons": r["persons"],
                         "zhixing": ours, "reference": theirs, "ratio": ours / theirs,
                         "target": f">= {TARGETS['scoring']}x", "met": ours / theirs >= TARGETS["scoring"]})
        features_s, duck_s = _stage(b, "features")["seconds"], r["gold_duckdb"]["seconds"]
        rows.append({"what": "gold features vs DuckDB core SQL", "persons": r["persons"], "zhixing": features_s,
                     "reference": duck_s, "ratio": features_s / duck_s, "target": f"<= {TARGETS['gold']}x",
                     "met": features_s / duck_s <= TARGETS["gold"]})
        t = r["training"]
        if t.get("fit_seconds"):
            build = (t["frame_seconds"] or 0) + (t["matrix_seconds"] or 0)
            rows.append({"what": "training matrix build vs LightGBM fit", "persons": r["persons"], "zhixing": build,
                         "reference": t["fit_seconds"], "ratio": build / t["fit_seconds"], "target": "< 0.25x",
                         "met": build / t["fit_seconds"] < 0.25})
    by_size = {r["persons"]: r for r in results}
    if len(by_size) >= 2:
        small, large = min(by_size), max(by_size)
        for key, label in (("nightly", "nightly run"), ("backfill", "back-fill night")):
            a, b = by_size[small][key]["seconds"], by_size[large][key]["seconds"]
            scale = large / small
            rows.append({"what": f"{label}, {large:,} vs {small:,} persons", "persons": large, "zhixing": b,
                         "reference": a, "ratio": b / a, "target": f"<= {scale:g}x",
                         "met": b / a <= scale})
        a = by_size[small]["nightly"]["driver_python_peak_mb"]
        b = by_size[large]["nightly"]["driver_python_peak_mb"]
        rows.append({"what": f"driver (Python) peak MB in the nightly run, {large:,} vs {small:,}", "persons": large,
                     "zhixing": b, "reference": a, "ratio": b / a, "target": "flat (<= 1.5x)", "met": b / a <= 1.5})
    return rows


def _fmt(value, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def complete(result: dict) -> bool:
    return "gold_spark_sql" in result


def render(results: list[dict]) -> str:
    """Markdown for the finished sizes; a size still running (or stopped) is named with what it has."""
    unfinished = [r for r in results if not complete(r)]
    results = sorted((r for r in results if complete(r)), key=lambda r: r["persons"])
    if not results:
        return "No size has finished yet.\n"
    m = results[-1]["machine"]
    out = [f"Generated by `make bench` on {m['date']}: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GiB, "
           f"{m['java']}, Python {m['python']}, Spark {m['spark']} (`{m['master']}`, "
           f"{m['shuffle_partitions']} shuffle partitions, driver {m['driver_memory']}), LightGBM {m['lightgbm']}, "
           f"DuckDB {m['duckdb']}. Single runs on an otherwise idle machine.", ""]
    out += ["### Targets", "", "| what | persons | zhixing | reference | ratio | target | met |",
            "|---|---:|---:|---:|---:|---|---|"]
    for row in ratios(results):
        out.append(f"| {row['what']} | {row['persons']:,} | {_fmt(row['zhixing'])} | {_fmt(row['reference'])} | "
                   f"{row['ratio']:.2f} | {row['target']} | {'yes' if row['met'] else '**no**'} |")
    out += ["", "Seconds, except scoring (cases per second) and memory (MB).", ""]
    for key, title in (("backfill", "Back-fill night (night 1, with training)"), ("nightly", "Nightly run (night 2)")):
        out += [f"### {title}", "", "| stage | " + " | ".join(f"{r['persons']:,}: s | rows | rows/s | py MB | JVM MB"
                                                              for r in results) + " |",
                "|---|" + "---:|" * (5 * len(results))]
        names = [s["stage"] for s in results[0][key]["stages"]]
        for name in names:
            cells = []
            for r in results:
                s = _stage(r[key], name)
                cells += [_fmt(s.get("seconds")), _fmt(s.get("rows")), _fmt(s.get("rows_per_second")),
                          _fmt(s.get("driver_python_peak_mb")), _fmt(s.get("jvm_peak_mb"))]
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        cells = []
        for r in results:
            n = r[key]
            cells += [_fmt(n["seconds"]), "", "", _fmt(n["driver_python_peak_mb"]), _fmt(n["jvm_peak_mb"])]
        out += ["| **whole night** | " + " | ".join(cells) + " |", ""]
    out += ["### Layers after night 2", "", "| layer | " + " | ".join(f"{r['persons']:,}: MB | files | rows"
                                                                      for r in results) + " |",
            "|---|" + "---:|" * (3 * len(results))]
    cells = []
    for r in results:
        cells += [_fmt(r["landing"]["bytes"] / 2**20), _fmt(r["landing"]["files"]), "—"]
    out.append("| landing (delivered files) | " + " | ".join(cells) + " |")
    for layer in ("bronze", "silver", "gold", "monitor"):
        cells = []
        for r in results:
            lz = r["layers"][layer]
            cells += [_fmt(lz["bytes"] / 2**20), _fmt(lz["files"]), _fmt(lz["rows"])]
        out.append(f"| {layer} | " + " | ".join(cells) + " |")
    out += ["", "### References, measured in the same process", ""]
    for r in results:
        n, t = r["native_scoring"], r["training"]
        agreement = math.floor(r["gold_duckdb"]["agreement_min"] * 1e5) / 1e3      # never rounded up to 100%
        out.append(f"- {r['persons']:,} persons: generator {_fmt(r.get('generate_seconds'))} s; bare ingest "
                   f"{_fmt(r['bare_ingest']['seconds'])} s for {r['bare_ingest']['rows']:,} rows; native LightGBM on "
                   f"{n['rows']:,} cases with {n['threads']} threads: predict {n['predict_seconds']:.2f} s, with "
                   f"contributions {n['predict_and_contrib_seconds']:.2f} s; DuckDB core gold SQL "
                   f"{r['gold_duckdb']['seconds']:.1f} s ({r['gold_duckdb']['rows']:,} cases; every column agrees with "
                   f"gold on at least {agreement:.3f}% of them), the same SQL on Spark "
                   f"{r['gold_spark_sql']['seconds']:.1f} s; training read {_fmt(t['frame_seconds'])} s, matrix "
                   f"{_fmt(t['matrix_seconds'], 2)} s, LightGBM {_fmt(t['fit_seconds'])} s on "
                   f"{t['training_rows_total']} labelled cases (sample fraction {t['training_sample_fraction']}); "
                   f"driver Python peak {r['driver_python_peak_mb_backfill_process']:,} MB in the back-fill's process "
                   f"(training holds the sample in pandas), {r['driver_python_peak_mb_nightly_process']:,} MB in the "
                   f"nightly one (with the references).")
    for r in unfinished:
        done = [k for k in ("bare_ingest", "backfill", "nightly", "native_scoring", "gold_duckdb") if k in r]
        out.append(f"- {r['persons']:,} persons: not finished when this was written (done: {', '.join(done) or 'nothing'}).")
    return "\n".join(out) + "\n"


def write_report(results: list[dict], path: Path) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text:
        text = text.rstrip() + f"\n\n## `make bench`\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    path.write_text(f"{head}{BEGIN}\n{render(results)}{END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--workdir", default="bench")
    parser.add_argument("--conf", default="conf/bench.yaml")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reuse", action="store_true", help="reuse landing zones already generated")
    parser.add_argument("--report", help="render every results/p*.json into this Markdown file")
    parser.add_argument("--phase", choices=["backfill", "nightly"], help=argparse.SUPPRESS)  # one phase, this process
    args = parser.parse_args(argv)
    workdir = Path(args.workdir).resolve()
    results_dir = workdir / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    if args.phase:
        run_phase(args.phase, args.persons[0], workdir, args.conf, args.seed, args.reuse,
                  results_dir / f"p{args.persons[0]}.json")
        return 0
    for persons in args.persons:
        # One process per size and night: the driver's memory in each is its own.
        for phase in ("backfill", "nightly"):
            cmd = [sys.executable, "-m", "benchmarks.suite", "--phase", phase, "--persons", str(persons),
                   "--workdir", str(workdir), "--conf", args.conf, "--seed", str(args.seed)]
            subprocess.run(cmd + (["--reuse"] if args.reuse else []), check=True)
    if args.report:
        results = [json.loads(p.read_text()) for p in sorted(results_dir.glob("p*.json"))]
        write_report(results, Path(args.report))
        print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
