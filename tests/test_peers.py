"""The peers method: clusters are populations, outliers are rare rows, noise is weak."""

from __future__ import annotations

import json

from runbuilder import build_run, clean_fleet

from diffy_analysis.analyze.peers import MappingPrevalence
from diffy_analysis.api import analyze
from diffy_analysis.normalize import row_fingerprint
from diffy_fleetgen import FleetOptions, evidence_matches, generate_fleet

BIND_SHELL = {
    "protocol": "6",
    "family": "2",
    "address": "0.0.0.0",
    "port": "4444",
    "pid": "31337",
    "fd": "3",
    "socket": "777",
    "name": "nc",
    "path": "/usr/bin/nc",
    "cmdline": "nc -lvp 4444 -e /bin/sh",
    "uid": "0",
}


def _outliers(analysis):
    return [h.host for h in analysis.hosts if h.outlier]


def test_clean_fleet_has_no_outliers(tmp_path):
    analysis = analyze([build_run(tmp_path, clean_fleet(30))])
    assert _outliers(analysis) == []
    assert analysis.exit_code == 0
    assert analysis.settings["distinct_profiles"] == 1


def test_bind_shell_host_is_the_outlier_with_prevalence(tmp_path):
    hosts = clean_fleet(30)
    hosts["web-007"]["listening_ports"].append(BIND_SHELL)
    analysis = analyze([build_run(tmp_path, hosts)])
    assert _outliers(analysis) == ["web-007"]
    top = analysis.hosts[0]
    assert top.host == "web-007"
    finding = top.findings[0]
    assert finding.kind == "added" and finding.query == "listening_ports"
    assert finding.row["pid"] == "31337"  # the raw row, as collected
    assert "listens on tcp 0.0.0.0:4444 (process nc, /usr/bin/nc); on 1 of 30 hosts" in finding.explanation
    assert finding.hosts_with_row == 1 and finding.hosts_compared == 30
    assert analysis.exit_code == 1


def test_missing_firewall_rule_and_replaced_binary(tmp_path):
    hosts = clean_fleet(25)
    hosts["web-003"]["iptables"] = []
    hosts["web-009"]["system_binaries"][0]["sha256"] = "b" * 64
    analysis = analyze([build_run(tmp_path, hosts)])
    assert sorted(_outliers(analysis)) == ["web-003", "web-009"]
    by_host = {h.host: h for h in analysis.hosts}
    rule = by_host["web-003"].findings[0]
    assert rule.kind == "missing"
    assert "iptables rule INPUT DROP tcp dport 23 is missing; present on 24 of 24 peers" in rule.explanation
    binary = by_host["web-009"].findings[0]
    assert binary.kind == "changed" and binary.changed_columns == ("sha256",)
    assert "/usr/bin/ps: sha256 differs from 24 of 24 peers" in binary.explanation


def test_two_legitimate_populations_are_not_flagged(tmp_path):
    hosts = clean_fleet(40)
    for i, rows in enumerate(hosts.values()):
        if i % 2:
            rows["deb_packages"][0]["version"] = "3.0.13-1"
            rows["users"].append(
                {
                    "uid": "998",
                    "gid": "998",
                    "username": "envoy",
                    "description": "",
                    "directory": "/nonexistent",
                    "shell": "/usr/sbin/nologin",
                }
            )
    hosts["web-011"]["users"].append(
        {
            "uid": "0",
            "gid": "0",
            "username": "backup2",
            "description": "",
            "directory": "/root",
            "shell": "/bin/bash",
        }
    )
    analysis = analyze([build_run(tmp_path, hosts)])
    assert _outliers(analysis) == ["web-011"]
    assert [c.size for c in analysis.clusters] == [20, 20]
    assert "user `backup2` with uid 0 and shell /bin/bash (uid 0: root privileges); on 1 of 40 hosts" in (
        analysis.hosts[0].findings[0].explanation
    )
    assert analysis.dendrogram is not None and len(analysis.dendrogram.labels) == 2
    assert analysis.dendrogram.labels[0].endswith("(+19 alike)")


