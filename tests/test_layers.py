"""The house plan holds: data flows one way, and no module imports from a layer above it.

Layers, lowest first. A module may import its own layer and those below; the
synthetic generator, the developer tools and the benchmarks stand outside the
production path, and nothing in it imports them.
"""

from __future__ import annotations

import ast

import pytest
from helpers.paths import ROOT

LAYERS = [
    "pipelines.core",       # config, contract, catalog, session, storage, privacy, lock, faults, timing
    "pipelines.quality",    # the gate machinery (Great Expectations)
    "pipelines.bronze",     # landing -> bronze, and bronze's suites
    "pipelines.silver",     # bronze -> silver, entity resolution, silver's suites
    "features",             # pure definitions: the dictionary and its families, the point-in-time rule
    "pipelines.gold",       # silver -> gold, the asset watch, gold's suites
    "models",               # train, register, score, monitor
    "pipelines.exports",    # the court files and the nightly summary
    "pipelines.flows",      # the nightly run, the gates' registry, how a job runs
    "jobs",                 # thin entry points
]
OUTSIDE = ("synthetic", "tools", "benchmarks")


def _layer(module: str) -> int | None:
    matches = [i for i, prefix in enumerate(LAYERS) if module == prefix or module.startswith(prefix + ".")]
    return max(matches, key=lambda i: len(LAYERS[i])) if matches else None


def _modules() -> dict[str, list[tuple[str, int]]]:
    """Each production module -> the project modules it imports (anywhere in the file), with line numbers."""
    found = {}
    for top in ("pipelines", "features", "models", "jobs"):
        for path in sorted((ROOT / top).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            imports = []
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    imports += [(node.module, node.lineno)]
                    imports += [(f"{node.module}.{a.name}", node.lineno) for a in node.names]
                elif isinstance(node, ast.Import):
                    imports += [(a.name, node.lineno) for a in node.names]
            found[name] = [(m, line) for m, line in imports if m.split(".")[0] in (*LAYERS_TOP, *OUTSIDE)]
    return found


LAYERS_TOP = ("pipelines", "features", "models", "jobs")


def test_every_production_module_has_a_layer():
    modules = _modules()
    assert len(modules) > 60
    homeless = [m for m in modules if _layer(m) is None and m not in ("pipelines", "jobs", "features", "models")]
    assert homeless == [], f"modules outside every layer of the plan: {homeless}"


def test_no_module_imports_from_a_layer_above_it_or_from_outside_the_production_path():
    upward = []
    for module, imports in _modules().items():
        mine = _layer(module)
        if mine is None:
            continue
        for imported, line in imports:
            if imported.split(".")[0] in OUTSIDE:
                upward.append(f"{module}:{line} imports {imported} (outside the production path)")
                continue
            theirs = _layer(imported)
            if theirs is not None and theirs > mine:
                upward.append(f"{module}:{line} ({LAYERS[mine]}) imports {imported} ({LAYERS[theirs]})")
    assert upward == [], "\n".join(upward)


@pytest.mark.parametrize("module, imported, allowed", [
    ("pipelines.core.config", "models.registry", False),
    ("models.train", "pipelines.core.storage", True),
    ("features.profile", "pipelines.gold.build", False),
    ("pipelines.exports.risk", "features.profile", True),
])
def test_the_rule_itself(module, imported, allowed):
    assert (_layer(imported) <= _layer(module)) is allowed
