"""diffy validate judges each test's host among the clean hosts only (tools/diffy_lab/validate/runner.py
``_judge``): the batch is how the lab runs tests side by side, not a fleet of a dozen compromises.
Runs built in memory (no lab, nothing executed)."""

from __future__ import annotations

import copy

from runbuilder import build_run, clean_fleet

from diffy_analysis.validate.coverage import Coverage
from diffy_lab.validate.runner import _judge

PROFILES = ("/etc/profile", "/root/.bashrc", "/root/.profile", "/etc/bash.bashrc")
TOUCHED = ("/root/.bash_profile", "/etc/profile", "/etc/profile.d/atomic.sh", "/home/admin/.profile")


def _profile(path: str, sha: str) -> dict[str, str]:
    return {"path": path, "type": "regular", "size": "807", "mode": "0644", "uid": "0", "gid": "0",
            "sha256": sha, "mtime": "1796219983"}  # fmt: skip


def _with_profiles(rows: dict) -> dict:
    rows = copy.deepcopy(rows)
    rows["shell_profiles"] = [_profile(p, f"{i:x}" * 64) for i, p in enumerate(PROFILES, start=1)]
    return rows


def _fleets(tmp_path):
    hosts = {name: _with_profiles(rows) for name, rows in clean_fleet(12).items()}
    reference = {f"ref-{i}": hosts.pop(f"web-{i:03d}") for i in range(4, 13)}
    batch = {name: hosts[name] for name in ("web-001", "web-002", "web-003")}
    batch["ctl-0"] = copy.deepcopy(next(iter(reference.values())))
    # three tests, each its own change to a shell profile: a row nobody else holds, on three hosts
    for (name, rows), path in zip(sorted(batch.items())[1:], TOUCHED, strict=False):
        rows["shell_profiles"] = [r for r in rows["shell_profiles"] if r["path"] != path]
        rows["shell_profiles"].append(_profile(path, "e" * 63 + name[-1]))
    return build_run(tmp_path / "batch", batch), build_run(tmp_path / "reference", reference)


def test_each_test_host_is_judged_among_the_clean_hosts_only(tmp_path):
    batch, reference = _fleets(tmp_path)
    tests = [(name, {"technique": "T1546.004", "test": n, "name": "profile", "guid": name}, {"exit_code": 0})
             for n, name in enumerate(("web-001", "web-002", "web-003"), start=1)]  # fmt: skip
    clean = ["ctl-0", *(f"ref-{i}" for i in range(4, 13))]
    coverage = Coverage()
    _judge(coverage, 1, tests=tests, clean=clean, runs=[batch, reference],
           baseline=reference / "hosts" / "ref-4")  # fmt: skip
    assert [(t.host, t.baseline.detected, t.peers.detected) for t in coverage.tests] == [
        ("web-001", True, True), ("web-002", True, True), ("web-003", True, True)
    ]  # fmt: skip
    assert len(coverage.clean) == len(clean)
    assert not any(c.baseline.detected or c.peers.detected for c in coverage.clean)


def test_a_test_host_whose_collection_failed_is_a_miss_not_an_error(tmp_path):
    batch, reference = _fleets(tmp_path)
    tests = [
        ("web-009", {"technique": "T1546.004", "test": 9, "name": "gone", "guid": "g"}, {"exit_code": 0})
    ]
    coverage = Coverage()
    _judge(coverage, 1, tests=tests, clean=["ctl-0", "ref-4", "ref-5"], runs=[batch, reference],
           baseline=reference / "hosts" / "ref-4")  # fmt: skip
    (outcome,) = coverage.tests
    assert not outcome.baseline.detected and not outcome.peers.detected
    assert len(coverage.clean) == 3
