"""`make jars`: resolve the Delta jars once (online) and copy them to a folder.

Copy that folder to an air-gapped cluster and point `spark.jars_dir` at it, or
pass it to spark-submit: `--jars $(ls jars/*.jar | paste -sd,)`.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path
from urllib.parse import urlparse

from pipelines.core.config import load_settings
from pipelines.core.session import build_session
from pipelines.flows.runtime import configure_logging

log = logging.getLogger("zhixing.fetch_jars")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conf", default="conf/base.yaml")
    parser.add_argument("--dest", default="jars")
    args = parser.parse_args(argv)
    configure_logging()
    settings = load_settings(args.conf)
    # Resolve from Maven (through the project Ivy cache), never from an old jar folder.
    spark_settings = settings.spark.model_copy(update={"jars_dir": None, "master": "local[1]"})
    spark = build_session(spark_settings, app_name="zhixing-fetch-jars")
    resolved = [p for p in spark.sparkContext.getConf().get("spark.jars", "").split(",") if p]
    spark.stop()
    if not resolved:
        log.error("Spark resolved no jars for %s", settings.spark.delta_package)
        return 1
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.jar"):
        old.unlink()
    for uri in resolved:
        source = Path(urlparse(uri).path) if uri.startswith("file:") else Path(uri)
        shutil.copy2(source, dest / source.name)
    log.info("copied %d jars for %s to %s", len(resolved), settings.spark.delta_package, dest.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
