"""The second frozen held-out set (`v2-` scenarios): fleet sizes, benign sub-populations (rolling
deploy, instance sizes, a canary group, a coordination-cluster role), the noise of noise_v2 and the
attacks of attacks_v2.  ``plan_v2`` turns one into a per-host plan deterministically (its seed)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .attacks import Attack


@dataclass(frozen=True)
class ScenarioV2:
    name: str
    hosts: int
    description: str
    large: int = 0
    v2: int = 0
    """Hosts on release 2.0.0 (a rolling deploy)."""
    canary: int = 0
    """Hosts of the canary group (release 2.1.0-rc1 with a newer config), drawn from the others."""
    coordinators: int = 0
    """Hosts running a member of the 3-node coordination cluster (0 or 3)."""
    containers: float = 0.0
    """Share of hosts running ephemeral containers."""
    upgraded: float = 0.0
    """Share of hosts where unattended-upgrades already ran."""
    rotated: float = 0.25
    """Share of hosts caught just after logrotate ran."""
    pools: float = 0.0
    """Share of hosts running the local connection pooler."""
    tmux: int = 0
    """Hosts with an operator's detached tmux session."""
    attacks: tuple[tuple[Attack, ...], ...] = ()
    campaign: str | None = None
    attack_in_canary: bool = False
    """The compromised host(s) are drawn from the canary group (a minority benign sub-population)."""
    seed: int = 1


@dataclass
class HostPlanV2:
    index: int
    version: int = 1
    size: str = "small"
    canary: bool = False
    coordinator: bool = False
    containers: int = 0
    upgraded: bool = False
    rotated: bool = False
    pool: bool = False
    tmux: bool = False
    attacks: tuple[Attack, ...] = ()
    baseline: bool = False
    evidence: list[list[dict]] = field(default_factory=list)

    @property
    def noise(self) -> list[str]:
        """The truth's noise kinds of this host (every host also carries the universal ones:
        cloud_init_etc_hosts and log_sizes)."""
        kinds = ["cloud_init_etc_hosts", "log_sizes"]
        for kind, on in (
            ("log_rotated", self.rotated),
            ("partial_upgrade", self.upgraded),
            ("containers", self.containers > 0),
            ("connection_pool", self.pool),
            ("admin_tmux", self.tmux),
        ):
            if on:
                kinds.append(kind)
        return kinds


A = Attack
SMALL = (A("rc_local"), A("reverse_shell"), A("app_user_key"))
TIMER = (A("systemd_timer"), A("sudo_group_user"), A("hidden_exec_shm"))
PAM = (A("pam_rule"), A("ld_preload_env"), A("profile_d"))
AT = (A("at_job"), A("app_user_key"), A("reverse_shell", {"port": 8443}))
BASHRC = (
    A("bashrc_append"),
    A("pam_module"),
    A("sudo_group_user", {"name": "nagios-agent", "uid": 1003}),
)
SHM = (
    A("profile_d", {"name": "zz-proxy.sh"}),
    A("hidden_exec_shm", {"path": "/dev/shm/.pulse-cookie"}),
    A("rc_local"),
    A("app_user_key"),
)
MINORITY = (A("systemd_timer", {"name": "canary-metrics-push"}), A("reverse_shell"), A("pam_rule"))
LOUD30 = (
    A("at_job", {"job": "a00003019c4d22"}),
    A("ld_preload_env"),
    A("bashrc_append"),
)
NOISY = {"containers": 0.4, "upgraded": 0.3, "rotated": 0.25, "pools": 0.35}

