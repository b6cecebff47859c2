"""Data-quality gate over one lake layer. `python -m jobs.check_quality --layer bronze`.

Exit 0 when no critical expectation failed, 4 when one did (the scheduler must
not start the next layer), with the usual 1 and 2 for crashes and bad usage.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from pipelines import storage
from pipelines.config import ConfigError
from pipelines.quality import bronze_suites, run_gate
from pipelines.runtime import EXIT_OK, job_parser, run, settings_from_args
from pipelines.session import build_session

EXIT_QUALITY_FAILED = 4
# Each layer's suites; a later layer adds its line here (jobs wire, pipelines define).
LAYER_SUITES = {"bronze": bronze_suites}

log = logging.getLogger(__name__)


def quality_dir(lake_uri: str) -> Path:
    """`<lake>/_quality/gx` for a local lake; GX's file context cannot live on HDFS or S3."""
    parsed = urlparse(lake_uri)
    if parsed.scheme != "file":
        raise ConfigError(f"lake {lake_uri} is not a local file: URI; pass --quality-dir PATH "
                          "(Great Expectations keeps its results in a local folder)")
    return Path(url2pathname(parsed.path)) / "_quality" / "gx"


def main(args) -> int:
    settings = settings_from_args(args)
    context_dir = Path(args.quality_dir) if args.quality_dir else quality_dir(settings.paths.lake)
    suites = LAYER_SUITES[args.layer]()
    spark = build_session(settings.spark, app_name=f"zhixing-quality-{args.layer}")
    tables = {}
    for name in dict.fromkeys(name for suite in suites for name in suite.tables_needed):
        uri = settings.table(args.layer, name)
        if storage.delta_exists(spark, uri):
            tables[name] = storage.read_delta(spark, uri)
        else:
            log.warning("no Delta table at %s: %s not checked", uri, name)
    run_date = settings.run_date or dt.date.today()
    report = run_gate(spark, args.layer, tables, run_date, context_dir, suites=suites)
    print(report.to_text())
    if not report.success:
        log.error("quality gate failed: %s", "; ".join(f.label for f in report.critical_failures))
        return EXIT_QUALITY_FAILED
    return EXIT_OK


def parser():
    p = job_parser("Validate a lake layer's tables; exit 4 if a critical expectation fails.")
    p.add_argument("--layer", default="bronze", choices=sorted(LAYER_SUITES), help="layer to check (default bronze)")
    p.add_argument("--quality-dir", help="local folder for the GX context (default <lake>/_quality/gx)")
    return p


if __name__ == "__main__":
    sys.exit(run(main, parser()))
