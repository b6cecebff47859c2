"""The single place that touches storage: landing files and Delta tables.

Files are reached through Hadoop's FileSystem API, so the same code lists and
reads `file://`, `hdfs://` and `s3a://` locations. Delta writes check their
input's columns first (as mack does) and say exactly what is missing.
"""

from __future__ import annotations

import logging
import re
import zlib
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.core import faults
from pipelines.core.timing import stage

__all__ = [
    "FileEntry", "list_dir", "exists", "read_bytes", "read_head",
    "delta_exists", "read_delta", "replace_where", "append", "overwrite", "replace_units", "update_columns",
    "compact",
    "SchemaMismatch",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileEntry:
    name: str
    uri: str
    is_dir: bool
    size: int
    modified_ms: int


def _fs_and_path(spark: SparkSession, uri: str):
    jvm = spark._jvm  # noqa: SLF001 - the Hadoop FS API is only reachable through the gateway
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark._jsc.hadoopConfiguration()), path  # noqa: SLF001


def exists(spark: SparkSession, uri: str) -> bool:
    fs, path = _fs_and_path(spark, uri)
    return bool(fs.exists(path))


def list_dir(spark: SparkSession, uri: str) -> list[FileEntry]:
    """Children of a folder, sorted by name; [] if it does not exist."""
    fs, path = _fs_and_path(spark, uri)
    if not fs.exists(path):
        return []
    entries = [
        FileEntry(
            name=status.getPath().getName(),
            uri=f"{uri.rstrip('/')}/{status.getPath().getName()}",
            is_dir=bool(status.isDirectory()),
            size=int(status.getLen()),
            modified_ms=int(status.getModificationTime()),
        )
        for status in fs.listStatus(path)
    ]
    return sorted(entries, key=lambda e: e.name)


def read_bytes(spark: SparkSession, uri: str, limit: int | None = None) -> bytes:
    """The raw bytes of a (small) file, or its first `limit` bytes."""
    fs, path = _fs_and_path(spark, uri)
    stream = fs.open(path)
    try:
        data = stream.readNBytes(limit) if limit else stream.readAllBytes()
    finally:
        stream.close()
    return bytes(data)


def read_head(spark: SparkSession, uri: str, limit: int = 65536) -> bytes:
    """The first bytes of a file's content, gunzipped when it ends in `.gz`."""
    data = read_bytes(spark, uri, limit)
    if uri.endswith(".gz"):
        # A partial gzip stream decompresses fine up to where it was cut; the output is capped
        # too, so a small, highly compressed file cannot blow up in memory.
        return zlib.decompressobj(wbits=31).decompress(data, limit)
    return data


class SchemaMismatch(ValueError):
    """A DataFrame does not have the columns its Delta table requires."""


def _check_columns(df: DataFrame, required: list[str] | None, uri: str) -> None:
    if not required:
        return
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise SchemaMismatch(f"cannot write {uri}: missing column(s) {missing}; has {df.columns}")


_COMMIT = re.compile(r"^\d{20}\.(json|checkpoint(\.\d+\.\d+)?\.parquet)$")


def delta_exists(spark: SparkSession, uri: str) -> bool:
    """A Delta table is there once its first commit is: a job killed during a table's first
    write leaves a `_delta_log` folder with no commit in it, which is no table at all."""
    return any(_COMMIT.match(entry.name) for entry in list_dir(spark, f"{uri}/_delta_log"))


def read_delta(spark: SparkSession, uri: str) -> DataFrame:
    return spark.read.format("delta").load(uri)


def replace_where(
    df: DataFrame,
    uri: str,
    condition: str,
    partition_by: list[str] | None = None,
    required_columns: list[str] | None = None,
) -> None:
    """Atomically replace the rows matching `condition` with `df`.

    This is how a re-delivered batch replaces its earlier copy: one Delta
    transaction removes the old rows and adds the new ones, so a crash leaves
    either the old state or the new, never both.
    """
    _check_columns(df, required_columns, uri)
    faults.reached(uri, "before")
    writer = faults.during(uri, df).write.format("delta").mode("overwrite").option("replaceWhere", condition)
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(uri)
    faults.reached(uri, "after")


def append(df: DataFrame, uri: str, required_columns: list[str] | None = None) -> None:
    _check_columns(df, required_columns, uri)
    faults.reached(uri, "before")
    faults.during(uri, df).write.format("delta").mode("append").save(uri)
    faults.reached(uri, "after")


def overwrite(df: DataFrame, uri: str, required_columns: list[str] | None = None) -> None:
    """Replace a whole table in one transaction (a full rebuild)."""
    _check_columns(df, required_columns, uri)
    faults.reached(uri, "before")
    faults.during(uri, df).write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(uri)
    faults.reached(uri, "after")


def replace_units(spark: SparkSession, uri: str, recomputed: DataFrame, affected: DataFrame,
                  unit: list[str], key: list[str]) -> None:
    """Make the rows of the `affected` units equal `recomputed`, in one MERGE.

    Rows of an affected unit that `recomputed` no longer holds are deleted, so
    a corrected re-delivery that drops a record removes it here too. Creates
    the table from `recomputed` if it does not exist yet.
    """
    from delta.tables import DeltaTable

    if not delta_exists(spark, uri):
        overwrite(recomputed, uri)
        return
    faults.reached(uri, "before")
    target = DeltaTable.forPath(spark, uri)
    stale = (target.toDF().join(affected, unit, "left_semi")
             .join(recomputed.select(*key), key, "left_anti").select(*key))
    source = (recomputed.withColumn("_op", F.lit("upsert"))
              .unionByName(stale.withColumn("_op", F.lit("delete")), allowMissingColumns=True))
    columns = recomputed.columns
    (target.alias("t")
     .merge(faults.during(uri, source).alias("s"), " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in key))
     .whenMatchedDelete(condition="s._op = 'delete'")
     .whenMatchedUpdate(condition="s._op = 'upsert'", set={c: f"s.`{c}`" for c in columns})
     .whenNotMatchedInsert(condition="s._op = 'upsert'", values={c: f"s.`{c}`" for c in columns})
     .execute())
    faults.reached(uri, "after")


def update_columns(spark: SparkSession, uri: str, updates: DataFrame, key: list[str], columns: list[str]) -> None:
    """Set `columns` of the rows matching `updates` on `key`, where a value differs, in one MERGE."""
    from delta.tables import DeltaTable

    faults.reached(uri, "before")
    changed = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in columns)
    (DeltaTable.forPath(spark, uri).alias("t")
     .merge(faults.during(uri, updates).alias("s"), " AND ".join(f"t.`{k}` = s.`{k}`" for k in key))
     .whenMatchedUpdate(condition=changed, set={c: f"s.`{c}`" for c in columns})
     .execute())
    faults.reached(uri, "after")


def compact(spark: SparkSession, uri: str, min_files: int = 16) -> tuple[int, int] | None:
    """Bin-pack a Delta table's small files (OPTIMIZE) once it has `min_files` or more.

    Nightly MERGEs and appends add a few small files each night; compaction keeps reads from
    opening thousands of them. Same rows, one more table version; old files stay for time
    travel until VACUUM. Returns (files before, files after), or None when nothing was done.
    """
    from delta.tables import DeltaTable

    table = DeltaTable.forPath(spark, uri)
    before = table.detail().select("numFiles").first()[0]
    if before < min_files:
        return None
    with stage("compact", log, table=uri, files_before=before) as timed:
        table.optimize().executeCompaction()
        after = DeltaTable.forPath(spark, uri).detail().select("numFiles").first()[0]
        timed.fields["files_after"] = after
    return before, after
