"""Gold -> a registered, explained model. `python -m jobs.train` or `spark-submit jobs/train.py`.

Trains on what was known at `--run-date`, logs to MLflow, registers a new
version as `challenger` and promotes it to `champion` when it beats the
current one on the same out-of-time window (or with `--promote --reason`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from models.registry import tracking_uri
from models.train import train
from pipelines.core.config import ConfigError
from pipelines.core.session import build_session
from pipelines.flows.runtime import EXIT_OK, job_parser, run, settings_from_args


def main(args) -> int:
    if args.promote and not (args.reason or "").strip():
        # Refused before any work: found after training, it would leave a registered version
        # holding the challenger alias and a failed run, and the forced promotion unexplained.
        raise ConfigError("--promote needs --reason \"...\": a forced promotion must say why")
    settings = settings_from_args(args)
    if settings.run_date is None:      # only labels matured by the run date may be trained on
        raise ConfigError("--run-date YYYY-MM-DD is required: training uses what was known by then")
    spark = build_session(settings.spark, app_name="zhixing-train")
    report = train(spark, settings, promote=args.promote, promote_reason=args.reason,
                   truth_dir=Path(args.truth) if args.truth else None)
    print(report.to_text())
    print(f"MLflow UI: mlflow ui --backend-store-uri {tracking_uri(settings)}")
    return EXIT_OK


def parser():
    p = job_parser("Train, calibrate, explain and register the execution-risk model.")
    p.add_argument("--promote", action="store_true", help="make this version champion regardless of the gate")
    p.add_argument("--reason", help="why a forced promotion is justified (required with --promote)")
    p.add_argument("--truth", help="a generator truth/ folder: report the true-probability AUC ceiling")
    return p


if __name__ == "__main__":
    sys.exit(run(main, parser(), writes="train"))
