"""The fifth held-out lab set's pure parts (no lab): scenario plans, evidence, ports, scripts."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.labfleets import (
    attacks,
    attacks_v2,
    attacks_v3,
    attacks_v4,
    attacks_v5,
    fleet_v5,
    noise,
    noise_v2,
    noise_v3,
    noise_v4,
    noise_v5,
)
from benchmarks.labfleets.build import main as build_main
from benchmarks.labfleets.scenarios import SCENARIOS
from benchmarks.labfleets.scenarios_v2 import SCENARIOS_V2
from benchmarks.labfleets.scenarios_v3 import SCENARIOS_V3
from benchmarks.labfleets.scenarios_v4 import SCENARIOS_V4
from benchmarks.labfleets.scenarios_v5 import (
    HELD_OUT_V5,
    ONE_OFF,
    SCENARIOS_V5,
    UNIVERSAL,
    HostPlanV5,
    plan_v5,
)


@pytest.mark.parametrize("name", sorted(SCENARIOS_V5))
def test_plan_matches_the_scenario(name):
    scenario = SCENARIOS_V5[name]
    hosts = plan_v5(scenario)
    assert [h.index for h in hosts] == list(range(scenario.hosts))
    assert sum(h.release == 2 for h in hosts) == scenario.rollout
    assert sum(h.ops for h in hosts) == scenario.ops
    assert sum(h.hardened for h in hosts) == scenario.hardened
    assert sum(bool(h.attacks) for h in hosts) == len(scenario.attacks)
    for kind, count in scenario.one_off:
        assert kind in ONE_OFF
        assert sum(kind in h.one_off for h in hosts) == count
    for h in hosts:
        assert h.noise[: len(UNIVERSAL)] == UNIVERSAL
    (base,) = [h for h in hosts if h.baseline]
    # The baseline is a quiet member of the majority population.
    assert (base.release, base.ops, base.hardened, base.attacks, base.one_off) == (1, False, False, (), [])
    assert plan_v5(scenario) == hosts  # seeded: the same plan every time


def test_v5_scenarios_cover_the_brief():
    assert all(n.startswith("v5-") for n in HELD_OUT_V5) and len(HELD_OUT_V5) == 7
    earlier = set(SCENARIOS) | set(SCENARIOS_V2) | set(SCENARIOS_V3) | set(SCENARIOS_V4)
    assert not set(HELD_OUT_V5) & earlier
    assert 90 <= sum(s.hosts for s in SCENARIOS_V5.values()) <= 110
    assert len({s.seed for s in SCENARIOS_V5.values()}) == len(SCENARIOS_V5)
    share = sorted(len(s.attacks) / s.hosts for s in SCENARIOS_V5.values() if s.campaign)
    assert share == [0.15, 1 / 3]  # 3 of 20, 2 of 6
    clean = [s for s in SCENARIOS_V5.values() if not s.attacks]
    assert len(clean) == 2 and all(s.rollout and s.ops and s.hardened for s in clean)
    used = {a.artifact for s in SCENARIOS_V5.values() for hs in s.attacks for a in hs}
    assert used == set(attacks_v5.PROCEDURES)
    drawn = {k for s in SCENARIOS_V5.values() for k, _ in s.one_off}
    assert drawn == set(ONE_OFF)


def test_minority_fleet_attacks_the_ops_population():
    hosts = plan_v5(SCENARIOS_V5["v5-minority-12"])
    (victim,) = [h for h in hosts if h.attacks]
    assert victim.ops and sum(h.ops for h in hosts) == 3


def test_campaign_hosts_share_one_attack_set():
    for s in SCENARIOS_V5.values():
        if s.campaign:
            assert all(hs == s.attacks[0] for hs in s.attacks), s.name


def test_attack_procedures_and_noise_kinds_are_new():
    earlier = (
        set(attacks.PROCEDURES)
        | set(attacks_v2.PROCEDURES)
        | set(attacks_v3.PROCEDURES)
        | set(attacks_v4.PROCEDURES)
    )
    assert not set(attacks_v5.PROCEDURES) & earlier
    assert set(attacks_v5.PROCEDURES) >= attacks_v5.CONNECTING
    functions = {n for m in (noise, noise_v2, noise_v3, noise_v4) for n in dir(m) if not n.startswith("_")}
    kinds = {"ops_access", "net_hardening", *ONE_OFF}
    assert all(callable(getattr(noise_v5, k)) for k in kinds)
    assert not kinds & functions


def test_every_attack_returns_evidence(monkeypatch):
    """Each procedure (its shell run captured, not executed) names evidence rows of real pack
    queries with string values; every script it would run parses as /bin/sh."""
    scripts: list[str] = []
    monkeypatch.setattr(attacks_v5, "sh", lambda host, script, **kw: scripts.append(script) or "ab" * 32)
    monkeypatch.setattr(
        attacks_v5, "spawn", lambda host, command, **kw: scripts.append(f"nohup {command} </dev/null &")
    )
    monkeypatch.setattr(attacks_v5, "c2_address", lambda lab: "10.213.160.1")
    pack = json.loads(
        (Path(__file__).resolve().parents[1] / "roles/diffy_collect/files/packs/linux-dfir.json").read_text()
    )
    for s in SCENARIOS_V5.values():
        for attack in (a for hs in s.attacks for a in hs):
            evidence = attacks_v5.apply(object(), object(), attack)
            assert evidence, attack
            for ev in evidence:
                assert ev["query"] in pack["queries"], ev
                assert ev["kind"] == "added"
                assert ev["match"] and all(isinstance(v, str) for v in ev["match"].values()), ev
    for script in scripts:
        check = subprocess.run(["sh", "-n", "-c", script], capture_output=True, text=True, timeout=10)
        assert check.returncode == 0, (script, check.stderr)
    beacon = attacks_v5.kthread_beacon(object(), object())
    assert beacon[0]["match"]["cmdline"] == "[kworker/u8:3]"
    assert beacon[1]["match"]["remote_port"] == str(attacks_v5.BEACON_PORT)


def test_c_sources_compile(tmp_path):
    """The three C programs the procedures build on the hosts compile here (gcc, as on the hosts)."""
    for name, source, flags in (
        ("beacon", attacks_v5.BEACON_C, []),
        ("suid", attacks_v5.SUID_C, []),
        ("lib.so", attacks_v5.LIB_C, ["-shared", "-fPIC"]),
    ):
        src = tmp_path / f"{name}.c"
        src.write_text(source)
        out = subprocess.run(
            ["gcc", *flags, "-o", str(tmp_path / name), str(src)], capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, (name, out.stderr)


def test_noise_scripts_parse(monkeypatch):
    scripts: list[str] = []
    monkeypatch.setattr(noise_v5, "sh", lambda host, script, **kw: scripts.append(script) or "123")
    monkeypatch.setattr(noise_v5, "spawn", lambda host, command, **kw: scripts.append(f"nohup {command} &"))

    class Host:
        name, address = "app-x-1", "10.213.160.11"

    rng = random.Random(1)
    noise_v5.image_v5(Host(), rng)
    noise_v5.ops_access(Host(), "ssh-ed25519 AAAA ops")
    noise_v5.net_hardening(Host())
    noise_v5.support_key(Host(), "ssh-ed25519 AAAA vendor", "10.213.160.0/24")
    noise_v5.profiling_sidecar(Host())
    noise_v5.stuck_backup(Host(), rng)
    noise_v5.adhoc_fileshare(Host(), rng)
    for script in scripts:
        check = subprocess.run(["sh", "-n", "-c", script], capture_output=True, text=True, timeout=10)
        assert check.returncode == 0, (script, check.stderr)
    assert any('expiry-time="20261231"' in s for s in scripts)
    assert any("--pid 123 " in s for s in scripts)


def test_expected_ports_follow_the_plan():
    p = HostPlanV5(index=0, release=2, one_off=["adhoc_fileshare"])
    ports, count = fleet_v5.expected_ports(p)
    assert ports == {22, 8080, 9102, noise_v5.FILESHARE_PORT} and count == len(ports) + 2
    assert fleet_v5.expected_ports(HostPlanV5(index=0))[0] == {22, 8080}


def test_build_lists_the_v5_scenarios(capsys):
    assert build_main(["--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in HELD_OUT_V5)
