"""The crash tests' fault points (pipelines/core/faults.py): which write, which moment, which occurrence."""

from __future__ import annotations

import pytest

from pipelines.core import faults


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
