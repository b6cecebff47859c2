"""The nightly run for one date: ingest -> gates -> conform -> features -> [train] -> score -> monitor -> export.

    spark-submit --packages io.delta:delta-spark_4.1_2.13:4.4.0 jobs/nightly.py --conf conf/cluster.yaml --run-date 2026-11-06

A failed night is re-run with the same command. Exit codes: see pipelines/flows/runtime.py (and the README).
"""

from __future__ import annotations

import sys

from pipelines.core.config import ConfigError
from pipelines.core.session import build_session
from pipelines.flows.nightly import run_night
from pipelines.flows.runtime import job_parser, run, settings_from_args


def main(args) -> int:
    if args.promote and not (args.reason or "").strip():
        raise ConfigError("--promote needs --reason \"...\": a forced promotion must say why")
    settings = settings_from_args(args)
    spark = build_session(settings.spark, app_name=f"zhixing-nightly-{settings.run_date}")
    report = run_night(spark, settings, retrain=args.retrain, full_rebuild=args.full_rebuild,
                       promote=args.promote, promote_reason=args.reason)
    print(report.to_text())
    return report.exit_code


def parser():
    p = job_parser(__doc__.splitlines()[0])
    p.add_argument("--retrain", action="store_true", help="train (and maybe promote) a model after the features")
    p.add_argument("--full-rebuild", action="store_true", help="rebuild gold from all of silver")
    p.add_argument("--promote", action="store_true", help="with --retrain: make the new model champion regardless")
    p.add_argument("--reason", help="why a forced promotion is justified (required with --promote)")
    return p


if __name__ == "__main__":
    sys.exit(run(main, parser(), writes="nightly"))
