"""Run a layer's suites through Great Expectations and decide pass or fail.

One GX Checkpoint per table (GX takes one DataFrame per checkpoint run), so
each table is one validation: GX bundles the expectations' aggregates into a
handful of Spark jobs over a DataFrame we persist first and release after.
Results and Data Docs live in a file-mode GX context under `context_dir`;
suites are rewritten on every run, because integrity flags, freshness and
row-count bounds depend on the run.

GX Core 1.x objects, per layer and table:
    data source `<layer>` (Spark) -> dataframe asset `<table>` -> batch
    definition `whole` -> suite / validation definition / checkpoint
    `<layer>.<table>`; Data Docs are built once per gate for the gate's results.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
import warnings
from collections.abc import Iterable
from pathlib import Path

import great_expectations as gx
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import ProgressBarsConfig
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.core.timing import stage
from pipelines.quality.checks import TableSuite
from pipelines.quality.expectations import to_expectations, with_derived_columns
from pipelines.quality.report import FailedExpectation, GateReport, TableOutcome

__all__ = ["run_gate", "open_context"]

log = logging.getLogger(__name__)

BATCH_DEFINITION = "whole"
# The Data Docs index reloads every stored result it lists, once per checkpoint
# run; without a cap, each run gets slower as history accumulates.
DOCS_INDEX_LIMIT = 500


def _quiet_gx_logging() -> None:
    # GX logs its own bookkeeping at INFO; keep its warnings and errors.
    gx_log = logging.getLogger("great_expectations")
    if gx_log.level == logging.NOTSET:
        gx_log.setLevel(logging.WARNING)


def open_context(context_dir: str | Path):
    """The file-mode GX context in `context_dir` (a local folder), created if absent."""
    _quiet_gx_logging()
    context = gx.get_context(mode="file", context_root_dir=str(Path(context_dir).expanduser().resolve()))
    changed = False
    bars = context.variables.progress_bars or {}     # an object when set, a dict when read back
    shown = [bars.get(k) if isinstance(bars, dict) else getattr(bars, k) for k in ("globally", "metric_calculations")]
    if any(flag is not False for flag in shown):
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        changed = True
    sites = dict(context.variables.data_docs_sites or {})
    for site in sites.values():
        index = site.setdefault("site_index_builder", {"class_name": "DefaultSiteIndexBuilder"})
        if not index.get("validation_results_limit"):
            index["validation_results_limit"] = DOCS_INDEX_LIMIT
            context.variables.data_docs_sites = sites
            changed = True
    if changed:
        context.variables.save()
    return context


def _batch_definition(context, layer: str, table: str):
    try:
        source = context.data_sources.get(layer)
    except KeyError:
        # persist=False: GX would persist every DataFrame and never release it;
        # the gate caches and un-caches itself.
        source = context.data_sources.add_spark(name=layer, persist=False)
    try:
        asset = source.get_asset(table)
    except LookupError:
        asset = source.add_dataframe_asset(name=table)
    try:
        return asset.get_batch_definition(BATCH_DEFINITION)
    except KeyError:
        return asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)


def _checkpoint(context, layer: str, table: str, expectations: list, unexpected_samples: int):
    name = f"{layer}.{table}"
    suite = context.suites.add_or_update(gx.ExpectationSuite(name=name, expectations=expectations))
    validation = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=_batch_definition(context, layer, table), suite=suite))
    # BASIC gives unexpected_count; SUMMARY would add a value-count job per
    # expectation, and each sampled unexpected value list is a job too.
    return context.checkpoints.add_or_update(gx.Checkpoint(
        # No Data Docs action here: run_gate builds the docs once for all its tables (the index
        # page is rebuilt on every build, which per table cost about a fifth of a gate).
        name=name, validation_definitions=[validation], actions=[],
        result_format={"result_format": "BASIC", "partial_unexpected_count": unexpected_samples},
    ))


def _columns(kwargs: dict) -> tuple[str, ...]:
    if kwargs.get("column"):
        return (kwargs["column"],)
    if kwargs.get("column_list"):
        return tuple(kwargs["column_list"])
    return tuple(kwargs[k] for k in ("column_A", "column_B") if kwargs.get(k))


def _error(exception_info: dict | None) -> str:
    """The first error message GX caught; its shape varies (flat, or per metric)."""
    if not exception_info:
        return ""
    infos = [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    return next((str(i.get("exception_message")) for i in infos
                 if isinstance(i, dict) and i.get("raised_exception")), "")


def _failure(table: str, result) -> FailedExpectation:
    config = result.expectation_config
    outcome = result.result or {}
    # Derived checks describe themselves (bounds, batches compared); GX renders the rest.
    notes = config.description or ""
    error = _error(result.exception_info)
    severity = getattr(config.severity, "value", config.severity)
    return FailedExpectation(
        table=table, expectation=config.type, columns=_columns(config.kwargs), severity=str(severity),
        unexpected_count=outcome.get("unexpected_count"),
        unexpected_percent=outcome.get("unexpected_percent_nonmissing", outcome.get("unexpected_percent")),
        observed_value=outcome.get("observed_value"),
        detail="; ".join(part for part in (notes, f"error: {error}" if error else "") if part),
    )


def _rows(validation) -> int | None:
    """The table's row count, as GX already counted it for any unfiltered column expectation."""
    return next((r.result["element_count"] for r in validation.results
                 if r.result and "element_count" in r.result and not r.expectation_config.kwargs.get("row_condition")),
                None)


