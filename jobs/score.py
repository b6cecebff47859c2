"""Score every case filed by the run date that no other night scored, with the champion -> gold/case_scores.

    python -m jobs.score --run-date 2026-11-06     (or spark-submit jobs/score.py ...)

Re-running a night replaces that night's rows.
"""

from __future__ import annotations

import sys

from models.registry import NoChampion, load_champion
from models.scoring import score_cases
from pipelines.core.session import build_session
from pipelines.flows.runtime import EXIT_NO_MODEL, EXIT_OK, job_parser, log, run, settings_from_args


def main(args) -> int:
    settings = settings_from_args(args)
    if settings.run_date is None:
        p.error("--run-date is required")
    try:
        champion = load_champion(settings)
    except NoChampion as exc:
        log.error("%s", exc)
        return EXIT_NO_MODEL
    spark = build_session(settings.spark, app_name="zhixing-score")
    print(score_cases(spark, settings, champion, settings.run_date).to_text())
    return EXIT_OK


p = job_parser(__doc__.splitlines()[0])

if __name__ == "__main__":
    sys.exit(run(main, p, writes="score"))
