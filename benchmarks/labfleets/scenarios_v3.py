"""The third frozen held-out set (`v3-` scenarios): fleet sizes 5..40, two benign sub-populations
(a storage-optimised hardware type, and the hosts a config-management run already reached), the
noise of noise_v3 and the attacks of attacks_v3.  ``plan_v3`` turns one into a per-host plan
deterministically (its seed)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .attacks import Attack
from .noise_v3 import AZS, POOL

UNIVERSAL = ["worker_pool", "app_tmp", "az_endpoints"]
"""Noise kinds every v3 host carries (their values differ per host or per zone)."""


@dataclass(frozen=True)
class ScenarioV3:
    name: str
    hosts: int
    description: str
    storage: int = 0
    """Hosts of the storage-optimised hardware type (population ``hardware:i4i``)."""
    cm_applied: int = 0
    """Hosts the config-management run already reached (population ``node_exporter:1.7.0``)."""
    sidecars: float = 0.0
    """Share of hosts running the log-shipping sidecar agent."""
    attacks: tuple[tuple[Attack, ...], ...] = ()
    campaign: str | None = None
    attack_in_storage: bool = False
    """The compromised host(s) are drawn from the storage hardware type (a benign minority)."""
    seed: int = 1


@dataclass
class HostPlanV3:
    index: int
    hardware: str = "standard"
    cm_applied: bool = False
    sidecar: bool = False
    az: str = "a"
    workers: int = 2
    """Busy workers of the host's adaptive API pool."""
    attacks: tuple[Attack, ...] = ()
    baseline: bool = False
    evidence: list[list[dict]] = field(default_factory=list)

    @property
    def noise(self) -> list[str]:
        return UNIVERSAL + (["sidecar_agent"] if self.sidecar else [])


A = Attack
CRON_KEY = (A("user_crontab"), A("service_key"), A("masquerade_listener"))
SYSV = (A("sysv_service"), A("setgid_copy"), A("login_account"))
PRELOAD = (A("unit_ld_preload"), A("firewall_opened"), A("history_devnull"))
MINORITY = (
    A("profile_append"),
    A("masquerade_listener", {"port": 5355}),
    A("service_key"),
)
C15 = (
    A("user_crontab", {"minute": "*/13"}),
    A("setgid_copy", {"path": "/tmp/dbus-session-cache"}),
    A("firewall_opened", {"port": 6001}),
    A("masquerade_listener", {"port": 6001, "path": "/var/tmp/.sysd/rsyslogd"}),
)
C25 = (
    A("unit_ld_preload", {"name": "irqbalance-helper", "lib": "/var/tmp/.cache/libirq.so"}),
    A("login_account", {"name": "replicator", "uid": 1042}),
    A("history_devnull"),
    A("profile_append"),
)
SINGLE40 = (
    A("sysv_service", {"name": "nvme-healthd"}),
    A("service_key"),
    A("firewall_opened"),
)

SCENARIOS_V3: dict[str, ScenarioV3] = {
    s.name: s
    for s in [
        ScenarioV3(
            "v3-campaign2-5",
            5,
            "5 hosts, a 2-host campaign: SysV init script, setgid copy of find in /tmp, login account",
            sidecars=0.4,
            attacks=(SYSV, SYSV),
            campaign="c-sysv",
            seed=305,
        ),
        ScenarioV3(
            "v3-single-6",
            6,
            "6 hosts, one compromised: service account's crontab, key on the service account, bind "
            "shell masquerading as systemd-journald",
            storage=2,
            sidecars=0.34,
            attacks=(CRON_KEY,),
            seed=306,
        ),
        ScenarioV3(
            "v3-clean-12-hardware",
            12,
            "12 hosts, 4 of a storage-optimised hardware type (instance store, larger pools), sidecars "
            "on ~40 %, no compromise",
            storage=4,
            sidecars=0.4,
            seed=312,
        ),
        ScenarioV3(
            "v3-minority-12",
            12,
            "12 hosts, 3 storage-optimised; the compromised host is one of them: /etc/profile line, "
            "masquerading bind shell, key on the service account",
            storage=3,
            sidecars=0.4,
            attacks=(MINORITY,),
            attack_in_storage=True,
            seed=313,
        ),
        ScenarioV3(
            "v3-single-15",
            15,
            "15 hosts, 4 storage-optimised, config run on 5; one compromised: systemd unit with "
            "LD_PRELOAD, firewall rule deleted and port opened, history to /dev/null",
            storage=4,
            cm_applied=5,
            sidecars=0.4,
            attacks=(PRELOAD,),
            seed=315,
        ),
        ScenarioV3(
            "v3-campaign25-16",
            16,
            "16 hosts, 4 storage-optimised, config run on 6; a 4-host (25 %) campaign: LD_PRELOAD "
            "unit, login account, history to /dev/null, /etc/profile line",
            storage=4,
            cm_applied=6,
            sidecars=0.4,
            attacks=(C25,) * 4,
            campaign="c-preload",
            seed=316,
        ),
        ScenarioV3(
            "v3-campaign15-20",
            20,
            "20 hosts, 5 storage-optimised, config run on 8; a 3-host (15 %) campaign: service "
            "account's crontab, setgid copy, firewall opened for a bind shell masquerading as rsyslogd",
            storage=5,
            cm_applied=8,
            sidecars=0.4,
            attacks=(C15,) * 3,
            campaign="c-cron",
            seed=320,
        ),
        ScenarioV3(
            "v3-clean-20-rollout",
            20,
            "20 hosts mid-rollout: the config-management run reached 10 (node exporter upgraded and "
            "reconfigured), 5 storage-optimised, sidecars on ~40 %, no compromise",
            storage=5,
            cm_applied=10,
            sidecars=0.4,
            seed=321,
        ),
        ScenarioV3(
            "v3-single-40",
            40,
            "40 hosts, 10 storage-optimised, config run on 12; one compromised: SysV init script, key "
            "on the service account, firewall rule deleted and port opened",
            storage=10,
            cm_applied=12,
            sidecars=0.4,
            attacks=(SINGLE40,),
            seed=340,
        ),
    ]
}
HELD_OUT_V3 = list(SCENARIOS_V3)


def plan_v3(scenario: ScenarioV3) -> list[HostPlanV3]:
    rng = random.Random(scenario.seed)
    hosts = [HostPlanV3(index=i) for i in range(scenario.hosts)]
    order = list(range(scenario.hosts))
    rng.shuffle(order)
    for i in order[: scenario.storage]:
        hosts[i].hardware = "i4i"
    rng.shuffle(order)
    for i in order[: scenario.cm_applied]:
        hosts[i].cm_applied = True
    for i, host in enumerate(hosts):  # instances spread round-robin over three zones, like an ASG
        host.az = AZS[(i + scenario.seed) % len(AZS)]
    majority = [h for h in hosts if h.hardware == "standard" and not h.cm_applied]
    baseline = rng.choice(majority)
    baseline.baseline = True
    others = [h for h in hosts if not h.baseline]
    rng.shuffle(others)
    pool = [h for h in others if h.hardware == "i4i"] if scenario.attack_in_storage else others
    for host, attacks in zip(pool, scenario.attacks, strict=False):
        host.attacks = attacks
    for host in hosts:
        low, high = POOL[host.hardware]
        host.workers = rng.randint(low, high)
        host.sidecar = not host.baseline and rng.random() < scenario.sidecars
    return hosts
