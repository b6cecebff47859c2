"""Landing -> bronze: every complete, not-yet-ingested batch, reconciled.

For each dataset, all its pending batches are read together (one scan), then
    1. batches whose files disagree with the manifest, or do not decode, are
       rejected whole;
    2. exact duplicates within a batch are dropped and counted;
    3. rows that break a rule, or share a key with different content, go to
       the dataset's quarantine with a reason;
    4. the rest load into `bronze/<domain>_<dataset>`.
Bronze and quarantine rows of a batch are replaced as a unit (Delta
`replaceWhere` on `batch_dt`), so a re-delivered batch never leaves two copies.
The ingestion log records one row per batch attempt, and a batch is pending
when no log row has its current fingerprint.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipelines.bronze.landing import Batch, BatchRejected, discover_batches
from pipelines.bronze.read import CsvLayout, block_offsets, inspect_csv_headers, number_rows, read_raw
from pipelines.bronze.validate import validate_records
from pipelines.core import catalog, storage
from pipelines.core.config import Settings
from pipelines.core.contract import Dataset, load_contract
from pipelines.core.timing import stage

__all__ = ["BatchResult", "IngestReport", "ingest", "gate_scopes", "INGEST_LOG_SCHEMA", "LINEAGE_COLUMNS"]

log = logging.getLogger(__name__)

LINEAGE_COLUMNS = ["batch_dt", "source_file", "source_row", "ingested_at", "row_hash"]
INGEST_LOG_SCHEMA = T.StructType([
    T.StructField("run_id", T.StringType()),
    T.StructField("dataset", T.StringType()),
    T.StructField("batch_dt", T.DateType()),
    T.StructField("fingerprint", T.StringType()),
    T.StructField("status", T.StringType()),            # loaded | rejected
    T.StructField("reason_code", T.StringType()),
    T.StructField("reason_detail", T.StringType()),
    T.StructField("files", T.ArrayType(T.StringType())),
    T.StructField("rows_manifest", T.LongType()),
    T.StructField("rows_in_files", T.LongType()),
    T.StructField("rows_loaded", T.LongType()),
    T.StructField("rows_quarantined", T.LongType()),
    T.StructField("rows_duplicate", T.LongType()),
    T.StructField("extra_columns", T.ArrayType(T.StringType())),
    T.StructField("missing_optional_columns", T.ArrayType(T.StringType())),
    T.StructField("started_at", T.TimestampType()),
    T.StructField("finished_at", T.TimestampType()),
])


@dataclass
class BatchResult:
    dataset: str
    batch_dt: dt.date
    status: str                       # loaded | rejected | waiting
    fingerprint: str = ""
    reason_code: str | None = None
    reason_detail: str | None = None
    files: list[str] = field(default_factory=list)
    rows_manifest: int | None = None
    rows_in_files: int | None = None
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    extra_columns: list[str] = field(default_factory=list)
    missing_optional_columns: list[str] = field(default_factory=list)

    @property
    def reconciles(self) -> bool:
        return self.status != "loaded" or (
            self.rows_in_files == self.rows_loaded + self.rows_quarantined + self.rows_duplicate)


@dataclass
class IngestReport:
    run_id: str
    results: list[BatchResult]
    seconds: float = 0.0

    @property
    def rejected(self) -> list[BatchResult]:
        return [r for r in self.results if r.status == "rejected"]

    def to_text(self) -> str:
        """The reconciliation table printed at the end of a run."""
        header = f"{'dataset':<24}{'batch dt':<12}{'status':<10}{'in files':>9}{'loaded':>9}{'quarant.':>9}{'dupes':>7}  note"
        lines = [header, "-" * len(header)]
        for r in self.results:
            note = r.reason_detail or ""
            if r.extra_columns:
                note = f"extra column(s) kept: {', '.join(r.extra_columns)}" + (f"; {note}" if note else "")
            counts = f"{'-':>9}{'-':>9}{'-':>9}{'-':>7}"
            if r.status == "loaded":
                counts = (f"{r.rows_in_files if r.rows_in_files is not None else '-':>9}{r.rows_loaded:>9}"
                          f"{r.rows_quarantined:>9}{r.rows_duplicate:>7}")
            lines.append(f"{r.dataset:<24}{r.batch_dt.isoformat():<12}{r.status:<10}{counts}  {note}"[:400])
        done = [r for r in self.results if r.status == "loaded"]
        lines.append("-" * len(header))
        lines.append(f"{len(done)} batch(es) loaded, {len(self.rejected)} rejected, "
                     f"{sum(r.status == 'waiting' for r in self.results)} waiting for _SUCCESS; "
                     f"rows: {sum(r.rows_loaded for r in done)} loaded, {sum(r.rows_quarantined for r in done)} "
                     f"quarantined, {sum(r.rows_duplicate for r in done)} duplicates; {self.seconds:.1f}s")
        return "\n".join(lines)


def _ingested_fingerprints(spark: SparkSession, log_uri: str) -> set[tuple[str, dt.date, str]]:
    if not storage.delta_exists(spark, log_uri):
        return set()
    rows = storage.read_delta(spark, log_uri).select("dataset", "batch_dt", "fingerprint").distinct().collect()
    return {(r.dataset, r.batch_dt, r.fingerprint) for r in rows}


def _block_stats(cached: DataFrame) -> list:
    """Per read block: lines, first sequence id, records, and the first undecodable record."""
    record = ~F.col("_blank")
    return (cached.groupBy("batch_dt", "_file", "_block")
            .agg(F.count(F.lit(1)).alias("n"), F.min("_seq").alias("first"),
                 F.count(F.when(record, 1)).alias("records"),
                 F.min(F.when(record & F.col("_bad_encoding"), F.col("_seq"))).alias("bad_seq"))
            .collect())


def _file_stats(blocks: list, offsets: dict[tuple[str, int], int]) -> dict[tuple[dt.date, str], tuple[int, int | None]]:
    """Per (batch, file name): record count and the first row that failed to decode."""
    stats: dict[tuple[dt.date, str], tuple[int, int | None]] = {}
    for b in blocks:
        key = (b["batch_dt"], b["_file"].rsplit("/", 1)[-1])
        rows, bad = stats.get(key, (0, None))
        if b["bad_seq"] is not None:
            row = b["bad_seq"] + offsets[(b["_file"], b["_block"])]
            bad = row if bad is None else min(bad, row)
        stats[key] = (rows + b["records"], bad)
    return stats


def _check_against_files(batch: Batch, stats: dict) -> int:
    """Reject the batch unless every file decodes and has the manifest's row count."""
    total = 0
    for entry in batch.data_files:
        rows, bad_row = stats.get((batch.batch_dt, entry.name), (0, None))
        if bad_row is not None:
            raise BatchRejected("undecodable",
                                f"{entry.uri} row {bad_row}: not valid {batch.dataset.encoding}")
        expected = batch.manifest_rows[entry.name]
        if rows != expected:
            raise BatchRejected("row_count_mismatch",
                                f"{entry.uri}: manifest says {expected} rows, file has {rows}")
        total += rows
    return total


