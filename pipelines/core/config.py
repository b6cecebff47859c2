"""Typed configuration, loaded once when a job starts.

Every value has one home: `conf/base.yaml`, which names and explains every key.
These models hold the types and bounds only; an environment's file `extends:`
base.yaml and overrides what differs.

YAML files may `extends:` another file (relative to themselves); the child is
deep-merged over the parent. Validation happens here, at the edge: an unknown
key or a bad value raises `ConfigError` naming the key, so a typo in a court's
config fails before any data is touched.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlparse
from urllib.request import url2pathname

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

if TYPE_CHECKING:
    from pipelines.core.catalog import Table

__all__ = ["ConfigError", "Settings", "load_settings", "local_path", "to_uri"]


class ConfigError(ValueError):
    """A configuration file or flag is wrong; the message names the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_URI_SCHEMES = ("file://", "hdfs://", "s3a://", "abfss://", "gs://")


def to_uri(location: str) -> str:
    """Turn a local path into an absolute `file:` URI; leave real URIs alone."""
    if location.startswith(_URI_SCHEMES):
        return location.rstrip("/")
    if "://" in location:
        raise ConfigError(f"unsupported URI scheme in {location!r}; use a path, {', '.join(_URI_SCHEMES)}")
    return Path(location).expanduser().resolve().as_uri()


