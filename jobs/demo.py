"""`make demo`: the whole story on data/sample/, night by night.

The first night takes the back-fill: ingest, quality gates, silver
(pseudonymised, linked), gold (point-in-time profiles, labels), a model
trained, registered in MLflow and promoted to champion, then every case scored
and each court's clerk files written. Every later night takes that night's
batches through the same stages and scores only the newly filed cases; the
last night also retrains, so the registry shows a champion and a challenger, and runs the
monthly asset watch, so its files show the debtors whose assets reappeared in the nightly batches.
"""

from __future__ import annotations

import sys

from models.registry import tracking_uri
from pipelines.bronze.landing import discover_batches
from pipelines.bronze.summary import quarantine_text
from pipelines.core.config import local_path
from pipelines.core.contract import load_contract
from pipelines.core.session import build_session
from pipelines.flows.nightly import run_night
from pipelines.flows.runtime import EXIT_OK, EXIT_REJECTED, job_parser, run, settings_from_args


def main(args) -> int:
    settings = settings_from_args(args)
    spark = build_session(settings.spark, app_name="zhixing-demo")
    last = settings.run_date
    nights = sorted({b.batch_dt for b in discover_batches(spark, settings.paths.landing,
                                                          list(load_contract().values()))
                     if last is None or b.batch_dt <= last})
    worst = EXIT_OK
    for number, night in enumerate(nights):
        first, last_night = number == 0, number == len(nights) - 1
        note = (" (the back-fill; a model is trained and promoted)" if first else
                " (with a retraining: the new model is challenger, or champion if it beats the old one)"
                if last_night else "")
        print(f"\n======== night {night}{note}")
        report = run_night(spark, settings.model_copy(update={"run_date": night}), retrain=first or last_night,
                           watch=True if last_night else None)
        print(report.to_text())
        if report.exit_code not in (EXIT_OK, EXIT_REJECTED):
            print(f"\nthe night of {night} stopped with exit code {report.exit_code}; the demo stops here")
            return report.exit_code
        worst = max(worst, report.exit_code)

    print("\n== Quarantine by reason (every row is loaded, quarantined with a reason, or a duplicate)")
    print(quarantine_text(spark, settings))
    if worst == EXIT_REJECTED:
        print("\nSome batches were rejected (the sample's deliberate faults): a scheduled nightly run exits 3 "
              "for such a night, after doing everything else.")
    lake = local_path(settings.paths.lake)
    print("\n== Where things are")
    print(f"Clerk exports:   {settings.paths.exports}/<run_date>/<court>.csv|.xlsx (summary.md beside them)")
    print(f"Last summary:    {settings.paths.exports}/{nights[-1]}/summary.md")
    print(f"Asset watch:     {settings.paths.exports}/{nights[-1]}/终本案件财产线索/<court>_终本案件财产线索.csv|.xlsx")
    if settings.whereabouts.enabled:
        print(f"Whereabouts:     {settings.paths.exports}/{nights[-1]}/送达地址线索/<court>_送达地址线索.csv|.xlsx "
              "(holds phone numbers: whereabouts.enabled)")
    print(f"Tables:          {lake}/<layer>/<name> (bronze, silver, gold, monitor)")
    print(f"Model reports:   {settings.reports_dir()}/run-<date>/model_card.md")
    print(f"Data Docs:       {settings.quality_dir() / 'uncommitted' / 'data_docs' / 'local_site' / 'index.html'}")
    print(f"MLflow UI:       .venv/bin/mlflow ui --backend-store-uri {tracking_uri(settings)}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run(main, job_parser(__doc__.splitlines()[0]), writes="demo"))
