"""The held-out scenarios: fleet size, benign sub-populations, sparse noise, and who gets attacked.

``plan(scenario)`` turns one into a per-host plan, deterministically (seeded).  One host of the
majority population with no transient noise and no attack is kept clean as the baseline instance."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .attacks import Attack


@dataclass(frozen=True)
class Scenario:
    name: str
    hosts: int
    description: str
    large: int = 0
    """Hosts of the large instance size (4 workers and the JVM reporting service; small: 2 workers)."""
    v2: int = 0
    """Hosts already running release 2.0.0 of a rolling deploy (the rest run 1.4.2)."""
    attacks: tuple[tuple[Attack, ...], ...] = ()
    """One attack set per compromised host; hosts sharing a campaign get the same set."""
    campaign: str | None = None
    ssh_sessions: int = 1
    timers: int = 1
    extra_mounts: float = 0.3
    seed: int = 1


@dataclass
class HostPlan:
    index: int
    version: int = 1
    size: str = "small"
    ssh_session: bool = False
    timer: bool = False
    extra_mount: bool = False
    attacks: tuple[Attack, ...] = ()
    baseline: bool = False
    noise: list[str] = field(default_factory=list)
    evidence: list[list[dict]] = field(default_factory=list)
    """Per attack (same order as ``attacks``): the rows it created, filled in when planted."""


A = Attack
SINGLE = (A("uid0_account"), A("curl_cron"), A("listener", {"port": 4444}))
KEYS_AND_PRIV = (
    A("root_authorized_key"),
    A("sudoers_rule", {"user": "root", "name": "90-cloud-init-users2"}),
    A("suid_shell"),
    A("systemd_unit"),
)
LOADER = (
    A("ld_preload"),
    A("listener", {"port": 31337}),
    A("curl_cron", {"where": "/etc/cron.d/php-sessionclean2", "minute": "*/11"}),
)
CAMPAIGN = (
    A("uid0_account", {"name": "mysqld"}),
    A("root_authorized_key"),
    A("curl_cron", {"where": "/etc/cron.d/0hourly", "minute": "13"}),
    A("listener", {"port": 8531}),
)

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario(
            "single-4",
            4,
            "4 hosts, one compromised: uid-0 account, curl|sh in /etc/crontab, listener on 4444",
            attacks=(SINGLE,),
            seed=4,
        ),
        Scenario(
            "campaign2-6",
            6,
            "6 hosts of two sizes, a 2-host campaign: root key, sudoers.d, setuid shell in "
            "/tmp, systemd unit",
            large=3,
            attacks=(KEYS_AND_PRIV, KEYS_AND_PRIV),
            campaign="c-keys",
            seed=6,
        ),
        Scenario(
            "single-12",
            12,
            "12 hosts, two sizes, 3 on release 2; one compromised: ld.so.preload, listener "
            "on 31337, curl|sh in /etc/cron.d",
            large=4,
            v2=3,
            attacks=(LOADER,),
            ssh_sessions=2,
            seed=12,
        ),
        Scenario(
            "clean-12",
            12,
            "12 hosts, two sizes, 4 on release 2, no compromise",
            large=4,
            v2=4,
            ssh_sessions=2,
            timers=2,
            seed=13,
        ),
        Scenario(
            "campaign20-30",
            30,
            "30 hosts, two sizes, 9 on release 2; a 6-host (20%) campaign: uid-0 account, "
            "root key, cron.d curl|sh, listener on 8531",
            large=10,
            v2=9,
            attacks=(CAMPAIGN,) * 6,
            campaign="c-mysqld",
            ssh_sessions=3,
            timers=3,
            seed=30,
        ),
        Scenario(
            "rolling-30",
            30,
            "30 hosts, two sizes, a rolling deploy half done (15 on release 2), no compromise",
            large=10,
            v2=15,
            ssh_sessions=3,
            timers=3,
            seed=31,
        ),
        # The fleet of tests/test_lab_judgement.py (5 hosts, one compromised / none).
        Scenario(
            "judge-5",
            5,
            "5 hosts, one compromised: uid-0 account, curl|sh cron, listener on 4444",
            attacks=(SINGLE,),
            seed=5,
        ),
        Scenario("judge-clean-5", 5, "5 hosts, no compromise", seed=50),
    ]
}


def plan(scenario: Scenario) -> list[HostPlan]:
    rng = random.Random(scenario.seed)
    hosts = [HostPlan(index=i) for i in range(scenario.hosts)]
    order = list(range(scenario.hosts))
    rng.shuffle(order)
    for i in order[: scenario.large]:
        hosts[i].size = "large"
    rng.shuffle(order)
    for i in order[: scenario.v2]:
        hosts[i].version = 2
    majority = [h.index for h in hosts if h.size == "small" and h.version == 1]
    baseline = hosts[rng.choice(majority)]
    baseline.baseline = True
    others = [h for h in hosts if not h.baseline]
    rng.shuffle(others)
    for host, attacks in zip(others, scenario.attacks, strict=False):
        host.attacks = attacks
    rng.shuffle(others)
    for host in others[: scenario.ssh_sessions]:
        host.ssh_session = True
    rng.shuffle(others)
    for host in others[: scenario.timers]:
        host.timer = True
    for host in others:
        host.extra_mount = rng.random() < scenario.extra_mounts
    for host in hosts:
        host.noise = [
            n
            for n, on in (
                ("ssh_session", host.ssh_session),
                ("cron_running", host.timer),
                ("extra_mount", host.extra_mount),
            )
            if on
        ]
    return hosts
