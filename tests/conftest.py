"""One SparkSession for the whole suite (it takes seconds to start)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))   # tests/helpers/, imported as `helpers`
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
# pyspark.testing.assertDataFrameEqual imports pyspark.pandas, which sets PYARROW_IGNORE_TIMEZONE=1 for
# the whole process unless it is set. From then on pyarrow takes a zone-aware datetime's wall clock for
# UTC, and the Beijing timestamps of helpers.silver_frames would move 8 hours later (a record from the
# last second before a boundary would land after it) in every test after the first frame comparison.
# Empty counts as set for pyspark.pandas (it leaves it alone) and as unset for pyarrow.
os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "")

# Property tests: a few examples in `make test`, many in `make test-chaos` (`--hypothesis-profile=chaos`).
from hypothesis import HealthCheck, settings as hypothesis_settings  # noqa: E402

_SLOW = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
hypothesis_settings.register_profile("default", max_examples=5, deadline=None, suppress_health_check=_SLOW)
hypothesis_settings.register_profile("chaos", max_examples=60, deadline=None, suppress_health_check=_SLOW)
hypothesis_settings.load_profile("default")


@pytest.fixture(scope="session")
def spark():
    from pipelines.core.config import load_settings
    from pipelines.core.session import build_session

    settings = load_settings(ROOT / "conf" / "local.yaml")
    spark_settings = settings.spark.model_copy(update={
        "master": "local[2]",
        "shuffle_partitions": 1,
        # One session runs the whole suite, and with one shuffle partition a task holds a whole
        # stage's hash maps: the gold build of the sample needs more than the default 4g.
        "driver_memory": "8g",
        "jars_dir": str(ROOT / "jars"),
        "ivy_dir": str(ROOT / ".ivy"),
        "extra": {"spark.ui.enabled": "false", "spark.sql.adaptive.enabled": "false"},
    })
    session = build_session(spark_settings, app_name="zhixing-tests")
    yield session
    session.stop()


@pytest.fixture
def settings_for(tmp_path):
    """Settings pointing at a landing zone and a fresh lake under tmp_path."""
    from pipelines.core.config import load_settings

    def make(landing: Path, lake: Path | None = None):
        return load_settings(ROOT / "conf" / "local.yaml", landing=str(landing), lake=str(lake or tmp_path / "lake"))

    return make
