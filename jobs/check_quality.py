"""Data-quality gate over one lake layer. `python -m jobs.check_quality --layer bronze`.

Exit 0 when no critical expectation failed, 4 when one did (the scheduler must
not start the next layer), with the usual 1 and 2 for crashes and bad usage.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from pipelines.core.session import build_session
from pipelines.flows.gates import GATES
from pipelines.flows.runtime import EXIT_OK, EXIT_QUALITY_FAILED, job_parser, run, settings_from_args
from pipelines.quality.layer import check_layer

log = logging.getLogger(__name__)


def main(args) -> int:
    settings = settings_from_args(args)
    spark = build_session(settings.spark, app_name=f"zhixing-quality-{args.layer}")
    gate = GATES[args.layer]
    report = check_layer(spark, settings, gate.layer, gate.suites(),
                         Path(args.quality_dir) if args.quality_dir else None)
    print(report.to_text())
    if not report.success:
        log.error("quality gate failed: %s", "; ".join(f.label for f in report.critical_failures))
        return EXIT_QUALITY_FAILED
    return EXIT_OK


def parser():
    p = job_parser("Validate a lake layer's tables; exit 4 if a critical expectation fails.")
    p.add_argument("--layer", default="bronze", choices=sorted(GATES), help="gate to run (default bronze)")
    p.add_argument("--quality-dir", help="local folder for the GX context (default <lake>/_quality/gx)")
    return p


if __name__ == "__main__":
    sys.exit(run(main, parser()))
