"""Run a notebook in a fresh kernel, as an analyst would, and fail with the cell that broke.

    from helpers.notebooks import execute_notebook
    executed = execute_notebook(ROOT / "notebooks" / "03_nightly_review.ipynb", {"ZHIXING_LAKE": str(lake)})
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

__all__ = ["NotebookError", "WORKSPACE_VARIABLES", "execute_notebook"]

REPO_ROOT = Path(__file__).resolve().parents[2]

# What points a notebook at a lake (tools/workspace.py and the notebooks). The kernel does not
# inherit these from the caller's shell, so a stray ZHIXING_LAKE cannot send a test to the wrong lake.
WORKSPACE_VARIABLES = ("ZHIXING_CONF", "ZHIXING_LAKE", "ZHIXING_EXPORTS", "ZHIXING_RUN_DATE", "ZHIXING_CASE_NO",
                       "MLFLOW_TRACKING_URI")

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class NotebookError(AssertionError):
    """A notebook cell failed, timed out or killed the kernel; the message holds the cell and the error."""


def execute_notebook(path: Path, env: dict[str, str], timeout: int = 600) -> nbformat.NotebookNode:
    """Execute `path` in a python3 kernel started at the repository root with `env` added to its
    environment; return the executed notebook (the file is not touched). `timeout` is per cell."""
    notebook = nbformat.read(path, as_version=4)
    kernel_env = {key: value for key, value in os.environ.items() if key not in WORKSPACE_VARIABLES}
    kernel_env.update(env)
    running: dict[str, int] = {}
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", allow_errors=False,
        resources={"metadata": {"path": str(REPO_ROOT)}},     # the kernel's working directory
        on_cell_start=lambda cell, cell_index: running.update(index=cell_index),
    )
    try:
        client.execute(env=kernel_env)
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
        index = running.get("index")
        raise NotebookError(_describe(path, notebook, index, error)) from None
    return notebook


def _describe(path: Path, notebook: nbformat.NotebookNode, index: int | None, error: Exception) -> str:
    if index is None:
        return f"{path.name}: {type(error).__name__}: {_ANSI.sub('', str(error))}"
    cell = notebook.cells[index]
    failure = next((output for output in cell.get("outputs", []) if output.get("output_type") == "error"), None)
    if failure is not None:
        detail = _ANSI.sub("", "\n".join(failure.get("traceback", [])) or f"{failure['ename']}: {failure['evalue']}")
    else:
        detail = f"{type(error).__name__}: {_ANSI.sub('', str(error))}"
    return f"{path.name}, cell {index} failed:\n{cell.source}\n{'-' * 40}\n{detail}"