def local_path(uri: str) -> Path:
    """The local path of a `file:` URI (the inverse of `to_uri`); other schemes have none."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        raise ConfigError(f"{uri} is not on a local file system")
    return Path(url2pathname(parsed.path))


class Paths(_Strict):
    landing: str
    lake: str
    exports: str       # clerk files: <exports>/<run_date>/<court>.csv|.xlsx; a local or mounted folder
    # Lake-side folders, each a local or mounted folder; unset, they sit beside a local lake's layers.
    locks: str | None       # the run lock (pipelines/core/lock.py); default <lake>/_locks
    quality: str | None     # Great Expectations' context and Data Docs; default <lake>/_quality/gx
    reports: str | None     # model reports and cards; default <lake>/_models
    mlflow: str | None      # the default MLflow store and artifacts; default <lake>/_mlflow

    @field_validator("landing", "lake")
    @classmethod
    def _as_uri(cls, value: str) -> str:
        return to_uri(value)

    @field_validator("exports", "locks", "quality", "reports", "mlflow")
    @classmethod
    def _local_folder(cls, value: str | None) -> str | None:
        # Files for people (renamed into place atomically) and the run lock (flock): a local or mounted folder.
        if value is None:
            return None
        if "://" in value and not value.startswith("file://"):
            raise ValueError("must be a local or mounted folder, not an object store or HDFS")
        return str(local_path(to_uri(value)))


class SparkSettings(_Strict):
    master: str
    app_name: str
    shuffle_partitions: int = Field(ge=1)
    driver_memory: str
    timezone: str
    delta_package: str
    jars_dir: str | None
    ivy_dir: str | None
    extra: dict[str, str]

    @field_validator("driver_memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        if not re.fullmatch(r"\d+[kmgt]", value.lower()):
            raise ValueError("must look like 512m or 4g")
        return value

    @field_validator("delta_package")
    @classmethod
    def _coordinate(cls, value: str) -> str:
        if value.count(":") != 2:
            raise ValueError("must be a Maven coordinate group:artifact:version")
        return value


class Privacy(_Strict):
    secret_env_var: str
    allow_dev_secret: bool


class IngestSettings(_Strict):
    event_time_tolerance_days: int = Field(ge=0)
    parallel_datasets: int = Field(ge=1, le=32)   # datasets ingested at the same time


class LinkageSettings(_Strict):
    """Entity-resolution weights (pipelines/silver/linkage.py). m = P(level | same
    person); u comes from term frequencies in the data, so it is not configured."""

    m_phone: float = Field(gt=0, lt=1)
    m_phone_other_time: float = Field(gt=0, lt=1)  # an old number still in the address book
    m_name_exact: float = Field(gt=0, lt=1)
    m_name_title: float = Field(gt=0, lt=1)        # "王先生" for 王伟 (male)
    m_masked_id: float = Field(gt=0, lt=1)
    m_region: float = Field(gt=0, lt=1)             # an order ships to, or a relative lives in, the hukou region
    shared_phone_min_names: int = Field(ge=2)        # a number no one held, seen with this many names: a shop's
    link_threshold_bits: float = Field(ge=0)      # a link needs at least this match weight
    min_margin_bits: float = Field(ge=0)            # ...and must beat the runner-up by this much

    @model_validator(mode="after")
    def _levels_leave_room_for_disagreement(self) -> "LinkageSettings":
        if self.m_name_exact + self.m_name_title >= 1:
            raise ValueError("m_name_exact + m_name_title must be below 1")
        if self.m_phone + self.m_phone_other_time >= 1:
            raise ValueError("m_phone + m_phone_other_time must be below 1")
        return self


class ModelSettings(_Strict):
    """The execution-risk model (models/train.py)."""

    registered_name: str
    challenger_alias: str   # every new version; the champion's alias is scoring.model_alias
    experiment: str
    tracking_uri: str | None        # MLFLOW_TRACKING_URI overrides; default sqlite under <lake>/_mlflow
    seed: int
    test_months: int = Field(ge=1)      # the most recent matured filings: the out-of-time window
    calibration_months: int = Field(ge=1)
    early_stopping_share: float = Field(gt=0, lt=1)
    max_training_rows: int = Field(ge=1000)   # above it, a stratified sample is trained on
    calibration: Literal["sigmoid", "isotonic"]
    threshold: float = Field(gt=0, lt=1)   # a "high risk" flag for slice rates in the model card
    promote_margin: float = Field(ge=0)  # AUC a challenger must gain over the champion
    sensitive: list[str]
    search: dict[str, list[Any]]           # LightGBM's grid: every combination is tried with early stopping
    monotone: dict[str, Literal[-1, 1]]


class ScoringSettings(_Strict):
    """Nightly scoring (models/scoring.py). Bands: 高 p >= high, 中 p >= medium, else 低."""

    model_alias: str
    high: float = Field(gt=0, lt=1)
    medium: float = Field(gt=0, lt=1)
    reasons: int = Field(ge=1, le=10)

    @model_validator(mode="after")
    def _ordered(self) -> "ScoringSettings":
        if self.medium >= self.high:
            raise ValueError("medium must be below high")
        return self


class ExportSettings(_Strict):
    """Filing-clerk files (pipelines/exports/risk.py)."""

    max_age_days: int = Field(ge=0)   # scored back-log filed earlier than this is not put in a clerk's file


class MonitorSettings(_Strict):
    """Drift of the score and the top features against the champion's training window (models/drift.py)."""

    investigate: float = Field(gt=0)   # PSI at which to look
    shift: float = Field(gt=0)        # PSI at which the population has shifted
    window_days: int = Field(ge=1)      # recent filings monitored together with tonight's
    min_cases: int = Field(ge=1)       # fewer monitored cases than this: PSI is noise, not an alert
    top_features: int = Field(ge=0)
    bins: int = Field(ge=2, le=50)
    fail_on_shift: bool             # a shift makes the nightly run exit 5

    @model_validator(mode="after")
    def _ordered(self) -> "MonitorSettings":
        if self.investigate >= self.shift:
            raise ValueError("investigate must be below shift")
        return self


class RecoveryRates(_Strict):
    """What share of a lead the asset watch counts as recoverable now."""

    transfer_in: float = Field(ge=0, le=1)    # money booked after the account's latest balance
    real_estate: float = Field(ge=0, le=1)    # auctions sell below the declared value
    vehicle: float = Field(ge=0, le=1)
    equity: float = Field(ge=0, le=1)
    spouse_share: float = Field(ge=0, le=1)   # the debtor's half of joint property acquired in the marriage


class WatchSettings(_Strict):
    """The terminated-case asset watch (features/watch.py, pipelines/gold/watch.py)."""

    cadence: Literal["monthly", "nightly", "off"]   # monthly: the first night of a month without a watch
    lookback_days: int = Field(ge=1)          # transfers and spending older than this before T are not leads
    min_deposit_increase: float = Field(ge=0)
    large_transfer: float = Field(ge=5_000)   # the banks report 5,000 CNY and up
    min_spending: float = Field(ge=0)      # luxury + travel since the closure
    recovery: RecoveryRates


