"""The functional-baseline method: added / missing / changed, population differences, baselines."""

from __future__ import annotations

import shutil

import pytest
from runbuilder import build_run, clean_fleet

from diffy_analysis.api import analyze
from diffy_analysis.errors import BaselineError, UsageError

BACKDOOR_USER = {
    "uid": "0",
    "gid": "0",
    "username": "backup2",
    "description": "",
    "directory": "/root",
    "shell": "/bin/bash",
}


def _fleet_and_baseline(tmp_path, hosts):
    run = build_run(tmp_path / "fleet", hosts)
    base = build_run(tmp_path / "base", clean_fleet(1, prefix="base-"), run_id="20261129T090000Z-base01")
    return run, base / "hosts" / "base-001"


def test_added_missing_changed_with_columns_named(tmp_path):
    hosts = clean_fleet(10)
    hosts["web-002"]["users"].append(BACKDOOR_USER)
    hosts["web-003"]["iptables"] = []
    hosts["web-004"]["system_binaries"][0]["sha256"] = "c" * 64
    run, base = _fleet_and_baseline(tmp_path, hosts)
    analysis = analyze([run], baseline=base)
    assert analysis.method == "baseline"
    by_host = {h.host: h for h in analysis.hosts}
    assert sorted(h.host for h in analysis.hosts if h.outlier) == ["web-002", "web-003", "web-004"]
    added = by_host["web-002"].findings[0]
    assert added.kind == "added"
    assert added.explanation.startswith(
        "user `backup2` with uid 0 and shell /bin/bash (uid 0: root privileges) added"
    )
    missing = by_host["web-003"].findings[0]
    assert missing.kind == "missing" and "(present on the baseline)" in missing.explanation
    changed = by_host["web-004"].findings[0]
    assert changed.kind == "changed" and changed.changed_columns == ("sha256",)
    assert changed.reference_row["sha256"] == "a" * 64
    assert "/usr/bin/ps: sha256 differs from the baseline" in changed.explanation
    # pids and counters differ on every host and are never reported
    assert all(not h.findings for h in analysis.hosts if h.host not in ("web-002", "web-003", "web-004"))


def test_half_the_fleet_on_a_newer_package_is_a_population_difference(tmp_path):
    hosts = clean_fleet(20)
    for i, rows in enumerate(hosts.values()):
        if i % 2:
            rows["deb_packages"][0]["version"] = "3.0.13-1"
    hosts["web-005"]["users"].append(BACKDOOR_USER)
    run, base = _fleet_and_baseline(tmp_path, hosts)
    analysis = analyze([run], baseline=base)
    assert [h.host for h in analysis.hosts if h.outlier] == ["web-005"]
    assert len(analysis.population_differences) == 1
    diff = analysis.population_differences[0]
    assert diff.kind == "changed" and diff.hosts == 10 and diff.hosts_compared == 20
    assert "package openssl: version differs from the baseline" in diff.explanation
    assert "on 10 of 20 hosts" in diff.explanation
    doc = analysis.to_json()
    assert doc["population_differences"][0]["hosts"] == 10


def test_named_baseline_resolves_under_the_results_root(tmp_path):
    hosts = clean_fleet(5)
    hosts["web-001"]["users"].append(BACKDOOR_USER)
    run, base = _fleet_and_baseline(tmp_path, hosts)
    root = tmp_path / "results"
    named = root / "baselines" / "app_x" / "golden"
    named.parent.mkdir(parents=True)
    shutil.copytree(base.parents[1], named)  # the one-host run directory
    analysis = analyze([run], baseline="golden", results_root=root)  # app comes from the manifest
    assert analysis.baseline == "golden"
    assert [h.host for h in analysis.hosts if h.outlier] == ["web-001"]
    with pytest.raises(BaselineError, match="no baseline named 'silver' for app 'app_x'"):
        analyze([run], baseline="silver", results_root=root)
    with pytest.raises(BaselineError, match="bad baseline app"):
        analyze([run], baseline="golden", results_root=root, app="../etc")


def test_a_baseline_must_be_one_host(tmp_path):
    run = build_run(tmp_path, clean_fleet(3))
    with pytest.raises(BaselineError, match="3 usable hosts"):
        analyze([run], baseline=run)


def test_method_and_baseline_must_agree(tmp_path):
    run = build_run(tmp_path, clean_fleet(3))
    with pytest.raises(UsageError, match="needs a baseline"):
        analyze([run], method="baseline")
    with pytest.raises(UsageError, match="drop one"):
        analyze([run], method="peers", baseline=run / "hosts" / "web-001")


def test_queries_not_collected_are_gaps_not_differences(tmp_path):
    hosts = clean_fleet(4)
    del hosts["web-002"]["iptables"]
    run = build_run(tmp_path / "fleet", hosts, query_status={"web-002": {"iptables": "timeout"}})
    base = build_run(tmp_path / "base", clean_fleet(1, prefix="base-"), run_id="20261129T090000Z-base01")
    analysis = analyze([run], baseline=base / "hosts" / "base-001")
    web2 = next(h for h in analysis.hosts if h.host == "web-002")
    assert not web2.outlier and not web2.findings
    assert [(g.query, g.status) for g in web2.gaps] == [("iptables", "timeout")]


def test_generated_fleet_against_its_clean_baseline(tmp_path):
    from diffy_fleetgen import FleetOptions, evidence_matches, generate_fleet

    truth = generate_fleet(tmp_path, FleetOptions(hosts=60, seed=5)).truth()
    analysis = analyze([truth.run_dir], baseline=truth.baseline_dir)
    flagged = {h.host_id for h in analysis.hosts if h.outlier}
    assert flagged == truth.compromised_hosts
    assert analysis.population_differences  # the rolling deploy, the canary sidecar, ...
    # the baseline's own random RPC ports are weak and listed last, not first
    assert "rpc.statd" not in analysis.population_differences[0].explanation
    assert any("weak evidence" in p.explanation for p in analysis.population_differences)
    by_id = {h.host_id: h for h in analysis.hosts}
    for host_id, artifacts in truth.compromised.items():
        top = by_id[host_id].findings[:3]
        for artifact in artifacts:
            assert any(
                evidence_matches(ev, f.query, f.row) or evidence_matches(ev, f.query, f.reference_row or {})
                for ev in artifact["evidence"]
                for f in top
            ), (host_id, artifact["artifact"])
