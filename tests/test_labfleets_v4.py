"""The fourth held-out lab set's pure parts (no lab): scenario plans, evidence, ports, packages."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.labfleets import attacks, attacks_v2, attacks_v3, attacks_v4, fleet_v4, noise_v4
from benchmarks.labfleets.build import main as build_main
from benchmarks.labfleets.scenarios import SCENARIOS
from benchmarks.labfleets.scenarios_v2 import SCENARIOS_V2
from benchmarks.labfleets.scenarios_v3 import SCENARIOS_V3
from benchmarks.labfleets.scenarios_v4 import HELD_OUT_V4, SCENARIOS_V4, UNIVERSAL, HostPlanV4, plan_v4


@pytest.mark.parametrize("name", sorted(SCENARIOS_V4))
def test_plan_matches_the_scenario(name):
    scenario = SCENARIOS_V4[name]
    hosts = plan_v4(scenario)
    assert [h.index for h in hosts] == list(range(scenario.hosts))
    assert sum(h.release == "rollout" for h in hosts) == scenario.rollout
    assert sum(h.release == "canary" for h in hosts) == scenario.canary
    assert sum(h.keypair_new for h in hosts) == scenario.keypair_new
    assert sum(h.efs for h in hosts) == scenario.efs
    assert sum(bool(h.attacks) for h in hosts) == len(scenario.attacks)
    for h in hosts:
        assert h.noise[: len(UNIVERSAL)] == UNIVERSAL
        ports = [
            a.params.get("port", attacks_v4.LISTEN_PORT)
            for a in h.attacks
            if a.artifact == "deleted_listener"
        ]
        if h.efs:  # the tunnel's port is in efs-utils' range and never an implant's
            assert noise_v4.EFS_PORTS[0] <= h.efs_port < noise_v4.EFS_PORTS[1]
            assert h.efs_port not in ports
    (base,) = [h for h in hosts if h.baseline]
    # The baseline is a quiet member of the majority population.
    assert (base.release, base.keypair_new, base.efs, base.attacks) == ("base", False, False, ())
    assert not (base.pending_restart or base.cron_mail or base.admin_traces)
    assert plan_v4(scenario) == hosts  # seeded: the same plan every time


def test_v4_scenarios_cover_the_brief():
    assert all(n.startswith("v4-") for n in HELD_OUT_V4) and len(HELD_OUT_V4) == 8
    assert not set(HELD_OUT_V4) & (set(SCENARIOS) | set(SCENARIOS_V2) | set(SCENARIOS_V3))
    assert sum(s.hosts for s in SCENARIOS_V4.values()) <= 150
    assert {s.hosts for s in SCENARIOS_V4.values()} == {4, 6, 12, 30}
    assert len({s.seed for s in SCENARIOS_V4.values()}) == len(SCENARIOS_V4)
    share = sorted(len(s.attacks) / s.hosts for s in SCENARIOS_V4.values() if s.campaign)
    assert share == [0.1, 0.2, 1 / 3]  # 3 of 30, 6 of 30, 2 of 6
    clean = [s for s in SCENARIOS_V4.values() if not s.attacks]
    assert len(clean) == 2 and all(s.rollout and s.keypair_new and s.efs for s in clean)
    minority = [s for s in SCENARIOS_V4.values() if s.attack_in]
    assert len(minority) == 1
    used = {a.artifact for s in SCENARIOS_V4.values() for hs in s.attacks for a in hs}
    assert used == set(attacks_v4.PROCEDURES)


def test_minority_fleet_attacks_the_ingest_role():
    hosts = plan_v4(SCENARIOS_V4["v4-minority-12"])
    (victim,) = [h for h in hosts if h.attacks]
    assert victim.efs and sum(h.efs for h in hosts) == 3


def test_campaign_hosts_share_one_attack_set():
    for s in SCENARIOS_V4.values():
        if s.campaign:
            assert all(hs == s.attacks[0] for hs in s.attacks), s.name


def test_attack_procedures_are_new():
    earlier = set(attacks.PROCEDURES) | set(attacks_v2.PROCEDURES) | set(attacks_v3.PROCEDURES)
    assert not set(attacks_v4.PROCEDURES) & earlier
    assert set(attacks_v4.PROCEDURES) >= attacks_v4.LISTENING


def test_every_attack_returns_evidence(monkeypatch, tmp_path):
    """Each procedure (its shell run captured, not executed) names evidence rows of real pack
    queries with string values; every script it would run parses as /bin/sh."""
    scripts: list[str] = []
    monkeypatch.setattr(attacks_v4, "sh", lambda host, script, **kw: scripts.append(script) or "ab" * 32)
    monkeypatch.setattr(
        attacks_v4, "spawn", lambda host, command, **kw: scripts.append(f"nohup {command} </dev/null &")
    )
    monkeypatch.setattr(attacks_v4, "wait_listening", lambda host, ports, count: None)
    key = tmp_path / "attacker"
    key.with_suffix(".pub").write_text("ssh-ed25519 AAAAC3Nza attacker@lab\n")

    class Lab:
        attacker_key = key

    pack = json.loads(
        (Path(__file__).resolve().parents[1] / "roles/diffy_collect/files/packs/linux-dfir.json").read_text()
    )
    for s in SCENARIOS_V4.values():
        for attack in (a for hs in s.attacks for a in hs):
            evidence = attacks_v4.apply(Lab(), object(), attack)
            assert evidence, attack
            for ev in evidence:
                assert ev["query"] in pack["queries"], ev
                assert ev["kind"] == "added"
                assert ev["match"] and all(isinstance(v, str) for v in ev["match"].values()), ev
    for script in scripts:
        check = subprocess.run(["sh", "-n", "-c", script], capture_output=True, text=True, timeout=10)
        assert check.returncode == 0, (script, check.stderr)
    assert attacks_v4.sudo_caching(Lab(), object())[0]["match"]["rule_details"] == "timestamp_timeout=-1"


def test_noise_scripts_parse(monkeypatch):
    scripts: list[str] = []
    monkeypatch.setattr(noise_v4, "sh", lambda host, script, **kw: scripts.append(script) or "")
    monkeypatch.setattr(noise_v4, "spawn", lambda host, command, **kw: scripts.append(f"nohup {command} &"))
    monkeypatch.setattr(noise_v4, "_kill_exact", lambda host, command: None)
    monkeypatch.setattr(noise_v4, "check_private_v4", lambda host: None)

    class Host:
        name, address = "app-x-1", "10.213.150.11"

    keys = {False: "ssh-ed25519 AAAA old", True: "ssh-ed25519 AAAA new"}
    for kind in noise_v4.RELEASES:
        noise_v4.image_v4(Host(), kind == "rollout", keys)
        noise_v4.deploy_v4(Host(), kind)
    noise_v4.ssm_agent(Host(), True)
    noise_v4.pending_restart(Host())
    noise_v4.cron_mail(Host(), random.Random(1))
    noise_v4.admin_traces(Host(), random.Random(1))
    noise_v4.efs_mount(Host(), 20100)
    for script in scripts:
        check = subprocess.run(["sh", "-n", "-c", script], capture_output=True, text=True, timeout=10)
        assert check.returncode == 0, (script, check.stderr)
    assert any("--debug-listen 127.0.0.1:5678" in s for s in scripts)


def test_expected_ports_follow_the_plan():
    p = HostPlanV4(
        index=0, release="canary", efs=True, efs_port=20100, attacks=(attacks.Attack("deleted_listener"),)
    )
    ports, count = fleet_v4.expected_ports(p)
    assert ports == {22, 8080, 8558, 9464, 5678, 20100, 10050} and count == len(ports)
    assert fleet_v4.expected_ports(HostPlanV4(index=0))[0] == {22, 8080, 8558}


def test_packages_follow_the_plan():
    text = noise_v4.packages(noise_v4.RELEASES["canary"], True)
    stanzas = [dict(line.split(": ", 1) for line in s.splitlines()) for s in text.split("\n\n")]
    assert {s["Package"]: s["Version"] for s in stanzas} == {
        "app-x": "3.2.0~rc1-1",
        "amazon-ssm-agent": "3.3.1142.0-1",
    }


def test_build_lists_the_v4_scenarios(capsys):
    assert build_main(["--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in HELD_OUT_V4)
