"""The third held-out lab set's pure parts (no lab): scenario plans, evidence, ports, the evidence check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.labfleets import attacks, attacks_v2, attacks_v3, fleet_v3, noise_v3
from benchmarks.labfleets.build import main as build_main
from benchmarks.labfleets.scenarios import SCENARIOS
from benchmarks.labfleets.scenarios_v2 import SCENARIOS_V2
from benchmarks.labfleets.scenarios_v3 import HELD_OUT_V3, SCENARIOS_V3, UNIVERSAL, HostPlanV3, plan_v3
from diffy_analysis.errors import LabError


@pytest.mark.parametrize("name", sorted(SCENARIOS_V3))
def test_plan_matches_the_scenario(name):
    scenario = SCENARIOS_V3[name]
    hosts = plan_v3(scenario)
    assert [h.index for h in hosts] == list(range(scenario.hosts))
    assert sum(h.hardware == "i4i" for h in hosts) == scenario.storage
    assert sum(h.cm_applied for h in hosts) == scenario.cm_applied
    assert sum(bool(h.attacks) for h in hosts) == len(scenario.attacks)
    assert {h.az for h in hosts} == set(noise_v3.AZS)  # every fleet spans three zones
    for h in hosts:
        low, high = noise_v3.POOL[h.hardware]
        assert low <= h.workers <= high
        assert h.noise[:3] == UNIVERSAL
    (base,) = [h for h in hosts if h.baseline]
    # The baseline is a quiet member of the majority population: only the universal noise.
    assert (base.hardware, base.cm_applied, base.sidecar, base.attacks) == ("standard", False, False, ())
    assert base.noise == UNIVERSAL
    assert plan_v3(scenario) == hosts  # seeded: the same plan every time


def test_v3_scenarios_cover_the_brief():
    assert all(n.startswith("v3-") for n in HELD_OUT_V3) and 8 <= len(HELD_OUT_V3) <= 10
    assert not set(HELD_OUT_V3) & (set(SCENARIOS) | set(SCENARIOS_V2))
    sizes = [s.hosts for s in SCENARIOS_V3.values()]
    assert min(sizes) == 5 and max(sizes) == 40
    assert len({s.seed for s in SCENARIOS_V3.values()}) == len(SCENARIOS_V3)
    singles = {s.hosts for s in SCENARIOS_V3.values() if len(s.attacks) == 1 and not s.attack_in_storage}
    assert {6, 15, 40} <= singles
    share = {n: len(s.attacks) / s.hosts for n, s in SCENARIOS_V3.items() if s.campaign}
    assert sorted(share.values()) == [0.15, 0.25, 0.4]  # 2 of 5 hosts, 15 %, 25 %
    assert min(len(s.attacks) for s in SCENARIOS_V3.values() if s.campaign) == 2
    clean = [s for s in SCENARIOS_V3.values() if not s.attacks]
    assert len(clean) == 2
    assert any(s.storage and not s.cm_applied for s in clean)  # a benign sub-population
    assert any(s.cm_applied == s.hosts // 2 for s in clean)  # mid-rollout
    used = {a.artifact for s in SCENARIOS_V3.values() for hs in s.attacks for a in hs}
    assert used == set(attacks_v3.PROCEDURES)


def test_minority_fleet_attacks_the_storage_type():
    hosts = plan_v3(SCENARIOS_V3["v3-minority-12"])
    (victim,) = [h for h in hosts if h.attacks]
    assert victim.hardware == "i4i" and sum(h.hardware == "i4i" for h in hosts) == 3


def test_campaign_hosts_share_one_attack_set():
    for s in SCENARIOS_V3.values():
        if s.campaign:
            assert all(hs == s.attacks[0] for hs in s.attacks), s.name


def test_attack_procedures_are_new():
    assert not set(attacks_v3.PROCEDURES) & (set(attacks.PROCEDURES) | set(attacks_v2.PROCEDURES))
    assert set(attacks_v3.PROCEDURES) >= attacks_v3.LISTENING


class _FakeLab:
    class config:
        subnet = "10.213.112.0/24"


def test_every_attack_returns_evidence(monkeypatch, tmp_path):
    """Each procedure (its shell run captured, not executed) names evidence rows of real pack
    queries, with string values, and kind added or missing."""
    scripts: list[str] = []
    monkeypatch.setattr(attacks_v3, "sh", lambda host, script, **kw: scripts.append(script) or "ab" * 32)
    # spawn runs `nohup COMMAND ... &` in a shell: check it as that script
    monkeypatch.setattr(
        attacks_v3, "spawn", lambda host, command, **kw: scripts.append(f"nohup {command} </dev/null &")
    )
    monkeypatch.setattr(attacks_v3, "check_private", lambda host: None)
    key = tmp_path / "attacker"
    key.with_suffix(".pub").write_text("ssh-ed25519 AAAAC3Nza attacker@lab\n")
    lab = _FakeLab()
    lab.attacker_key = key
    pack = json.loads(
        (Path(__file__).resolve().parents[1] / "roles/diffy_collect/files/packs/linux-dfir.json").read_text()
    )
    for s in SCENARIOS_V3.values():
        for attack in (a for hs in s.attacks for a in hs):
            evidence = attacks_v3.apply(lab, object(), attack)
            assert evidence, attack
            for ev in evidence:
                assert ev["query"] in pack["queries"], ev
                assert ev["kind"] in {"added", "missing"}
                assert ev["match"] and all(isinstance(v, str) for v in ev["match"].values()), ev
    for script in scripts:  # every script the procedures would run parses as /bin/sh
        check = subprocess.run(["sh", "-n", "-c", script], capture_output=True, text=True, timeout=10)
        assert check.returncode == 0, (script, check.stderr)
    opened = attacks_v3.firewall_opened(lab, object())
    assert opened[1] == {
        "query": "firewall_rules",
        "kind": "missing",
        "match": {"chain": "input", "rule": noise_v3.ssh_restrict_rule("10.213.112.1")},
    }
    assert noise_v3.ssh_restrict_rule("10.213.112.1") in noise_v3.firewall_rules("10.213.112.1")


def test_expected_ports_follow_the_plan():
    p = HostPlanV3(index=0, sidecar=True, attacks=(attacks.Attack("masquerade_listener", {"port": 6001}),))
    ports, count = fleet_v3.expected_ports(p)
    assert ports == {22, 8080, 8000, 9100, 2020, 6001}
    assert count == len(ports) + 2  # the two queue workers' ephemeral ports


def test_packages_follow_the_plan():
    text = fleet_v3.packages(HostPlanV3(index=0, cm_applied=True, sidecar=True))
    stanzas = [dict(line.split(": ", 1) for line in s.splitlines()) for s in text.split("\n\n")]
    versions = {s["Package"]: s["Version"] for s in stanzas}
    assert versions == {"app-x": "1.4.2-1", "prometheus-node-exporter": "1.7.0-1", "fluent-bit": "3.0.7"}
    assert "fluent-bit" not in fleet_v3.packages(HostPlanV3(index=0))


def _host(run: Path, host: str, query: str, rows: list[dict]) -> None:
    (run / "hosts" / host).mkdir(parents=True, exist_ok=True)
    (run / "hosts" / host / f"{query}.json").write_text(json.dumps(rows))


def test_evidence_check_handles_added_and_missing(tmp_path):
    run, base = tmp_path / "run", tmp_path / "base"
    rule = {"chain": "input", "rule": "tcp dport 22 ip saddr != 10.0.0.1 drop"}
    opened = {"chain": "input", "rule": "tcp dport 5355 accept"}
    _host(run, "bad", "firewall_rules", [opened])
    _host(run, "ok", "firewall_rules", [rule])
    _host(base, "b", "firewall_rules", [rule])
    evidence = [
        {"query": "firewall_rules", "kind": "added", "match": opened},
        {"query": "firewall_rules", "kind": "missing", "match": rule},
    ]
    compromised = {"bad": [{"evidence": evidence}]}
    fleet_v3.check_evidence_v3(run, compromised, ["bad", "ok"], (base, "b"))
    _host(run, "bad", "firewall_rules", [opened, rule])  # the rule was not deleted after all
    with pytest.raises(LabError, match="still matches"):
        fleet_v3.check_evidence_v3(run, compromised, ["bad", "ok"], (base, "b"))
    _host(run, "bad", "firewall_rules", [opened])
    _host(run, "ok", "firewall_rules", [rule, opened])  # a clean host has the attacker's rule
    with pytest.raises(LabError, match="also matches clean host ok"):
        fleet_v3.check_evidence_v3(run, compromised, ["bad", "ok"], (base, "b"))


def test_build_lists_the_v3_scenarios(capsys):
    assert build_main(["--list"]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines()}
    assert set(HELD_OUT_V3) <= listed
