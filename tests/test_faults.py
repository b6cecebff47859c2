"""The crash tests' fault points (pipelines/core/faults.py): which write, file or registry call, which moment,
which occurrence; and what a file writer killed mid-file leaves."""

from __future__ import annotations

import os
import subprocess

import pandas as pd
import pytest

from pipelines.core import faults
from pipelines.exports import sheet


@pytest.fixture
def kills(monkeypatch):
    killed = []
    monkeypatch.setattr(faults, "_kill", lambda group=None: killed.append(True))
    monkeypatch.setattr(faults, "_seen", faults.Counter())
    return killed


def test_no_fault_set_never_kills(monkeypatch, kills):
    monkeypatch.delenv(faults.ENV, raising=False)
    for when in faults.WHEN:
        assert faults.reached("/lake/silver/persons", when) is False
    assert kills == []


def test_the_nth_time_a_point_is_reached_kills(monkeypatch, kills):
    monkeypatch.setenv(faults.ENV, "silver/persons:after@2")
    faults.reached("/lake/silver/persons", "before")
    faults.reached("/lake/silver/persons", "after")
    faults.reached("/lake/silver/cases", "after")            # another table
    assert kills == []
    faults.reached("file:///lake/silver/persons/", "after")  # the same table by another URI form
    assert kills == [True]


def test_a_during_fault_arms_the_write_instead_of_killing_the_driver(monkeypatch, kills):
    monkeypatch.setenv(faults.ENV, "gold/case_scores:during")
    assert faults.reached("/lake/gold/case_scores", "during") is True
    assert faults.reached("/lake/gold/case_features", "during") is False
    assert kills == []


def test_a_named_point_kills_the_nth_time_it_is_reached(monkeypatch, kills):
    monkeypatch.setenv(faults.ENV, "registry:challenger@2")
    faults.point("registry:registered")
    faults.point("registry:challenger")
    assert kills == []
    faults.point("registry:challenger")
    assert kills == [True]
    faults.point("registry:challenger")                     # only the chosen pass
    assert kills == [True]


def test_an_unset_point_counts_nothing(monkeypatch, kills):
    monkeypatch.delenv(faults.ENV, raising=False)
    faults.point("registry:registered")
    assert faults.armed("file/a.csv:during") is False and not faults._seen and kills == []


class Killed(BaseException):
    """Stands for the SIGKILL: nothing after it runs in the job (the test looks at the disk when it comes)."""


def _folder_when_killed(monkeypatch, folder):
    seen = {}

    def kill(group=None):
        seen.update({p.name: p.read_bytes() for p in folder.iterdir()})
        raise Killed

    monkeypatch.setattr(faults, "_kill", kill)
    return seen


def test_a_file_killed_mid_write_is_half_a_temporary_and_nothing_under_its_name(monkeypatch, tmp_path):
    monkeypatch.setattr(faults, "_seen", faults.Counter())
    monkeypatch.setenv(faults.ENV, "file/court.csv:during")
    seen = _folder_when_killed(monkeypatch, tmp_path)
    data = "案号,风险\r\n".encode() * 100
    with pytest.raises(Killed):
        sheet._write_bytes_atomic(tmp_path / "court.csv", data)
    assert "court.csv" not in seen
    [(temporary, content)] = seen.items()
    assert temporary.startswith(".court.csv.tmp-") and content == data[:len(data) // 2]


def test_a_file_killed_after_its_write_is_whole_under_its_name(monkeypatch, tmp_path):
    monkeypatch.setattr(faults, "_seen", faults.Counter())
    monkeypatch.setenv(faults.ENV, "file/court.csv:after")
    seen = _folder_when_killed(monkeypatch, tmp_path)
    with pytest.raises(Killed):
        sheet._write_bytes_atomic(tmp_path / "court.csv", b"case_no\r\n")
    assert seen == {"court.csv": b"case_no\r\n"}


def test_rewriting_a_folder_removes_dead_writers_temporaries_only(tmp_path):
    writer = subprocess.Popen(["true"])
    writer.wait()                                             # a writer that has died (and been reaped)
    orphans = [tmp_path / f".苏0312.csv.tmp-{writer.pid}-0123abcd", tmp_path / f".summary.md.tmp-{writer.pid}-89abcdef"]
    kept = [tmp_path / f".B.csv.tmp-{os.getpid()}-0123abcd",  # a live writer's, in flight
            tmp_path / ".hidden.csv", tmp_path / "notes.txt"]
    for path in orphans + kept:
        path.write_bytes(b"half")
    table = pd.DataFrame({"case_no": ["(2026)苏0312执1号"]})
    sheet.write_court_files({"苏0312": table}, tmp_path, sheet.Sheet("risk", ("case_no",)))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["苏0312.csv", "苏0312.xlsx", *(p.name for p in kept)])
