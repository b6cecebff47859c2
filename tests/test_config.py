"""Configuration fails at start-up, naming the key."""

from pathlib import Path

import pytest

from pipelines.core.config import ConfigError, load_settings, to_uri
from pipelines.core import catalog

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
    assert settings.table(catalog.BRONZE["finance_transactions"]) == f"{settings.paths.lake}/bronze/finance_transactions"


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


def _fields(model, prefix=""):
    """Every leaf key of the settings tree, dotted: `model.search`, `watch.recovery.vehicle`, ..."""
    from pydantic import BaseModel

    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            yield from _fields(info.annotation, f"{key}.")
        else:
            yield key


def test_base_yaml_is_the_one_home_of_every_default_and_explains_each_key():
    """Every settings key (but the run date, a flag) is in base.yaml with a comment on its line or its
    section's; the models hold no defaults, so a key missing from base.yaml fails at load."""
    import re

    import yaml

    from pipelines.core.config import Settings

    text = (ROOT / "conf" / "base.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    keys = [k for k in _fields(Settings) if k != "run_date"]
    assert len(keys) >= 70     # the walk found the tree, not an empty model
    commented: dict[str, bool] = {}
    path: list[tuple[int, str]] = []
    for line in text.splitlines():
        match = re.match(r"^( *)([a-z_]+):(.*)$", line)
        if not match:
            continue
        indent, name, rest = len(match.group(1)), match.group(2), match.group(3)
        path = [(i, n) for i, n in path if i < indent] + [(indent, name)]
        commented[".".join(n for _, n in path)] = "#" in rest
    for key in keys:
        node = raw
        for part in key.split("."):
            assert isinstance(node, dict) and part in node, f"base.yaml lacks {key}"
            node = node[part]
        parts = key.split(".")
        assert any(commented.get(".".join(parts[:i])) for i in range(len(parts), 0, -1)), f"{key}: no comment"
    for model in (Settings, *(f.annotation for f in Settings.model_fields.values() if hasattr(f.annotation, "model_fields"))):
        defaults = [n for n, f in model.model_fields.items() if not f.is_required() and n != "run_date"]
        assert defaults == [], f"{model.__name__} has defaults outside base.yaml: {defaults}"


def test_a_config_missing_a_key_names_it(tmp_path):
    path = _write(tmp_path, "env: local\npaths: {landing: x, lake: y}\n")
    with pytest.raises(ConfigError, match=r"missing key 'spark'"):
        load_settings(path)


def test_the_challenger_alias_must_not_be_the_champions(tmp_path):
    path = _write(tmp_path, f"extends: {ROOT / 'conf' / 'base.yaml'}\nmodel:\n  challenger_alias: champion\n")
    with pytest.raises(ConfigError, match="challenger_alias"):
        load_settings(path)
