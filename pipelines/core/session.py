"""The one SparkSession builder.

The same code runs under `python -m jobs.X` and under `spark-submit jobs/X.py`.
Under spark-submit the JVM is already up when Python starts, so the master,
driver memory and jars come from the command line; setting them here would be
too late (or would silently override the operator's choice). Everything else,
the Delta catalog, time zone and SQL settings, is applied in both cases.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from pipelines.core.config import SparkSettings

__all__ = ["build_session", "delta_jar_files", "launched_by_spark_submit"]

log = logging.getLogger(__name__)


def launched_by_spark_submit() -> bool:
    """True when a JVM launched this Python (spark-submit, pyspark shell)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def delta_jar_files(jars_dir: str | None) -> list[str]:
    """The jar files of a local jar folder (made by `make jars`), or []."""
    if not jars_dir:
        return []
    folder = Path(jars_dir).expanduser()
    return sorted(str(p.resolve()) for p in folder.glob("*.jar")) if folder.is_dir() else []


def _launch_settings(settings: SparkSettings) -> dict[str, str]:
    """Settings that only take effect when this process starts the JVM."""
    conf = {"spark.driver.memory": settings.driver_memory}
    jars = delta_jar_files(settings.jars_dir)
    if jars:
        # Air-gapped court networks: no Maven, the jar folder is the source.
        conf["spark.jars"] = ",".join(jars)
    else:
        conf["spark.jars.packages"] = settings.delta_package
        if settings.ivy_dir:
            conf["spark.jars.ivy"] = str(Path(settings.ivy_dir).expanduser().resolve())
    # Workers must run this interpreter, or they cannot import the project's libraries.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return conf


def build_session(settings: SparkSettings, app_name: str | None = None) -> SparkSession:
    """A Delta-enabled SparkSession configured from `settings`."""
    builder = SparkSession.builder.appName(app_name or settings.app_name)
    conf = {
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.session.timeZone": settings.timezone,
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        # Delta's default of 50 snapshot partitions is tuned for clusters.
        "spark.databricks.delta.snapshotPartitions": str(max(2, settings.shuffle_partitions)),
        "spark.sql.ansi.enabled": "true",
        # Jobs log their own progress (stage, rows, seconds); Spark's bars garble those logs.
        "spark.ui.showConsoleProgress": "false",
        # Spark 4 only accepts a short list of charsets unless told otherwise;
        # population/persons arrives in GBK.
        "spark.sql.legacy.javaCharsets": "true",
        # Hostile JSON may repeat a key; keep the last instead of failing the job.
        "spark.sql.mapKeyDedupPolicy": "LAST_WIN",
        # `toPandas` (training, exports) through Arrow: ten times faster than row by row.
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    if not launched_by_spark_submit():
        builder = builder.master(settings.master)
        conf.update(_launch_settings(settings))
    conf.update(settings.extra)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    # Ingest reads CSV with positional column names and drops the header itself
    # (pipelines.bronze.read); Spark would warn about every file that the names differ.
    jvm = spark.sparkContext._jvm
    jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(
        "org.apache.spark.sql.catalyst.csv.CSVHeaderChecker", jvm.org.apache.logging.log4j.Level.ERROR)
    log.info("spark session ready: master=%s version=%s", spark.sparkContext.master, spark.version)
    return spark
