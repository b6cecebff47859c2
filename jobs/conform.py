"""Bronze -> silver. `python -m jobs.conform` or `spark-submit jobs/conform.py`.

Incremental by default; `--full-rebuild` rebuilds every silver table from
bronze alone and gives identical tables.
"""

from __future__ import annotations

import sys

from pipelines.core.session import build_session
from pipelines.flows.runtime import EXIT_OK, job_parser, run, settings_from_args
from pipelines.silver.build import conform
from pipelines.silver.resolve import resolve_entities


def main(args) -> int:
    settings = settings_from_args(args)
    spark = build_session(settings.spark, app_name="zhixing-conform")
    report = conform(spark, settings, full_rebuild=args.full_rebuild, link=resolve_entities)
    print(report.to_text())
    return EXIT_OK


def parser():
    p = job_parser("Conform bronze into pseudonymised, linked silver tables.")
    p.add_argument("--full-rebuild", action="store_true", help="rebuild silver from all of bronze")
    return p


if __name__ == "__main__":
    sys.exit(run(main, parser(), writes="conform"))
