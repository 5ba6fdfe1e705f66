"""diffy_analysis/validate/coverage.py and report.py: tests the lab could not exercise are neither
detected nor missed, have their reason, and both rates are given in text, JSON and HTML."""

from __future__ import annotations

from diffy_analysis.validate import report
from diffy_analysis.validate.coverage import (
    NO_DURABLE_CHANGE,
    AtomicOutcome,
    Coverage,
    Verdict,
    cannot_run_reason,
)


def _outcome(
    number: int, exit_code: int | None, detected: bool, tail: str = "", missing=False
) -> AtomicOutcome:
    verdict = Verdict(
        detected, 0.9 if detected else 0.0, "suid_bin: /tmp/x" if detected else None, missing=missing
    )
    execution = {"host": f"h{number}", "exit_code": exit_code, "seconds": 1.0, "prerequisites": [],
                 "prerequisites_met": True, "output_tail": tail}  # fmt: skip
    return AtomicOutcome("T1", number, f"t{number}", "g", f"i-{number}", 1, execution, verdict, verdict)


def test_reasons_from_the_exit_code_and_the_output():
    assert cannot_run_reason({"exit_code": 0}) is None
    assert cannot_run_reason({"exit_code": None}).startswith("the command was killed")
    assert cannot_run_reason({"exit_code": 0, "prerequisites_met": False}).startswith("a prerequisite")
    assert "absent" in cannot_run_reason({"exit_code": 127})
    systemd = {"exit_code": 1, "output_tail": "System has not been booted with systemd as init system"}
    assert "no systemd" in cannot_run_reason(systemd)
    assert cannot_run_reason({"exit_code": 3, "output_tail": "?"}) == "exit 3: the command failed"


def test_not_exercised_is_separate_from_detected_and_missed_and_both_rates_are_printed(tmp_path):
    coverage = Coverage(
        tests=[
            _outcome(1, 0, True),  # detected
            _outcome(2, 1, True),  # detected although its command failed: it was exercised
            _outcome(3, 0, False),  # ran to completion, not caught: a miss
            _outcome(4, 127, False, "sudo: command not found"),  # not exercised
            _outcome(5, 1, False, missing=True),  # collection failed: a miss, never hidden
        ]
    )
    assert [t.not_exercised is not None for t in coverage.tests] == [False, False, False, True, False]
    s = coverage.summary()
    assert (s["tests_run"], s["exercised"], s["not_exercised"]) == (5, 4, 1)
    assert s["baseline"] == {"detected": 2, "missed": 2, "rate": 0.4, "rate_exercised": 0.5}
    assert list(s["not_exercised_by_reason"].values()) == [1]
    assert coverage.to_json()["tests"][3]["not_exercised"].startswith("exit 127")
    text = report.text(coverage)
    assert "2/4 (50%) of the tests exercised, 2/5 (40%) of all run" in text
    assert "4 exercised, 1 not exercised" in text and "not exercised: exit 127" in text
    page = report.html_page(coverage)
    assert "2/4 (50%) of the tests exercised" in page and "class=na>n/a" in page


def test_a_test_that_left_no_durable_change_is_not_exercised_and_a_miss_shows_what_it_left():
    quiet = _outcome(1, 0, False)
    quiet.execution.update(durable_changes=0, durable_sample=[])
    missed = _outcome(2, 0, False)
    missed.execution.update(durable_changes=2, durable_sample=["/tmp/a b", "/tmp/c"])
    unmeasured = _outcome(3, 0, False)  # an older coverage.json: nothing concluded, still a miss
    odd = _outcome(4, 0, True)
    odd.execution.update(durable_changes=0, durable_sample=[])
    coverage = Coverage(tests=[quiet, missed, unmeasured, odd])
    assert [t.not_exercised for t in coverage.tests] == [NO_DURABLE_CHANGE, None, None, None]
    s = coverage.summary()
    assert (s["exercised"], s["baseline"]["missed"], s["detected_without_durable_change"]) == (3, 2, 1)
    text = report.text(coverage)
    assert "it left /tmp/a b, /tmp/c" in text
    assert "warning: 1 detected tests left no change" in text
    # a failed command keeps its own reason whatever the snapshots say
    assert cannot_run_reason({"exit_code": 127, "durable_changes": 0}).startswith("exit 127")
