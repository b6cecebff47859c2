"""The feature dictionary (`features/dictionary.yaml`) as typed entries, and FEATURES.md.

    python -m features.catalogue --write     regenerate FEATURES.md
    python -m features.catalogue --check     exit 1 if FEATURES.md is stale
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

__all__ = ["Feature", "DIMENSIONS", "load_dictionary", "feature_names", "render_markdown"]

DICTIONARY = Path(__file__).with_name("dictionary.yaml")
FEATURES_MD = Path(__file__).resolve().parent.parent / "FEATURES.md"

DIMENSIONS = {
    "identity": "Identity (身份特质)",
    "ability": "Ability to pay (履约能力/资产状况)",
    "credit": "Credit history (信用历史)",
    "behaviour": "Behaviour (行为偏好)",
    "social": "Social ties (人脉关系)",
    "evasion": "Evasion signals (规避执行迹象)",
    "case": "The case (案件)",
}


class Feature(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    dimension: Literal["identity", "ability", "credit", "behaviour", "social", "evasion", "case"]
    unit: Literal["years", "days", "CNY", "count", "flag", "share", "ratio", "category"]
    agg: Literal["sum", "max", "min", "lead", "case"]
    fill: float | str | None = None
    sources: tuple[str, ...]
    computed_by: str
    en: str
    zh: str
    reason_zh: str

    @property
    def is_categorical(self) -> bool:
        return self.unit == "category"

    @model_validator(mode="after")
    def _computed_by_names_a_function(self) -> Feature:
        """`computed_by` is `module.function`, importable, and defined in that module (not re-exported)."""
        module, _, function = self.computed_by.rpartition(".")
        try:
            target = getattr(importlib.import_module(module), function, None) if module and function else None
        except ImportError as e:
            raise ValueError(f"computed_by {self.computed_by!r}: cannot import {module!r}: {e}") from e
        if not callable(target):
            raise ValueError(f"computed_by {self.computed_by!r} is not a function (want module.function)")
        # An alias would point a reader, and tests/test_feature_families.py, at a file that does not build it.
        if getattr(target, "__module__", None) != module:
            raise ValueError(f"computed_by {self.computed_by!r}: the function is defined in "
                             f"{target.__module__!r}; name it there")
        return self


@cache
def load_dictionary(path: Path = DICTIONARY) -> tuple[Feature, ...]:
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    # Names first: a name listed twice is a mistake whatever its entries hold.
    twice = [n for n, c in Counter(e.get("name") for e in entries).items() if c > 1]
    if twice:
        raise ValueError(f"{path}: feature names listed twice: {twice}")
    return tuple(_feature(path, e) for e in entries)


def _feature(path: Path, entry: dict) -> Feature:
    try:
        return Feature(**entry)
    except ValidationError as e:
        raise ValueError(f"{path}: feature {entry.get('name')!r}: {e}") from e


def feature_names() -> list[str]:
    return [f.name for f in load_dictionary()]


def render_markdown(features: tuple[Feature, ...]) -> str:
    lines = [
        "# Feature catalogue",
        "",
        "Generated from `features/dictionary.yaml` by `python -m features.catalogue --write`; do not edit by hand.",
        "",
        f"{len(features)} features. Every one is computed only from records whose event time is strictly",
        "before the case's `filed_on` (contract section 4); `features/pit.py` holds the rule, and",
        "`tests/test_features_pit.py` tests each family with records dated on both sides of the filing date.",
        "",
        "`gold/debtor_profile` has one row per respondent per case; `gold/case_features` combines a case's",
        "respondents as the *case agg* column says: `sum` for assets, money and counts; `max` for the worst",
        "credit history and any flag; `min` for the most recent event and the weakest entity-resolution link;",
        "`lead` takes the first-listed respondent (identity); `case` is a property of the case itself.",
        "*Fill* is the value used when a person has no record in the sources (absence means zero);",
        "an empty fill means the feature stays null. *Computed by* names the function that builds the column",
        "(`tests/test_feature_families.py` checks each family returns exactly the columns listed for it).",
        "",
    ]
    for key, title in DIMENSIONS.items():
        rows = [f for f in features if f.dimension == key]
        lines += [f"## {title}: {len(rows)}", "",
                  "| feature | description | 说明 | unit | case agg | fill | sources | computed by | reason shown (理由) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for f in rows:
            fill = "" if f.fill is None else f"{f.fill:g}" if isinstance(f.fill, float) else str(f.fill)
            lines.append(f"| `{f.name}` | {f.en} | {f.zh} | {f.unit} | {f.agg} | {fill} | "
                         f"{', '.join(f.sources)} | `{f.computed_by}` | {f.reason_zh} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = render_markdown(load_dictionary())
    if args.write:
        FEATURES_MD.write_text(text, encoding="utf-8")
        print(f"wrote {FEATURES_MD}")
        return 0
    if not FEATURES_MD.exists() or FEATURES_MD.read_text(encoding="utf-8") != text:
        print(f"{FEATURES_MD} is stale: run `python -m features.catalogue --write`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
