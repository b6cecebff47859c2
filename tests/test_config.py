"""Configuration fails at start-up, naming the key."""

from pathlib import Path

import pytest

from pipelines.core.config import ConfigError, load_settings, to_uri

ROOT = Path(__file__).resolve().parents[1]


def _write(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_every_shipped_config_loads():
    for name in ("base.yaml", "local.yaml", "cluster.yaml"):
        settings = load_settings(ROOT / "conf" / name)
        assert settings.paths.lake.startswith(("file:", "hdfs:", "s3a:"))


def test_cluster_example_uses_cluster_paths_and_no_dev_secret():
    settings = load_settings(ROOT / "conf" / "cluster.yaml")
    assert settings.env == "cluster"
    assert settings.paths.landing.startswith("hdfs://") and settings.paths.lake.startswith("s3a://")
    assert settings.privacy.allow_dev_secret is False


def test_unknown_key_is_named(tmp_path):
    path = _write(tmp_path, f"extends: {ROOT / 'conf' / 'base.yaml'}\nspark:\n  shuffle_partitons: 4\n")
    with pytest.raises(ConfigError, match=r"unknown key 'spark\.shuffle_partitons'"):
        load_settings(path)


def test_bad_value_is_named(tmp_path):
    path = _write(tmp_path, f"extends: {ROOT / 'conf' / 'base.yaml'}\nspark:\n  shuffle_partitions: zero\n")
    with pytest.raises(ConfigError, match=r"bad value for 'spark\.shuffle_partitions'"):
        load_settings(path)


def test_bad_env_is_named(tmp_path):
    path = _write(tmp_path, f"extends: {ROOT / 'conf' / 'base.yaml'}\nenv: production\n")
    with pytest.raises(ConfigError, match=r"'env'"):
        load_settings(path)


def test_flags_override_the_file(tmp_path):
    settings = load_settings(ROOT / "conf" / "local.yaml", landing="hdfs://nn/landing",
                             lake=str(tmp_path / "lake"), run_date="2026-11-01")
    assert settings.paths.landing == "hdfs://nn/landing"
    assert settings.paths.lake == (tmp_path / "lake").resolve().as_uri()
    assert settings.run_date.isoformat() == "2026-11-01"
    assert settings.table("bronze", "finance_transactions") == f"{settings.paths.lake}/bronze/finance_transactions"


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(_write(tmp_path, "spark: [unclosed\n"))


def test_uri_schemes():
    assert to_uri("s3a://bucket/lake/") == "s3a://bucket/lake"
    assert to_uri("/tmp/x").startswith("file:///")
    with pytest.raises(ConfigError, match="unsupported URI scheme"):
        to_uri("ftp://host/x")


def test_exports_are_a_local_folder_and_bands_thresholds_are_ordered(tmp_path):
    settings = load_settings(ROOT / "conf" / "local.yaml", exports=str(tmp_path / "out"))
    assert settings.paths.exports == str((tmp_path / "out").resolve())
    with pytest.raises(ConfigError, match=r"bad value for 'paths\.exports'.*local or mounted"):
        load_settings(ROOT / "conf" / "local.yaml", exports="s3a://bucket/exports")
    path = _write(tmp_path, f"extends: {ROOT / 'conf' / 'base.yaml'}\nscoring:\n  high: 0.3\n  medium: 0.5\n")
    with pytest.raises(ConfigError, match="medium must be below high"):
        load_settings(path)
    path = _write(tmp_path, f"extends: {ROOT / 'conf' / 'base.yaml'}\nmonitor:\n  investigate: 0.3\n")
    with pytest.raises(ConfigError, match="investigate must be below shift"):
        load_settings(path)


def test_local_path_inverts_to_uri(tmp_path):
    from pipelines.core.config import local_path

    assert local_path(to_uri(str(tmp_path / "a b"))) == (tmp_path / "a b").resolve()
    with pytest.raises(ConfigError, match="not on a local file system"):
        local_path("hdfs://nn/lake")