def _classify_sharing_a_key(validated: DataFrame, dataset: Dataset) -> DataFrame:
    """`_outcome` for rows that share their batch and key with another row."""
    first_copy = Window.partitionBy("batch_dt", *dataset.key, "row_hash").orderBy("_file", "_block", "_seq")
    df = validated.withColumn("_copy", F.row_number().over(first_copy))
    is_candidate = (F.col("_copy") == 1) & (F.size("_reasons") == 0)
    same_key = Window.partitionBy("batch_dt", *dataset.key)
    candidate_hash = F.when(is_candidate, F.col("row_hash"))
    conflict = is_candidate & (F.min(candidate_hash).over(same_key) != F.max(candidate_hash).over(same_key))
    key_text = ",".join(dataset.key)
    reasons = F.when(conflict, F.array(F.lit(f"key_conflict:{key_text}"))).otherwise(F.col("_reasons"))
    outcome = (F.when(F.col("_copy") > 1, "duplicate")
               .when(F.size(reasons) > 0, "quarantined").otherwise("loaded"))
    return df.withColumn("_reasons", reasons).withColumn("_outcome", outcome).drop("_copy")


def shared_keys(validated: DataFrame, dataset: Dataset) -> DataFrame:
    """(batch, key) values held by more than one row; usually none or a handful."""
    keys = ["batch_dt", *dataset.key]
    return (validated.groupBy(*keys).count().where(F.col("count") > 1)
            .select(*[F.col(k).alias(f"_shared_{i}") for i, k in enumerate(keys)]))


