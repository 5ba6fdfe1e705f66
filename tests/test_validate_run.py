"""`diffy validate --run`: atomic-format procedures written by the team (tests/data/validate-run, none of
Atomic Red Team's text) run on real overlay-isolated lab hosts, collected with the real playbook
over SSH, analysed both ways. The lab test is one lab of 4 atomic hosts + 3 clean hosts."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from diffy_analysis.errors import LabError
from diffy_analysis.validate import report
from diffy_analysis.validate.atomics import plan
from diffy_analysis.validate.coverage import (
    NO_DURABLE_CHANGE,
    SCHEMA,
    AtomicOutcome,
    CleanOutcome,
    Coverage,
    Verdict,
)
from diffy_lab.spec import LabHost
from diffy_lab.testing import require_lab, unique_name
from diffy_lab.validate.execute import atomics_path, execute
from diffy_lab.validate.runner import RunConfig, check_root, reanalyse, validate

DATA = Path(__file__).parent / "data" / "validate-run"
# test id -> a word the catching finding must contain (it names the artifact)
EXPECTED = {"T1053.003-1": "203.0.113.9", "T1136.001-1": "svc-diffyfix", "T1564.001-1": ".diffy-fixture"}
NO_OP = "T1070.003-1"  # changes nothing on disk: the fixture set's expected miss
# test id -> a path the lab's before/after snapshots must list among the test's durable changes
DURABLE = {
    "T1053.003-1": "/etc/crontab",
    "T1136.001-1": "/etc/passwd",
    "T1564.001-1": "/dev/shm/.diffy-fixture",
}


def _outcome(detected: bool, exit_code: int | None = 0, finding: str = "crontab: x") -> AtomicOutcome:
    verdict = Verdict(detected, 1.0, finding if detected else None)
    return AtomicOutcome("T1", 1, "n<script>", "g", "h", 1, {"exit_code": exit_code}, verdict, verdict)


def test_miss_reasons_and_summary():
    gone = Verdict.of(None)
    uncollected = AtomicOutcome("T1", 2, "n", "g", "h2", 1, {"exit_code": 0}, gone, gone)
    cov = Coverage(tests=[_outcome(True), _outcome(False), _outcome(False, None), uncollected])
    cov.clean = [CleanOutcome("c", 1, Verdict(False), Verdict(True, 2.0, "users: y"))]
    assert [t.miss_reason for t in cov.tests] == [
        None,
        "nothing the pack collects differed from the clean host",
        "the command timed out (killed)",
        "the host's collection failed after the test (the results' manifest says why)",
    ]
    s = cov.summary()
    # the timed-out test was not exercised: neither detected nor missed, and counted in "rate" only
    assert s["baseline"] == {"detected": 1, "missed": 2, "rate": 0.25, "rate_exercised": 0.3333}
    assert (s["exercised"], s["not_exercised"]) == (3, 1)
    assert cov.tests[2].not_exercised == "the command was killed at its time bound"
    assert s["clean_hosts_flagged"] == 1
    doc = cov.to_json()
    assert doc["schema"] == SCHEMA and doc["clean_hosts"][0]["peers_flagged"] is True
    page = report.html_page(cov)
    assert "<script>" not in page and "n&lt;script&gt;" in page
    assert "clean host c (batch 1) flagged: users: y" in report.text(cov)


def test_paths_and_refusals(tmp_path):
    assert atomics_path("cp PathToAtomicsFolder/T1/src/x $PathToAtomicsFolder/y", DATA) == (
        f"cp {DATA}/atomics/T1/src/x {DATA}/atomics/y"
    )
    with pytest.raises(LabError, match="every lab host has its own copy"):
        check_root(Path("/tmp/art"))
    atomic = plan(DATA).selected[0]
    host = LabHost(name="h", app="a", index=0, address="10.0.0.1", netns="n")  # bind isolation
    with pytest.raises(LabError, match="not an overlay"):
        execute(atomic, host, DATA, tmp_path / "log")


@pytest.mark.lab
def test_validate_runs_the_fixtures_on_isolated_hosts(tmp_path):
    require_lab()
    selection = plan(DATA)
    name, subnet = unique_name("valt"), "10.213.114.0/24"
    cfg = RunConfig(root=DATA, work=tmp_path, name=name, subnet=subnet, batch=4, reference=3)
    cov = validate(selection.selected, cfg)
    by_id = {f"{t.technique}-{t.test}": t for t in cov.tests}
    assert set(by_id) == {*EXPECTED, NO_OP}
    for test_id, word in EXPECTED.items():
        outcome = by_id[test_id]
        assert outcome.execution["exit_code"] == 0
        for verdict in (outcome.baseline, outcome.peers):
            assert verdict.detected and word in verdict.finding, (test_id, verdict)
    assert by_id["T1136.001-1"].execution["prerequisites"] == ["prerequisite 1: met"]
    miss = by_id[NO_OP]
    assert not miss.baseline.detected and not miss.peers.detected
    assert miss.miss_reason in (  # the engine may still list low-weight differences it does not flag
        "nothing the pack collects differed from the clean host",
        "collected and different, but the engine's verdict did not flag the host",
    )
    # The lab's own before/after snapshots (hoststate): the no-op left nothing, so it is not
    # exercised; each detected test left its artifact, which the snapshots must name.
    assert miss.execution["durable_changes"] == 0 and miss.not_exercised == NO_DURABLE_CHANGE
    for test_id, path in DURABLE.items():
        assert path in by_id[test_id].execution["durable_sample"], (test_id, by_id[test_id].execution)
    assert cov.summary()["detected_without_durable_change"] == 0
    assert len(cov.clean) == 3 and not any(c.baseline.detected or c.peers.detected for c in cov.clean)
    doc = json.loads((tmp_path / "coverage.json").read_text())
    assert doc["summary"]["baseline"]["detected"] == 3 and doc["engine"]["isolation"] == "overlay"
    # --reanalyse: the collected runs judged again, nothing run, the same verdicts
    again = reanalyse(tmp_path)
    assert [(t.technique, t.test, t.baseline.detected, t.peers.detected) for t in again.tests] == [
        (t.technique, t.test, t.baseline.detected, t.peers.detected) for t in cov.tests
    ]
    assert len(again.clean) == 3 and again.engine["reanalysed"] is True
    cov.excluded = Counter(e.reason for e in selection.excluded)
    assert "not a Linux test (windows)" in json.dumps(cov.to_json())
