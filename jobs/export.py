"""Write each court's clerk files (CSV with BOM, XLSX) and the nightly summary for a run date.

    python -m jobs.export --run-date 2026-11-06 --exports /srv/court-share/zhixing

Files go to <exports>/<run_date>/<court_code>.csv|.xlsx, written atomically; a re-run rewrites the night.
"""

from __future__ import annotations

import sys

from pipelines.core.session import build_session
from pipelines.exports.risk import export_night
from pipelines.flows.runtime import EXIT_OK, job_parser, run, settings_from_args


def main(args) -> int:
    settings = settings_from_args(args)
    if settings.run_date is None:
        p.error("--run-date is required")
    spark = build_session(settings.spark, app_name="zhixing-export")
    print(export_night(spark, settings, settings.run_date).to_text())
    return EXIT_OK


p = job_parser(__doc__.splitlines()[0])

if __name__ == "__main__":
    sys.exit(run(main, p, writes="export"))
