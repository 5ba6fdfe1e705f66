"""analyze/evidence.py: which findings a host shows first, and what each finding carries."""

from __future__ import annotations

from pathlib import Path

from diffy_analysis.analyze.candidates import Candidate
from diffy_analysis.analyze.evidence import build_findings, changed_columns, top_candidates
from diffy_analysis.load import HostData, HostIdentity, HostRef, QueryStatus, RunInfo
from diffy_analysis.normalize import build_fleet, default_config

RUN = RunInfo(path=Path("/nonexistent"), run_id="20261129T101500Z-a1b2c3")
ROOT = {"username": "root", "uid": "0", "shell": "/bin/bash"}
BACKDOOR = {"username": "backdoor", "uid": "0", "shell": "/bin/sh"}


def _host(host_id: str, rows: dict[str, list[dict[str, str]]]) -> HostData:
    return HostData(
        ref=HostRef(RUN, host_id, Path("/nonexistent") / host_id),
        identity=HostIdentity(host=host_id, host_id=host_id, hostname=host_id),
        queries={q: QueryStatus(q, "ok") for q in rows},
        rows=rows,
    )


def _index_and_fids():
    clean = {"users": [ROOT], "groups": [{"groupname": "root", "gid": "0"}], "processes": []}
    evil = {
        "users": [ROOT, BACKDOOR],
        "groups": [{"groupname": "root", "gid": "0"}, {"groupname": "backdoor", "gid": "0"}],
        "processes": [{"name": "nc", "cmdline": "nc -lvp 4444", "path": "/usr/bin/nc"}],
    }
    hosts = [_host(f"web-{i}", clean) for i in range(4)] + [_host("web-evil", evil)]
    index = build_fleet(hosts, default_config()).index
    fids = {q: index.lookup(hosts[-1], q) for q in evil}
    return index, fids


def test_a_second_finding_about_the_same_account_comes_after_another_artifact():
    index, fids = _index_and_fids()
    user = Candidate("added", fids["users"][1], 1.0)
    group = Candidate("added", fids["groups"][1], 1.0)
    process = Candidate("added", fids["processes"][0], 1.0)
    ordered = top_candidates(index, [group, user, process], limit=3)
    assert ordered[-1] in (user, group) and process in ordered[:2]
    assert top_candidates(index, [group, user, process], limit=1)[0] is not ordered[-1]
    weak = Candidate("added", fids["processes"][0], 1.0, strength="weak")
    assert top_candidates(index, [weak, user], limit=2)[0] is user  # strong before weak


def test_findings_carry_counts_changed_columns_and_the_raw_row():
    index, fids = _index_and_fids()
    root_fid, backdoor_fid = fids["users"]
    assert changed_columns(index, backdoor_fid, root_fid) == ("shell", "username")
    raw = {"username": "backdoor", "uid": "0", "shell": "/bin/sh", "pid": "31337"}
    added = Candidate("added", backdoor_fid, 1.0, hosts_with_row=1, hosts_compared=5)
    changed = Candidate("changed", backdoor_fid, 0.5, ref_fid=root_fid)
    found = build_findings(index, [added, changed], method="peers", raw={backdoor_fid: raw})
    assert found[0].row == raw and found[0].prevalence == 0.2
    assert (found[0].hosts_with_row, found[0].hosts_compared) == (1, 5)
    assert found[1].changed_columns == ("shell", "username") and found[1].reference_row == ROOT
    assert found[1].prevalence is None
    assert all(f.explanation for f in found)