class WhereaboutsSettings(_Strict):
    """Contact leads for serving documents (pipelines/exports/whereabouts.py): phones leave bronze only here."""

    enabled: bool            # contract section 5: written only when the configuration turns it on
    phones: int = Field(ge=1, le=10)     # most recent numbers per respondent
    region_days: int = Field(ge=1)      # the shipping-region window before T


class Settings(_Strict):
    """Everything a job needs to know, after flags have overridden the files."""

    env: Literal["local", "cluster"]
    paths: Paths
    spark: SparkSettings
    privacy: Privacy
    ingest: IngestSettings
    linkage: LinkageSettings
    model: ModelSettings
    scoring: ScoringSettings
    export: ExportSettings
    monitor: MonitorSettings
    watch: WatchSettings
    whereabouts: WhereaboutsSettings
    run_date: dt.date | None = None

    @model_validator(mode="after")
    def _aliases_differ(self) -> "Settings":
        if self.model.challenger_alias == self.scoring.model_alias:
            raise ValueError("model.challenger_alias must differ from scoring.model_alias (the champion's)")
        return self

    def table(self, entry: "Table") -> str:
        """Location of a catalog table (`pipelines.core.catalog`): `<lake>/<layer>/<name>` is part of the interface."""
        return f"{self.paths.lake}/{entry.layer}/{entry.name}"

    def layer_uri(self, layer: str) -> str:
        """The folder of a lake layer, `<lake>/<layer>`."""
        return f"{self.paths.lake}/{layer}"

    def lock_dir(self) -> Path | None:
        """Where the run lock lives: `paths.locks`, else `<lake>/_locks` for a local lake, else nowhere."""
        try:
            return self._lake_side(self.paths.locks, "_locks", "paths.locks")
        except ConfigError:
            return None

    def quality_dir(self) -> Path:
        """Great Expectations' file context: `paths.quality`, else `<lake>/_quality/gx` for a local lake."""
        return self._lake_side(self.paths.quality, "_quality/gx", "paths.quality (or --quality-dir)")

    def reports_dir(self) -> Path:
        """Model reports (`run-<date>/model_card.md`): `paths.reports`, else `<lake>/_models`."""
        return self._lake_side(self.paths.reports, "_models", "paths.reports")

    def mlflow_dir(self) -> Path:
        """The default MLflow store's folder (`mlflow.db`, `artifacts/`): `paths.mlflow`, else `<lake>/_mlflow`."""
        return self._lake_side(self.paths.mlflow, "_mlflow", "paths.mlflow")

    def _lake_side(self, configured: str | None, default: str, key: str) -> Path:
        if configured:
            return Path(configured)
        try:
            return local_path(self.paths.lake).joinpath(*default.split("/"))
        except ConfigError:
            raise ConfigError(f"lake {self.paths.lake} is not a local file: URI; set {key} to a local or "
                              "mounted folder") from None


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"{path}: circular 'extends'")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    parent = data.pop("extends", None)
    if parent is None:
        return data
    return _deep_merge(_read_yaml(path.parent / parent, (*seen, path)), data)


def _describe(error: ValidationError, source: str) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        if item["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key '{key}'")
        elif item["type"] == "missing":
            lines.append(f"{source}: missing key '{key}'")
        else:
            lines.append(f"{source}: bad value for '{key}': {item['msg']}")
    return "\n".join(lines)


def load_settings(conf_file: str | Path, **overrides: Any) -> Settings:
    """Load `conf_file` (following `extends`), apply flag overrides, validate.

    Overrides use flat names: `landing`, `lake`, `exports`, `run_date`; `None` means unset.
    """
    raw = _read_yaml(Path(conf_file))
    for key in ("landing", "lake", "exports"):
        if overrides.get(key) is not None:
            raw.setdefault("paths", {})[key] = overrides[key]
    if overrides.get("run_date") is not None:
        raw["run_date"] = overrides["run_date"]
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, str(conf_file))) from None