SCENARIOS_V2: dict[str, ScenarioV2] = {
    s.name: s
    for s in [
        ScenarioV2(
            "v2-single-4",
            4,
            "4 hosts, one compromised: rc.local, reverse shell to the C2, key on the app account",
            upgraded=0.34,
            pools=0.34,
            attacks=(SMALL,),
            seed=104,
        ),
        ScenarioV2(
            "v2-campaign2-6",
            6,
            "6 hosts of two sizes, a 2-host campaign: systemd timer, new user in sudo, hidden ELF "
            "running from /dev/shm",
            large=2,
            coordinators=3,
            upgraded=0.34,
            pools=0.34,
            tmux=1,
            attacks=(TIMER, TIMER),
            campaign="c-timer",
            seed=106,
        ),
        ScenarioV2(
            "v2-single-12",
            12,
            "12 noisy hosts, two sizes, 3 on release 2, containers, a coordination cluster; one "
            "compromised: PAM rule, LD_PRELOAD process, profile.d script",
            large=4,
            v2=3,
            coordinators=3,
            tmux=2,
            attacks=(PAM,),
            seed=112,
            **NOISY,
        ),
        ScenarioV2(
            "v2-clean-12-canary",
            12,
            "12 noisy hosts, two sizes, a 2-host canary group on 2.1.0-rc1, no compromise",
            large=4,
            canary=2,
            coordinators=3,
            tmux=1,
            seed=113,
            **NOISY,
        ),
        ScenarioV2(
            "v2-minority-12",
            12,
            "12 noisy hosts, two sizes, a 3-host canary group; the compromised host is a canary: "
            "systemd timer, reverse shell, PAM rule",
            large=4,
            canary=3,
            coordinators=3,
            tmux=1,
            attacks=(MINORITY,),
            attack_in_canary=True,
            seed=114,
            **NOISY,
        ),
        ScenarioV2(
            "v2-single-30",
            30,
            "30 noisy hosts, two sizes, 8 on release 2, 2 canaries; one compromised: at job, "
            "LD_PRELOAD process, .bashrc line",
            large=10,
            v2=8,
            canary=2,
            coordinators=3,
            tmux=2,
            attacks=(LOUD30,),
            seed=130,
            **NOISY,
        ),
        ScenarioV2(
            "v2-campaign10-30",
            30,
            "30 noisy hosts, two sizes, 9 on release 2; a 3-host (10%) campaign: .bashrc line, "
            "PAM module in /tmp, new user in sudo",
            large=10,
            v2=9,
            coordinators=3,
            tmux=2,
            attacks=(BASHRC,) * 3,
            campaign="c-pam",
            seed=131,
            **NOISY,
        ),
        ScenarioV2(
            "v2-campaign20-30",
            30,
            "30 noisy hosts, two sizes, 10 on release 2; a 6-host (20%) campaign: profile.d script, "
            "hidden ELF in /dev/shm, rc.local, key on the app account",
            large=10,
            v2=10,
            coordinators=3,
            tmux=2,
            attacks=(SHM,) * 6,
            campaign="c-shm",
            seed=132,
            **NOISY,
        ),
        ScenarioV2(
            "v2-campaign5-40",
            40,
            "40 noisy hosts, two sizes, 12 on release 2, 3 canaries; a 2-host (5%) campaign: at "
            "job, key on the app account, reverse shell to 8443",
            large=12,
            v2=12,
            canary=3,
            coordinators=3,
            tmux=3,
            attacks=(AT, AT),
            campaign="c-at",
            seed=140,
            **NOISY,
        ),
        ScenarioV2(
            "v2-clean-30-rolling",
            30,
            "30 noisy hosts, two sizes, a rolling deploy (12 on release 2) and 3 canaries, no compromise",
            large=10,
            v2=12,
            canary=3,
            coordinators=3,
            tmux=2,
            seed=133,
            **NOISY,
        ),
    ]
}
HELD_OUT_V2 = list(SCENARIOS_V2)


def plan_v2(scenario: ScenarioV2) -> list[HostPlanV2]:
    rng = random.Random(scenario.seed)
    hosts = [HostPlanV2(index=i) for i in range(scenario.hosts)]
    order = list(range(scenario.hosts))
    rng.shuffle(order)
    for i in order[: scenario.large]:
        hosts[i].size = "large"
    rng.shuffle(order)
    for i in order[: scenario.v2]:
        hosts[i].version = 2
    rng.shuffle(order)
    for i in [i for i in order if hosts[i].version == 1][: scenario.canary]:
        hosts[i].canary = True
    majority = [h.index for h in hosts if h.size == "small" and h.version == 1 and not h.canary]
    baseline = hosts[rng.choice(majority)]
    baseline.baseline = True
    others = [h for h in hosts if not h.baseline]
    rng.shuffle(others)
    pool = [h for h in others if h.canary] if scenario.attack_in_canary else others
    for host, attacks in zip(pool, scenario.attacks, strict=False):
        host.attacks = attacks
    rng.shuffle(others)
    for host in others[: scenario.coordinators]:
        host.coordinator = True
    rng.shuffle(others)
    for host in others[: scenario.tmux]:
        host.tmux = True
    for host in others:
        host.containers = rng.randint(1, 3) if rng.random() < scenario.containers else 0
        host.upgraded = rng.random() < scenario.upgraded
        host.rotated = rng.random() < scenario.rotated
        host.pool = rng.random() < scenario.pools
    return hosts
