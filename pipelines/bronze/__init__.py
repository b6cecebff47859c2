"""Landing -> bronze: raw, typed, quarantined, reconciled."""

from pipelines.bronze.ingest import BatchResult, IngestReport, ingest

__all__ = ["BatchResult", "IngestReport", "ingest"]
