"""`make demo`: the nightly pipeline end to end on data/sample/, explained as it goes.

landing -> bronze (reconciled) -> bronze quality gate -> silver (pseudonymised,
linked) -> silver quality gate -> gold (point-in-time profiles, labelled case
features) -> gold quality gate -> model (trained, calibrated, registered in
MLflow, promoted to champion). Later stages join as they are built.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from features.build import build_gold
from features.quality import gold_suites
from models.train import tracking_uri, train
from pipelines.bronze import ingest
from pipelines.bronze.summary import quarantine_text
from pipelines.quality import bronze_suites
from pipelines.quality.layer import check_layer, quality_dir
from pipelines.runtime import EXIT_OK, EXIT_QUALITY_FAILED, job_parser, run, settings_from_args
from pipelines.session import build_session
from pipelines.silver.build import conform
from pipelines.silver.quality import silver_suites
from pipelines.silver.resolve import resolve_entities


def main(args) -> int:
    settings = settings_from_args(args)
    spark = build_session(settings.spark, app_name="zhixing-demo")

    report = ingest(spark, settings)
    print("\n== 1. Bronze ingestion: reconciliation per batch (rows in files = loaded + quarantined + duplicates)")
    print(report.to_text())
    print("\n== Quarantine by reason")
    print(quarantine_text(spark, settings))
    if report.rejected:
        # The sample carries a deliberately faulty batch so the demo shows a rejection.
        print(f"\n{len(report.rejected)} batch(es) rejected (the sample's deliberate fault); "
              "a scheduled `jobs.ingest` run exits 3 for this.")

    steps = (
        ("bronze", bronze_suites, None, None),
        ("silver", silver_suites, "3. Silver: pseudonymised, SCD2 persons, entity resolution",
         lambda: conform(spark, settings, link=resolve_entities)),
        ("gold", gold_suites, "5. Gold: debtor profiles and case features as of each filing date, labels",
         lambda: build_gold(spark, settings, full_rebuild=True)),
    )
    for number, (layer, suites, title, build) in enumerate(steps):
        if build:
            print(f"\n== {title}")
            print(build().to_text())
        gate = check_layer(spark, settings, layer, suites(), run_date=settings.run_date)
        print(f"\n== {2 * number + 2}. Quality gate: {layer}")
        print(gate.to_text())
        if not gate.success:
            return EXIT_QUALITY_FAILED

    print("\n== 7. Model: LightGBM, out-of-time split, calibrated, registered in MLflow")
    truth = Path(url2pathname(urlparse(settings.paths.landing).path)).parent / "truth"
    trained = train(spark, settings, truth_dir=truth if truth.is_dir() else None)
    print(trained.to_text())

    docs = quality_dir(settings.paths.lake) / "uncommitted" / "data_docs" / "local_site" / "index.html"
    print(f"\nTables under {settings.paths.lake}/<layer>/<name>; Data Docs: {docs}")
    print(f"MLflow UI: .venv/bin/mlflow ui --backend-store-uri {tracking_uri(settings)}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run(main, job_parser(__doc__.splitlines()[0])))
