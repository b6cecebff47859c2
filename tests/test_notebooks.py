"""The analysts' notebooks: committed without outputs, and they run against a lake.

Executing them needs a built lake: `ZHIXING_TEST_LAKE=.demo/lake pytest tests/test_notebooks.py`
(`ZHIXING_TEST_EXPORTS` too if the exports are not beside the lake); without it that test is skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from helpers.notebooks import execute_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXPECTED = ["01_debtor_profiles.ipynb", "02_model_report.ipynb", "03_nightly_review.ipynb"]


def commit_problems(notebook: nbformat.NotebookNode) -> list[str]:
    """Why `notebook` is not fit to commit: outputs, execution counts, no opening Markdown, another kernel."""
    problems = []
    if not notebook.cells or notebook.cells[0].cell_type != "markdown":
        problems.append("does not open with a Markdown cell stating its question")
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"cell {index} has outputs")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {index} has an execution count")
    kernel = notebook.metadata.get("kernelspec", {}).get("name")
    if kernel != "python3":
        problems.append(f"kernelspec is {kernel!r}, not 'python3'")
    return problems


def test_the_analysts_notebooks_are_there():
    assert [path.name for path in NOTEBOOKS if path.name in EXPECTED] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_committed_without_outputs(path):
    assert commit_problems(nbformat.read(path, as_version=4)) == []


def test_an_executed_notebook_is_not_fit_to_commit():
    executed = new_notebook(cells=[new_markdown_cell("# Question"),
                                   new_code_cell("1 + 1", execution_count=1,
                                                 outputs=[new_output("execute_result", {"text/plain": "2"},
                                                                     execution_count=1)])],
                            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    assert commit_problems(executed) == ["cell 1 has outputs", "cell 1 has an execution count"]
    executed.cells = executed.cells[1:]
    assert "does not open with a Markdown cell stating its question" in commit_problems(executed)


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_runs_against_a_lake(name):
    lake = os.environ.get("ZHIXING_TEST_LAKE")
    if not lake:
        pytest.skip("set ZHIXING_TEST_LAKE to a built lake (e.g. .demo/lake) to execute the notebooks")
    lake_path = Path(lake).resolve()
    exports = Path(os.environ.get("ZHIXING_TEST_EXPORTS") or lake_path.parent / "exports").resolve()
    executed = execute_notebook(ROOT / "notebooks" / name, {"ZHIXING_LAKE": str(lake_path), "ZHIXING_EXPORTS": str(exports)})
    assert commit_problems(executed), "an executed notebook must fail the commit check"
