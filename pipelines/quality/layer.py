"""Validate every table of one lake layer: what jobs and the demo call."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from pathlib import Path

from pyspark.sql import SparkSession

from pipelines.core import catalog, storage
from pipelines.core.config import Settings
from pipelines.quality.checks import TableSuite
from pipelines.quality.gate import run_gate
from pipelines.quality.report import GateReport

__all__ = ["check_layer"]

log = logging.getLogger(__name__)


def check_layer(spark: SparkSession, settings: Settings, layer: str, suites: Iterable[TableSuite],
                context_dir: Path | None = None, run_date: dt.date | None = None,
                scopes: dict[str, str] | None = None) -> GateReport:
    """Run `suites` over the layer's Delta tables; missing tables are skipped with a warning.

    `scopes` (table -> SQL condition) check only part of a table: see `run_gate`.
    """
    suites = list(suites)
    tables = {}
    for name in dict.fromkeys(name for suite in suites for name in suite.tables_needed):
        uri = settings.table(catalog.lookup(layer, name))
        if storage.delta_exists(spark, uri):
            tables[name] = storage.read_delta(spark, uri)
        else:
            log.warning("no Delta table at %s: %s not checked", uri, name)
    return run_gate(spark, layer, tables, run_date or settings.run_date or dt.date.today(),
                    context_dir or settings.quality_dir(), suites=suites, scopes=scopes)
