"""The run audit: who ran what, when, with which model and which data versions.

Every job that writes the lake appends one row to `monitor/runs` when it ends,
whatever its exit code: the job and its flags, the run date, the operating-system
user, host and process, the scheduler's run id when there is one, start and end,
the exit code, the champion model version at the end, and the version of every
lake table at the end. With those versions, Delta time travel shows exactly the
data a night saw and wrote, for as long as the tables' retention keeps it.
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import os
import socket
import uuid
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from models.registry import champion_version
from pipelines.core import catalog, storage
from pipelines.core.config import ConfigError, Settings, local_path

__all__ = ["RUNS_SCHEMA", "record_run", "table_versions"]

log = logging.getLogger(__name__)

LAYERS = ("bronze", "silver", "gold", "monitor")
SCHEDULER_RUN_IDS = ("AIRFLOW_CTX_DAG_RUN_ID", "ZHIXING_SCHEDULER_RUN_ID")
RUNS_SCHEMA = T.StructType([
    T.StructField("run_id", T.StringType(), False),
    T.StructField("job", T.StringType(), False),
    T.StructField("arguments", T.ArrayType(T.StringType())),
    T.StructField("run_date", T.DateType()),
    T.StructField("user", T.StringType()),
    T.StructField("host", T.StringType()),
    T.StructField("pid", T.LongType()),
    T.StructField("scheduler_run_id", T.StringType()),
    T.StructField("started_at", T.TimestampType()),
    T.StructField("finished_at", T.TimestampType()),
    T.StructField("exit_code", T.IntegerType()),
    T.StructField("model_name", T.StringType()),
    T.StructField("model_version", T.StringType()),
    T.StructField("table_versions", T.MapType(T.StringType(), T.LongType())),
])


def table_versions(spark: SparkSession, settings: Settings) -> dict[str, int]:
    """`layer/table` -> current Delta version, for every table of the lake."""
    versions: dict[str, int] = {}
    try:
        root: Path | None = local_path(settings.paths.lake)
    except ConfigError:
        root = None
    for layer in LAYERS:
        folder = settings.layer_uri(layer)
        if not storage.exists(spark, folder):
            continue
        for entry in storage.list_dir(spark, folder):
            if not entry.is_dir or not storage.delta_exists(spark, entry.uri):
                continue
            if root is not None:           # a local lake: read the log directly, no Spark job
                from deltalake import DeltaTable
                versions[f"{layer}/{entry.name}"] = DeltaTable(str(root / layer / entry.name)).version()
            else:
                from delta.tables import DeltaTable as SparkDeltaTable
                versions[f"{layer}/{entry.name}"] = SparkDeltaTable.forPath(spark, entry.uri) \
                    .history(1).select("version").first()[0]
    return versions


def record_run(spark: SparkSession, settings: Settings, job: str, arguments: list[str],
               started_at: dt.datetime, exit_code: int) -> str:
    """Append this run's row to `monitor/runs`; returns its run id."""
    run_id = uuid.uuid4().hex[:12]
    model_name, model_version = settings.model.registered_name, champion_version(settings)
    scheduler = next((os.environ[k] for k in SCHEDULER_RUN_IDS if os.environ.get(k)), None)
    row = (run_id, job, list(arguments), settings.run_date, getpass.getuser(), socket.gethostname(), os.getpid(),
           scheduler, started_at, dt.datetime.now(), int(exit_code), model_name, model_version,
           table_versions(spark, settings))
    storage.append(spark.createDataFrame([row], RUNS_SCHEMA), settings.table(catalog.RUNS))
    log.info("run audit: %s %s exit %d recorded in monitor/runs as %s", job, settings.run_date, exit_code, run_id)
    return run_id
