"""Ingestion benchmark: zhixing's ingest against a bare `spark.read` -> Delta write.

Generates a landing zone with the project's generator, then, in the same
process on the same machine, times
  * bare:    for every batch folder, spark.read (CSV or JSON, strings, the same
             encoding and multiLine options) -> Delta append, nothing checked;
  * zhixing: `pipelines.bronze.ingest` (manifests, decoding checks, validation,
             dedup, quarantine, reconciliation, ingest log).
Prints a Markdown table to paste into BENCHMARKS.md. Target: zhixing <= 1.5x bare.

    python -m benchmarks.ingest --persons 100000 --workdir bench
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from pipelines.bronze import ingest
from pipelines.config import load_settings
from pipelines.contract import load_contract
from pipelines.runtime import configure_logging
from pipelines.session import build_session


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def bare_write(spark, landing: Path, lake: Path) -> int:
    """Read every data file as-is and append it to one Delta table per dataset."""
    rows = 0
    for dataset in load_contract().values():
        files = sorted(str(p) for p in (landing / dataset.name).glob("dt=*/part-*"))
        if not files:
            continue
        if dataset.format == "csv":
            df = (spark.read.option("header", True).option("multiLine", True).option("escape", '"')
                  .option("encoding", dataset.encoding).csv(files))
        else:
            df = spark.read.json(files)
        df.write.format("delta").mode("append").save(str(lake / "bronze" / dataset.table_name))
        rows += spark.read.format("delta").load(str(lake / "bronze" / dataset.table_name)).count()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ingestion benchmark")
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", default="bench")
    parser.add_argument("--conf", default="conf/local.yaml")
    parser.add_argument("--reuse", action="store_true", help="reuse a landing zone already generated")
    args = parser.parse_args(argv)
    configure_logging()
    work = Path(args.workdir).resolve()
    landing = work / f"p{args.persons}" / "landing"
    if not (args.reuse and landing.exists()):
        shutil.rmtree(work / f"p{args.persons}", ignore_errors=True)
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "jobs.generate", "--out", str(work / f"p{args.persons}"),
                        "--persons", str(args.persons), "--seed", str(args.seed)], check=True)
        generate_s = time.monotonic() - started
    else:
        generate_s = float("nan")
    for lake in ("lake_bare", "lake_zhixing"):
        shutil.rmtree(work / lake, ignore_errors=True)

    settings = load_settings(args.conf, landing=str(landing), lake=str(work / "lake_zhixing"))
    spark = build_session(settings.spark, app_name="zhixing-bench")
    spark.range(1000).count()   # warm the JVM before timing anything

    started = time.monotonic()
    bare_rows = bare_write(spark, landing, work / "lake_bare")
    bare_s = time.monotonic() - started

    started = time.monotonic()
    report = ingest(spark, settings)
    zhixing_s = time.monotonic() - started
    loaded = sum(r.rows_loaded for r in report.results)
    in_files = sum(r.rows_in_files or 0 for r in report.results)

    result = {
        "persons": args.persons, "landing_bytes": _folder_bytes(landing), "rows_in_files": in_files,
        "generate_s": round(generate_s, 1), "bare_s": round(bare_s, 1), "bare_rows": bare_rows,
        "zhixing_s": round(zhixing_s, 1), "rows_loaded": loaded, "ratio": round(zhixing_s / bare_s, 2),
        "rows_per_s": round(in_files / zhixing_s), "bronze_bytes": _folder_bytes(work / "lake_zhixing" / "bronze"),
        "driver_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, Spark {spark.version}",
    }
    print(json.dumps(result, indent=2))
    print("\n| persons | rows in files | landing MB | bare read->Delta s | zhixing ingest s | ratio | rows/s | bronze MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {args.persons:,} | {in_files:,} | {result['landing_bytes'] / 2**20:.1f} | {bare_s:.1f} | "
          f"{zhixing_s:.1f} | {result['ratio']} | {result['rows_per_s']:,} | {result['bronze_bytes'] / 2**20:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
