"""The one stage timer: one line per stage, `stage=… rows=… seconds=…`, also when the stage fails."""

import logging
import re

import pytest

from pipelines.core.timing import stage, stage_line

LINE = re.compile(r"^stage=(?P<name>\S+) rows=(?P<rows>\S+) seconds=(?P<seconds>\d+\.\d)(?P<rest>.*)$")


def test_a_stage_logs_start_and_one_line_with_rows_seconds_and_its_fields(caplog):
    log = logging.getLogger("zhixing.test")
    with caplog.at_level(logging.INFO, logger="zhixing.test"), stage("gold.case_features", log, cases=3) as timed:
        timed.rows = 42
        timed.fields["courts"] = 2
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "stage=gold.case_features started"
    match = LINE.match(messages[1])
    assert match and match["name"] == "gold.case_features" and match["rows"] == "42"
    assert match["rest"] == " cases=3 courts=2"
    assert timed.seconds >= 0 and float(match["seconds"]) == pytest.approx(timed.seconds, abs=0.05)


def test_a_failing_stage_still_logs_its_line_and_the_error_passes_through(caplog):
    log = logging.getLogger("zhixing.test")
    with caplog.at_level(logging.INFO, logger="zhixing.test"), pytest.raises(KeyError):
        with stage("score", log) as timed:
            timed.rows = 7
            raise KeyError("boom")
    assert caplog.records[-1].getMessage().endswith("rows=7 seconds=0.0 failed=KeyError")


def test_a_stage_without_rows_says_so():
    assert stage_line("compact", None, 1.25) == "stage=compact rows=- seconds=1.2"
