"""Paths the tests share."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf" / "local.yaml"
SAMPLE = ROOT / "data" / "sample"
