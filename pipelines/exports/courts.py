"""Which courts get files, and each court's rows: the one court split of every court file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from pyspark.sql import SparkSession

from pipelines.core import catalog, storage
from pipelines.core.config import Settings

__all__ = ["court_codes", "by_court", "night_folder"]


def court_codes(spark: SparkSession, settings: Settings) -> list[str]:
    """Every court silver knows: each gets its files every night, header-only when it has nothing."""
    return sorted(r[0] for r in storage.read_delta(spark, settings.table(catalog.SILVER["court_cases"]))
                  .select("court_code").distinct().collect())


def by_court(rows: pd.DataFrame, courts: list[str]) -> dict[str, pd.DataFrame]:
    """{court: its rows without `court_code`} for `courts` and every court in `rows`."""
    return {court: rows[rows["court_code"] == court].drop(columns=["court_code"]).reset_index(drop=True)
            for court in sorted({*courts, *rows["court_code"]})}


def night_folder(settings: Settings, run_date: dt.date) -> Path:
    return Path(settings.paths.exports) / run_date.isoformat()
