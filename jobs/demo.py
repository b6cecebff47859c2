"""`make demo`: the nightly pipeline end to end on data/sample/, explained as it goes."""

from __future__ import annotations

import sys

from pipelines.bronze import ingest
from pipelines.bronze.summary import quarantine_text
from pipelines.runtime import EXIT_OK, job_parser, run, settings_from_args
from pipelines.session import build_session


def main(args) -> int:
    settings = settings_from_args(args)
    spark = build_session(settings.spark, app_name="zhixing-demo")
    report = ingest(spark, settings)
    print("\n== Bronze ingestion: reconciliation per batch (rows in files = loaded + quarantined + duplicates)")
    print(report.to_text())
    print("\n== Quarantine by reason")
    print(quarantine_text(spark, settings))
    if report.rejected:
        # The sample carries a deliberately faulty batch so the demo shows a rejection.
        print(f"\n{len(report.rejected)} batch(es) rejected; a scheduled `jobs.ingest` run exits 3 for this.")
    print(f"\nTables: {settings.paths.lake}/bronze/<domain>_<dataset>[_quarantine], ingest log at "
          f"{settings.table('bronze', 'ingest_log')}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run(main, job_parser(__doc__.splitlines()[0])))
