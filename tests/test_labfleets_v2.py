"""The second held-out lab set's pure parts (no lab): scenario plans, versions, expected ports."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.labfleets import attacks_v2, fleet_v2, noise_v2
from benchmarks.labfleets.scenarios import SCENARIOS
from benchmarks.labfleets.scenarios_v2 import HELD_OUT_V2, SCENARIOS_V2, HostPlanV2, plan_v2


@pytest.mark.parametrize("name", sorted(SCENARIOS_V2))
def test_plan_matches_the_scenario(name):
    scenario = SCENARIOS_V2[name]
    hosts = plan_v2(scenario)
    assert [h.index for h in hosts] == list(range(scenario.hosts))
    assert sum(h.size == "large" for h in hosts) == scenario.large
    assert sum(h.version == 2 for h in hosts) == scenario.v2
    assert sum(h.canary for h in hosts) == scenario.canary
    assert not any(h.canary and h.version == 2 for h in hosts)
    assert sum(h.coordinator for h in hosts) == scenario.coordinators
    assert sum(bool(h.attacks) for h in hosts) == len(scenario.attacks)
    (base,) = [h for h in hosts if h.baseline]
    # The baseline is a quiet member of the majority population: only the universal noise.
    assert (base.size, base.version, base.canary, base.coordinator, base.attacks) == (
        "small",
        1,
        False,
        False,
        (),
    )
    assert base.noise == ["cloud_init_etc_hosts", "log_sizes"]
    assert plan_v2(scenario) == hosts  # seeded: the same plan every time


def test_v2_scenarios_cover_the_brief():
    assert all(n.startswith("v2-") for n in HELD_OUT_V2)
    assert not set(HELD_OUT_V2) & set(SCENARIOS)  # the first set is kept as it was
    sizes = {SCENARIOS_V2[n].hosts for n in HELD_OUT_V2}
    assert {4, 6, 12, 30, 40} <= sizes
    share = {n: len(s.attacks) / s.hosts for n, s in SCENARIOS_V2.items() if s.campaign}
    assert share == {
        "v2-campaign2-6": 2 / 6,
        "v2-campaign5-40": 0.05,
        "v2-campaign10-30": 0.1,
        "v2-campaign20-30": 0.2,
    }
    clean = [s for s in SCENARIOS_V2.values() if not s.attacks]
    assert any(s.canary for s in clean) and any(s.v2 and s.large for s in clean)
    known = set(attacks_v2.PROCEDURES)
    assert {a.artifact for s in SCENARIOS_V2.values() for hs in s.attacks for a in hs} == known


def test_minority_fleet_attacks_a_canary():
    hosts = plan_v2(SCENARIOS_V2["v2-minority-12"])
    (victim,) = [h for h in hosts if h.attacks]
    assert victim.canary and sum(h.canary for h in hosts) == 3


def test_new_attack_procedures_are_not_the_first_sets():
    from benchmarks.labfleets import attacks

    assert not set(attacks_v2.PROCEDURES) & set(attacks.PROCEDURES)


def test_security_revision_bump():
    assert noise_v2._bump("3.0.19-1~deb12u2") == "3.0.19-1~deb12u3"
    assert noise_v2._bump("2025b-0+deb12u2") == "2025b-0+deb12u3"
    assert noise_v2._bump("1.2-3") == "1.2-3+deb12u1"


def test_app_package_stanza():
    stanza = noise_v2.app_package("2.1.0-rc1")
    fields = dict(line.split(": ", 1) for line in stanza.splitlines())
    assert fields["Package"] == "app-x" and fields["Version"] == "2.1.0~rc1-1"
    assert fields["Status"] == "install ok installed"


def test_expected_ports_follow_the_plan():
    p = HostPlanV2(index=0, size="large", canary=True, coordinator=True, pool=True)
    ports, count = fleet_v2.expected_ports(p)
    assert ports == {22, 8080, 9102, 9010, 8081, 2379, 2380, 6432}
    assert count == len(ports) + 4 + 1  # 4 workers' ephemeral ports and the JVM's RMI port
