"""Landing -> bronze. `python -m jobs.ingest` or `spark-submit jobs/ingest.py`."""

from __future__ import annotations

import sys

from pipelines.bronze import ingest
from pipelines.core.session import build_session
from pipelines.flows.runtime import EXIT_OK, EXIT_REJECTED, job_parser, run, settings_from_args


def main(args) -> int:
    settings = settings_from_args(args)
    spark = build_session(settings.spark, app_name="zhixing-ingest")
    report = ingest(spark, settings, args.dataset or None)
    print(report.to_text())
    return EXIT_REJECTED if report.rejected else EXIT_OK


def parser():
    p = job_parser("Ingest complete landing batches into bronze Delta tables.")
    p.add_argument("--dataset", action="append", help="only this dataset (domain/name); repeatable")
    return p


if __name__ == "__main__":
    sys.exit(run(main, parser(), writes="ingest"))