def classify(validated: DataFrame, dataset: Dataset, shared: DataFrame | None = None) -> DataFrame:
    """Add `_outcome` (loaded | quarantined | duplicate) and the final `_reasons`.

    Only rows whose batch and key recur can be duplicates or key conflicts, so
    only those (found by a small aggregate of the keys, `shared_keys`) go
    through the window that orders copies; the rest keep their own reasons.
    Shuffling every whole row through that window was the costliest step of ingest.
    """
    shared = shared_keys(validated, dataset) if shared is None else shared
    keys = ["batch_dt", *dataset.key]
    same = [F.col(k).eqNullSafe(F.col(f"_shared_{i}")) for i, k in enumerate(keys)]
    alone = (validated.join(shared, same, "left_anti")
             .withColumn("_outcome", F.when(F.size("_reasons") > 0, "quarantined").otherwise("loaded")))
    return alone.unionByName(_classify_sharing_a_key(validated.join(shared, same, "left_semi"), dataset))


def _bronze_rows(classified: DataFrame, dataset: Dataset, ingested_at: dt.datetime) -> DataFrame:
    return classified.where(F.col("_outcome") == "loaded").select(
        "batch_dt", F.col("_file").alias("source_file"), F.col("_row").alias("source_row"),
        F.lit(ingested_at).alias("ingested_at"), "row_hash",
        *dataset.column_names, F.col("_extra").alias("extra_columns"),
    )


def _quarantine_rows(classified: DataFrame, ingested_at: dt.datetime) -> DataFrame:
    return classified.where(F.col("_outcome") == "quarantined").select(
        "batch_dt", F.col("_file").alias("source_file"), F.col("_row").alias("source_row"),
        F.lit(ingested_at).alias("ingested_at"), "row_hash",
        F.split(F.col("_reasons")[0], ":", 2)[0].alias("reason_code"),
        F.array_join("_reasons", "; ").alias("reason_detail"),
        F.col("_raw_text").alias("raw_text"), F.col("_raw_fields").alias("raw_fields"),
    )


def _batches_condition(batches: list[Batch]) -> str:
    return "batch_dt IN (" + ", ".join(f"DATE'{b.batch_dt.isoformat()}'" for b in batches) + ")"


def _ingest_dataset(spark: SparkSession, settings: Settings, dataset: Dataset,
                    pending: list[Batch], ingested_at: dt.datetime) -> list[BatchResult]:
    with stage(f"ingest.{dataset.table_name}", log) as timed:
        out = _ingest_batches(spark, settings, dataset, pending, ingested_at)
        timed.rows = sum(r.rows_loaded for r in out)
        timed.fields.update(batches=len(out), rows_in=sum(r.rows_in_files or 0 for r in out),
                            quarantined=sum(r.rows_quarantined for r in out),
                            duplicates=sum(r.rows_duplicate for r in out))
    return out


