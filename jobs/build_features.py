"""Silver -> gold. `python -m jobs.build_features` or `spark-submit jobs/build_features.py`.

Nightly by default: builds features for the cases filed on or before
`--run-date` that gold does not hold yet, and re-evaluates every label at that
date. `--full-rebuild` recomputes the whole history (a retraining run).
"""

from __future__ import annotations

import sys

from pipelines.core.session import build_session
from pipelines.flows.runtime import EXIT_OK, EXIT_QUALITY_FAILED, job_parser, run, settings_from_args
from pipelines.gold.build import build_gold
from pipelines.gold.suites import gold_suites
from pipelines.quality.layer import check_layer


def main(args) -> int:
    settings = settings_from_args(args)
    spark = build_session(settings.spark, app_name="zhixing-build-features")
    print(build_gold(spark, settings, full_rebuild=args.full_rebuild).to_text())
    gate = check_layer(spark, settings, "gold", gold_suites(), run_date=settings.run_date)
    print(gate.to_text())
    return EXIT_OK if gate.success else EXIT_QUALITY_FAILED


def parser():
    p = job_parser("Build point-in-time debtor profiles and labelled case features.")
    p.add_argument("--full-rebuild", action="store_true", help="rebuild gold for every case (retraining)")
    return p


if __name__ == "__main__":
    sys.exit(run(main, parser(), writes="build_features"))
