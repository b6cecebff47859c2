"""The terminated-case asset watch for one date: gold/asset_watch and each court's 终本案件财产线索 files.

    spark-submit --packages io.delta:delta-spark_4.1_2.13:4.4.0 jobs/watch.py --conf conf/cluster.yaml --run-date 2026-12-01

The nightly run does this itself on the nights `watch.cadence` names; this job runs it on demand
(for instance after a month's nights were missed). A re-run for the same date replaces that date's
rows and files. With `whereabouts.enabled` on, the night's 送达地址线索 files are rewritten too, so
they cover the watched cases. Exit codes: see pipelines/flows/runtime.py.
"""

from __future__ import annotations

import sys

from pipelines.core.config import ConfigError
from pipelines.core.session import build_session
from pipelines.exports.watch import export_watch
from pipelines.exports.whereabouts import export_whereabouts
from pipelines.flows.runtime import EXIT_OK, job_parser, run, settings_from_args
from pipelines.gold.watch import run_watch


def main(args) -> int:
    settings = settings_from_args(args)
    if settings.run_date is None:      # leads are as of a date; without one there is no watch to write
        raise ConfigError("--run-date YYYY-MM-DD is required: the watch compares what debtors hold at that date")
    spark = build_session(settings.spark, app_name=f"zhixing-watch-{settings.run_date}")
    print(run_watch(spark, settings).to_text())
    folder, files = export_watch(spark, settings, settings.run_date)
    print(f"{len(files)} court files in {folder}")
    print(export_whereabouts(spark, settings, settings.run_date).to_text())
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run(main, job_parser(__doc__.splitlines()[0]), writes="watch"))