def _ingest_batches(spark: SparkSession, settings: Settings, dataset: Dataset,
                    pending: list[Batch], ingested_at: dt.datetime) -> list[BatchResult]:
    results: dict[int, BatchResult] = {}
    layouts: dict[str, CsvLayout] = {}
    accepted: list[Batch] = []
    for batch in pending:
        result = BatchResult(dataset.name, batch.batch_dt, "loaded", batch.fingerprint,
                             files=[f.name for f in batch.data_files],
                             rows_manifest=sum(batch.manifest_rows.values()) if batch.manifest_rows else None)
        results[id(batch)] = result
        try:
            if batch.rejection:
                raise batch.rejection
            if dataset.format == "csv":
                layouts[batch.uri] = layout = inspect_csv_headers(spark, batch)
                result.extra_columns, result.missing_optional_columns = layout.extra_columns, layout.missing_optional
            accepted.append(batch)
        except BatchRejected as rejected:
            result.status, result.reason_code, result.reason_detail = "rejected", rejected.reason_code, rejected.detail

    if accepted:
        # One scan of the files: the typed, validated records are cached, and the
        # file checks, numbering, classification and both writes read the cache.
        raw = read_raw(spark, dataset, accepted, layouts)
        cached = validate_records(raw, dataset, settings.ingest.event_time_tolerance_days).persist(
            StorageLevel.MEMORY_AND_DISK)
        blocks = _block_stats(cached)
        offsets = block_offsets(blocks)
        stats = _file_stats(blocks, offsets)
        loadable = []
        for batch in accepted:
            result = results[id(batch)]
            try:
                result.rows_in_files = _check_against_files(batch, stats)
                loadable.append(batch)
            except BatchRejected as rejected:
                result.status, result.reason_code, result.reason_detail = "rejected", rejected.reason_code, rejected.detail
        if dataset.format == "jsonl" and loadable:
            extras = cached.select(F.explode(F.map_keys("_extra"))).distinct().collect()
            for batch in loadable:
                results[id(batch)].extra_columns = sorted(r[0] for r in extras)
        if loadable:
            _load(spark, settings, dataset, cached.where(~F.col("_blank")), offsets, loadable, results, ingested_at)
        cached.unpersist()

    out = list(results.values())
    for result in out:
        if result.status == "rejected":
            log.error("batch rejected: %s dt=%s %s: %s", result.dataset, result.batch_dt,
                      result.reason_code, result.reason_detail)
    return out


def _load(spark: SparkSession, settings: Settings, dataset: Dataset, records: DataFrame,
          offsets: dict[tuple[str, int], int], loadable: list[Batch],
          results: dict[int, BatchResult], ingested_at: dt.datetime) -> None:
    validated = records.where(F.col("batch_dt").isin([b.batch_dt for b in loadable]))
    shared = shared_keys(validated, dataset).persist()
    classified = classify(validated, dataset, shared)
    numbered = number_rows(spark, classified, offsets)
    condition = _batches_condition(loadable)
    storage.replace_where(_bronze_rows(numbered, dataset, ingested_at),
                          settings.table(catalog.BRONZE[dataset.table_name]), condition, partition_by=["batch_dt"])
    storage.replace_where(_quarantine_rows(numbered, ingested_at),
                          settings.table(catalog.QUARANTINE[dataset.table_name]), condition,
                          partition_by=["batch_dt"])
    counts = classified.groupBy("batch_dt").pivot("_outcome", ["loaded", "quarantined", "duplicate"]).count().collect()
    shared.unpersist()
    by_dt = {r.batch_dt: r for r in counts}
    for batch in loadable:
        result = results[id(batch)]
        row = by_dt.get(batch.batch_dt)
        result.rows_loaded = (row["loaded"] or 0) if row else 0
        result.rows_quarantined = (row["quarantined"] or 0) if row else 0
        result.rows_duplicate = (row["duplicate"] or 0) if row else 0
        if not result.reconciles:
            raise RuntimeError(f"reconciliation failed for {batch.label}: {asdict(result)}")


def _write_log(spark: SparkSession, settings: Settings, report: IngestReport,
               started_at: dt.datetime, finished_at: dt.datetime) -> None:
    rows = [
        (report.run_id, r.dataset, r.batch_dt, r.fingerprint, r.status, r.reason_code, r.reason_detail,
         r.files, r.rows_manifest, r.rows_in_files, r.rows_loaded, r.rows_quarantined, r.rows_duplicate,
         r.extra_columns, r.missing_optional_columns, started_at, finished_at)
        for r in report.results if r.status in ("loaded", "rejected")
    ]
    if rows:
        storage.append(spark.createDataFrame(rows, INGEST_LOG_SCHEMA), settings.table(catalog.INGEST_LOG))


