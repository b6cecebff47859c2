"""The lake an analyst or a notebook works on, found from environment variables.

    from tools.workspace import workspace

    ws = workspace()                                   # the demo lake unless ZHIXING_LAKE says otherwise
    night = ws.latest_run_date()                       # the last night scored, or None
    scores = ws.table("gold", "case_scores", filters=[("run_date", "=", night)])
    drift = ws.table(catalog.DRIFT)               # small tables come back as pandas, read with deltalake
    spark = ws.spark()                                 # big ones: one small local Spark session, built on first use
    features = spark.read.format("delta").load(ws.settings.table(catalog.CASE_FEATURES))

| variable | default |
|---|---|
| `ZHIXING_CONF` | `conf/local.yaml` |
| `ZHIXING_LAKE` | `.demo/lake` (what `make demo` builds) |
| `ZHIXING_EXPORTS` | `.demo/exports` |
| `MLFLOW_TRACKING_URI` | the config's `model.tracking_uri`, else `sqlite:///<lake>/_mlflow/mlflow.db` |

Relative paths are taken from the repository root, not the working directory, so a
notebook finds the same lake whether Jupyter starts it in `notebooks/` or at the root.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.core import catalog
from pipelines.core.config import Settings, load_settings, local_path

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import SparkSession

__all__ = ["REPO_ROOT", "Workspace", "workspace"]

REPO_ROOT = Path(__file__).resolve().parent.parent

# An analyst's session shares the machine with the nightly jobs: keep it small.
_SPARK_LAUNCH = {"master": "local[2]", "driver_memory": "2g", "shuffle_partitions": 2}
_SPARK_EXTRA = {
    "spark.ui.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.debug.maxToStringFields": "200",     # gold is ~110 columns wide; no "truncated plan" warnings
}


def _from_repo(value: str) -> str:
    """A path relative to the repository root; URIs and absolute paths unchanged."""
    if "://" in value:
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else REPO_ROOT / path)


@dataclass
class Workspace:
    """Settings, MLflow store and table readers for one lake."""

    settings: Settings
    tracking_uri: str
    _spark: SparkSession | None = field(default=None, init=False, repr=False)

    def __repr__(self) -> str:
        return f"Workspace(lake={self.lake!r}, exports={str(self.exports)!r}, tracking_uri={self.tracking_uri!r})"

    @property
    def lake(self) -> str:
        return self.settings.paths.lake

    @property
    def exports(self) -> Path:
        return Path(self.settings.paths.exports)

    def table(self, layer: str, name: str, columns: list[str] | None = None,
              filters: list[tuple[str, str, Any]] | None = None) -> pd.DataFrame:
        """A small Delta table (`gold/case_scores`, `monitor/drift`, ...) as pandas, read without Spark.

        `columns` and `filters` (pyarrow style, e.g. `[("run_date", "=", night)]`) are pushed down to the files.
        """
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        location = self.location(layer, name)
        try:
            table = DeltaTable(_deltalake_location(location))
        except TableNotFoundError:
            raise FileNotFoundError(f"no Delta table {layer}/{name} at {location}") from None
        return table.to_pandas(columns=columns, filters=filters)

    def location(self, layer: str, name: str) -> str:
        """Where the catalog's `layer/name` lives, for `spark.read.format("delta").load(...)`."""
        return self.settings.table(catalog.lookup(layer, name))

    def latest_run_date(self) -> dt.date | None:
        """The last night in `gold/case_scores`, or None when nothing has been scored."""
        run_dates = self.table("gold", "case_scores", columns=["run_date"])["run_date"].dropna()
        return None if run_dates.empty else _as_date(run_dates.max())

    def spark(self) -> SparkSession:
        """One small local Delta-enabled session (2 cores, 2g, UI off, Arrow for `toPandas`), built on first use and reused."""
        if self._spark is None:
            from pipelines.core.session import build_session

            spark_settings = self.settings.spark.model_copy(update={
                **_SPARK_LAUNCH,
                # Relative jar and Ivy folders would otherwise be looked up from the notebook's directory
                # and, when not found there, make Spark fetch Delta from Maven.
                "jars_dir": _from_repo(self.settings.spark.jars_dir) if self.settings.spark.jars_dir else None,
                "ivy_dir": _from_repo(self.settings.spark.ivy_dir) if self.settings.spark.ivy_dir else None,
                "extra": {**self.settings.spark.extra, **_SPARK_EXTRA},
            })
            self._spark = build_session(spark_settings, app_name="zhixing-workspace")
        return self._spark


def _deltalake_location(location: str) -> str:
    return str(local_path(location)) if location.startswith("file:") else location


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def workspace() -> Workspace:
    """The workspace the environment points at; fails clearly when its lake does not exist."""
    from models.registry import tracking_uri

    conf = _from_repo(os.environ.get("ZHIXING_CONF") or "conf/local.yaml")
    lake = _from_repo(os.environ.get("ZHIXING_LAKE") or ".demo/lake")
    exports = _from_repo(os.environ.get("ZHIXING_EXPORTS") or ".demo/exports")
    settings = load_settings(conf, lake=lake, exports=exports)
    if settings.paths.lake.startswith("file:") and not local_path(settings.paths.lake).is_dir():
        raise FileNotFoundError(f"no lake at {local_path(settings.paths.lake)}: run `make demo` first or set ZHIXING_LAKE")
    return Workspace(settings=settings, tracking_uri=tracking_uri(settings))