def _validate_table(spark: SparkSession, context, layer: str, suite: TableSuite, df: DataFrame,
                    tables: dict[str, DataFrame], run_date: dt.date, run_id: RunIdentifier,
                    unexpected_samples: int, scope: str | None = None,
                    ) -> tuple[TableOutcome, list[FailedExpectation], list[str], list]:
    with stage(f"quality.{layer}.{suite.table}", log) as timed:
        outcome, failures, skipped, result_ids = _validated(spark, context, layer, suite, df, tables, run_date, run_id,
                                                            unexpected_samples, scope)
        timed.rows = outcome.rows
        timed.fields.update(expectations=outcome.expectations, failures=len(failures),
                            critical=sum(f.severity == "critical" for f in failures))
    return dataclasses.replace(outcome, seconds=timed.seconds), failures, skipped, result_ids


def _validated(spark: SparkSession, context, layer: str, suite: TableSuite, df: DataFrame,
               tables: dict[str, DataFrame], run_date: dt.date, run_id: RunIdentifier,
               unexpected_samples: int, scope: str | None,
               ) -> tuple[TableOutcome, list[FailedExpectation], list[str], list]:
    spark.sparkContext.setJobDescription(f"quality {layer}.{suite.table}")
    whole = df
    if scope is not None:
        df = df.where(F.expr(scope))
    df, skipped = with_derived_columns(df, suite, tables)
    # GX runs a Spark job per metric domain (the table, each null-filtered
    # column, the compound key...): read the input, and do the joins, once.
    # A DataFrame the caller cached stays cached.
    is_ours = df.storageLevel == StorageLevel.NONE
    if is_ours:
        df = df.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        expectations, more_skipped = to_expectations(suite, df, run_date, whole if scope is not None else None)
        skipped += more_skipped
        checkpoint = _checkpoint(context, layer, suite.table, expectations, unexpected_samples)
        with warnings.catch_warnings():
            # GX warns about its own deprecated internals on every run.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"great_expectations")
            result = checkpoint.run(batch_parameters={"dataframe": df}, run_id=run_id)
        ((result_id, validation),) = result.run_results.items()
        rows = _rows(validation)
        if rows is None:
            rows = df.count()
    finally:
        if is_ours:
            df.unpersist()
        spark.sparkContext.setJobDescription(None)
    failures = [_failure(suite.table, r) for r in validation.results if not r.success]
    outcome = TableOutcome(suite.table, rows, len(expectations), len(failures), 0.0)
    return outcome, failures, skipped, [result_id, result_id.expectation_suite_identifier]


def run_gate(spark: SparkSession, layer: str, tables: dict[str, DataFrame], run_date: dt.date,
             context_dir: str | Path, *, suites: Iterable[TableSuite],
             unexpected_samples: int = 0, scopes: dict[str, str] | None = None) -> GateReport:
    """Validate `tables` (lake table name -> DataFrame) of `layer` against its suites.

    Tables with a suite but no DataFrame are reported as not checked; tables
    without a suite serve only as integrity references. Results and Data Docs
    are written under `context_dir`. `unexpected_samples` > 0 keeps that many
    example values per failed expectation, at the cost of one Spark job each.
    The caller decides what a failure means: see `GateReport.raise_if_failed`.
    `scopes` (table -> SQL condition) restrict a table's checks to the rows that
    match, e.g. tonight's batches; the row-count check still reads the whole table.
    """
    started = time.monotonic()
    suites = list(suites)
    context = open_context(context_dir)
    run_id = RunIdentifier(run_name=f"{layer}-{run_date.isoformat()}", run_time=dt.datetime.now(dt.timezone.utc))
    report = GateReport(layer=layer, run_date=run_date)
    documented: list = []
    for suite in suites:
        df = tables.get(suite.table)
        if df is None:
            report.skipped.append(f"{suite.table}: table not available")
            log.warning("quality %s: %s skipped: table not available", layer, suite.table)
            continue
        outcome, failures, skipped, result_ids = _validate_table(spark, context, layer, suite, df, tables,
                                                                 run_date, run_id, unexpected_samples,
                                                                 (scopes or {}).get(suite.table))
        documented += result_ids
        report.tables.append(outcome)
        report.failures += failures
        report.skipped += skipped
    if documented:
        context.build_data_docs(resource_identifiers=documented)
    sites = context.get_docs_sites_urls()
    report.docs_url = sites[0]["site_url"] if sites else None
    report.seconds = time.monotonic() - started
    log.info("quality %s: %d tables, %d critical failures, %d warnings, success=%s", layer,
             len(report.tables), len(report.critical_failures), len(report.warnings), report.success)
    return report