def gate_scopes(spark: SparkSession, settings: Settings, report: IngestReport) -> dict[str, str]:
    """Per bronze table, the batches a nightly gate must check: those this run loaded rows from,
    or else the latest batch that has rows.

    Bronze rows never change after their night, and every batch was checked on the night it
    loaded, so re-checking the whole table each night only grows with history. The latest
    batch with rows stands in when a source delivered nothing (or an empty batch) tonight, so
    its volume is still judged and the checks never run on no rows; freshness reads the
    ingest log, whatever the scope.
    """
    with_rows = storage.read_delta(spark, settings.table(catalog.INGEST_LOG)) \
        .where((F.col("status") == "loaded") & (F.col("rows_loaded") > 0)) \
        .groupBy("dataset").agg(F.max("batch_dt").alias("latest")).collect()
    latest = {r.dataset: r.latest for r in with_rows}
    tonight: dict[str, set[dt.date]] = {}
    for r in report.results:
        if r.status == "loaded" and r.rows_loaded > 0:
            tonight.setdefault(r.dataset, set()).add(r.batch_dt)
    scopes = {}
    for dataset in load_contract().values():
        dates = tonight.get(dataset.name) or ({latest[dataset.name]} if dataset.name in latest else set())
        if dates:
            scopes[dataset.table_name] = "batch_dt IN (" + ", ".join(f"DATE'{d.isoformat()}'" for d in sorted(dates)) + ")"
    return scopes


def ingest(spark: SparkSession, settings: Settings, dataset_names: list[str] | None = None) -> IngestReport:
    """Ingest every complete batch not yet ingested with its current content (dated on or before
    the run date, when the settings have one)."""
    started = time.monotonic()
    started_at = dt.datetime.now()
    run_id = uuid.uuid4().hex[:12]
    contract = load_contract()
    datasets = [contract[name] for name in (dataset_names or contract)]
    with stage("ingest.discover", log, landing=settings.paths.landing) as timed:
        done = _ingested_fingerprints(spark, settings.table(catalog.INGEST_LOG))
        batches = discover_batches(spark, settings.paths.landing, datasets)
        if settings.run_date is not None:
            # A night's run takes the batches of its date and before; later ones wait for their own night.
            later = [b for b in batches if b.batch_dt > settings.run_date]
            if later:
                log.info("ingest: leaving %d batch(es) dated after the run date %s for later runs",
                         len(later), settings.run_date)
            batches = [b for b in batches if b.batch_dt <= settings.run_date]
        timed.rows, timed.fields["complete"] = len(batches), sum(b.is_complete for b in batches)
    results: list[BatchResult] = []
    work = []
    for dataset in datasets:
        mine = [b for b in batches if b.dataset is dataset]
        results += [BatchResult(dataset.name, b.batch_dt, "waiting", reason_detail="no _SUCCESS yet")
                    for b in mine if not b.is_complete]
        pending = [b for b in mine if b.is_complete and (dataset.name, b.batch_dt, b.fingerprint) not in done]
        if pending:
            work.append((dataset, pending))
    # Datasets are independent: running a few at once keeps the cores busy
    # while another dataset waits on a Delta commit or the driver.
    with ThreadPoolExecutor(max_workers=settings.ingest.parallel_datasets) as pool:
        for dataset_results in pool.map(lambda item: _ingest_dataset(spark, settings, *item, started_at), work):
            results += dataset_results
    report = IngestReport(run_id, sorted(results, key=lambda r: (r.dataset, r.batch_dt)))
    _write_log(spark, settings, report, started_at, dt.datetime.now())
    report.seconds = time.monotonic() - started
    return report