def test_a_random_port_per_host_is_weak_and_flags_nobody(tmp_path):
    hosts = clean_fleet(30)
    for i, rows in enumerate(hosts.values()):
        rows["listening_ports"].append(
            {
                **rows["listening_ports"][0],
                "port": str(32768 + i * 7),
                "name": "rpc.statd",
                "path": "/usr/sbin/rpc.statd",
                "cmdline": "/sbin/rpc.statd",
            }
        )
    analysis = analyze([build_run(tmp_path, hosts)])
    assert _outliers(analysis) == []
    finding = analysis.hosts[0].findings[0]
    assert finding.strength == "weak"
    assert "weak evidence: port differs on almost every host" in finding.explanation


def test_results_are_deterministic(tmp_path):
    hosts = clean_fleet(20)
    hosts["web-004"]["listening_ports"].append(BIND_SHELL)
    run = build_run(tmp_path, hosts)
    first = json.dumps(analyze([run]).to_json(), sort_keys=True)
    assert first == json.dumps(analyze([run]).to_json(), sort_keys=True)


def test_external_prevalence_is_used_for_fleet_counts(tmp_path):
    hosts = clean_fleet(10)
    hosts["web-002"]["listening_ports"].append(BIND_SHELL)
    normalized = {k: v for k, v in BIND_SHELL.items() if k not in ("pid", "fd", "socket")}
    counts = {row_fingerprint("listening_ports", normalized): 3}
    analysis = analyze([build_run(tmp_path, hosts)], prevalence=MappingPrevalence(5000, counts))
    finding = analysis.hosts[0].findings[0]
    assert (finding.hosts_with_row, finding.hosts_compared) == (3, 5000)
    assert "on 3 of 5000 hosts" in finding.explanation
    assert analysis.settings["external_prevalence_hosts"] == 5000


def test_generated_fleet_detections_on_a_fixed_seed(tmp_path):
    fleet = generate_fleet(tmp_path, FleetOptions(hosts=60, seed=3))
    truth = fleet.truth()
    analysis = analyze([truth.run_dir])
    flagged = {h.host_id for h in analysis.hosts if h.outlier}
    assert flagged == truth.compromised_hosts
    assert not flagged & truth.benign_population_hosts()
    by_id = {h.host_id: h for h in analysis.hosts}
    for host_id, artifacts in truth.compromised.items():
        top = by_id[host_id].findings[:3]
        for artifact in artifacts:
            assert any(
                evidence_matches(ev, f.query, f.row) or evidence_matches(ev, f.query, f.reference_row or {})
                for ev in artifact["evidence"]
                for f in top
            ), (host_id, artifact["artifact"])


def test_too_many_profiles_fall_back_to_clustering_the_most_common(tmp_path):
    from diffy_analysis.normalize import load_config

    hosts = clean_fleet(40)
    for i, rows in enumerate(hosts.values()):
        rows["deb_packages"][0]["version"] = f"3.0.{i % 2}"  # two versions x two sizes: 4 x 10 hosts
        rows["systemd_units"][0]["description"] = f"Falcon ({(i // 2) % 2})"
    config = tmp_path / "c.toml"
    config.write_text("[thresholds]\nmax_profiles = 2\n")
    analysis = analyze([build_run(tmp_path, hosts)], config=load_config(config))
    settings = analysis.settings
    # first the support threshold is doubled (4 -> 16 hosts), then the 2 most common profiles are
    # clustered and the other two join their most similar one
    assert settings["cluster_features_min_hosts"] == 16
    assert settings["clustered_profiles"] == 4
    assert "fallback" in settings
    assert len(analysis.dendrogram.labels) == 2
    assert sum(c.size for c in analysis.clusters) == 40
    assert _outliers(analysis) == []
