"""The fifth frozen held-out set (`v5-` scenarios): fleet sizes 4..30, benign sub-populations (a
rolling deploy of release 2.0.0, the hosts a configuration-management run reached, a tier with
CIS network hardening), one-off admin noise on single hosts (a vendor's time-boxed SSH key, a
profiler attached to the app, a stuck backup job with a zombie, an ad-hoc file share), the noise
of noise_v5 and the attacks of attacks_v5.  ``plan_v5`` turns one into a per-host plan
deterministically (its seed)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .attacks import Attack

UNIVERSAL = ["image_v5", "log_sizes_v5"]
"""Noise kinds every v5 host carries."""
ONE_OFF = ("support_key", "profiling_sidecar", "stuck_backup", "adhoc_fileshare")
"""Noise kinds drawn onto a given number of single hosts (never the baseline)."""


@dataclass(frozen=True)
class ScenarioV5:
    name: str
    hosts: int
    description: str
    rollout: int = 0
    """Hosts already on release 2.0.0 (population ``app_version:2.0.0``)."""
    ops: int = 0
    """Hosts the configuration-management run reached (population ``cm:ops-access``)."""
    hardened: int = 0
    """Hosts of the CIS-hardened tier (population ``tuning:cis-network``)."""
    one_off: tuple[tuple[str, int], ...] = ()
    """(noise kind of ONE_OFF, number of hosts)."""
    attacks: tuple[tuple[Attack, ...], ...] = ()
    campaign: str | None = None
    attack_in: str | None = None
    """Draw the compromised host(s) from this minority population ('ops', 'hardened')."""
    seed: int = 1


@dataclass
class HostPlanV5:
    index: int
    release: int = 1
    ops: bool = False
    hardened: bool = False
    one_off: list[str] = field(default_factory=list)
    attacks: tuple[Attack, ...] = ()
    baseline: bool = False
    evidence: list[list[dict]] = field(default_factory=list)

    @property
    def noise(self) -> list[str]:
        return UNIVERSAL + [k for k in ONE_OFF if k in self.one_off]


A = Attack
STRONG = (A("kthread_beacon"), A("existing_user_sudo"), A("suid_c_binary"))
DROPIN = (A("unit_dropin"), A("environment_preload"), A("bash_logout"))
SUBTLE = (A("shadow_copy"), A("perm_weaken"), A("journald_off"))
MINORITY = (
    A("bash_logout", {"user": "opsbot"}),
    A("unit_dropin", {"payload": "/var/tmp/.ops-inventory/pre-start"}),
    A("kthread_beacon", {"comm": "kworker/0:1H", "path": "/var/tmp/.ops-inventory/kw"}),
)
C20 = (
    A("environment_preload", {"lib": "/var/tmp/.X1-cache/libpam_misc.so.1"}),
    A("suid_c_binary", {"path": "/tmp/.X1-cache/Xauth-lock"}),
    A("kthread_beacon", {"port": 8443, "comm": "kworker/1:0", "path": "/var/tmp/.X1-cache/kw"}),
    A("perm_weaken", {"path": "/etc/sudoers.d/README", "mode": "0666"}),
)

SCENARIOS_V5: dict[str, ScenarioV5] = {
    s.name: s
    for s in [
        ScenarioV5(
            "v5-single-4",
            4,
            "4 hosts, one compromised: beacon renamed as a kernel worker with a C2 connection, "
            "backup added to sudo, setuid C shell launcher in /tmp; an ad-hoc file share on one host",
            one_off=(("adhoc_fileshare", 1),),
            attacks=(STRONG,),
            seed=504,
        ),
        ScenarioV5(
            "v5-campaign2-6",
            6,
            "6 hosts, 2 reached by the ops-access run; a 2-host campaign: ExecStartPre drop-in for the "
            "app's unit, LD_PRELOAD in /etc/environment, fetch-and-run in deploy's .bash_logout",
            ops=2,
            one_off=(("support_key", 1),),
            attacks=(DROPIN, DROPIN),
            campaign="c-dropin",
            seed=506,
        ),
        ScenarioV5(
            "v5-clean-12",
            12,
            "12 hosts, no compromise, heavy noise: 4 on 2.0.0, 4 reached by the ops-access run, 3 hardened, "
            "a vendor key, 2 profilers, 2 stuck backups, a file share",
            rollout=4,
            ops=4,
            hardened=3,
            one_off=(
                ("support_key", 1),
                ("profiling_sidecar", 2),
                ("stuck_backup", 2),
                ("adhoc_fileshare", 1),
            ),
            seed=512,
        ),
        ScenarioV5(
            "v5-single-12-subtle",
            12,
            "12 hosts, 3 on 2.0.0, 3 ops-access, 3 hardened; one compromised, subtle only: shadow copied "
            "to /var/tmp, sshd_config world-writable, journald storage off",
            rollout=3,
            ops=3,
            hardened=3,
            one_off=(("support_key", 1), ("profiling_sidecar", 1), ("stuck_backup", 1)),
            attacks=(SUBTLE,),
            seed=513,
        ),
        ScenarioV5(
            "v5-minority-12",
            12,
            "12 hosts, 3 reached by the ops-access run, 2 hardened, 2 on 2.0.0; the compromised host is "
            "one of the ops-access hosts: opsbot's .bash_logout, ExecStartPre drop-in, kernel-worker beacon",
            rollout=2,
            ops=3,
            hardened=2,
            one_off=(("stuck_backup", 1), ("adhoc_fileshare", 1)),
            attacks=(MINORITY,),
            attack_in="ops",
            seed=514,
        ),
        ScenarioV5(
            "v5-campaign-20",
            20,
            "20 hosts, 6 on 2.0.0, 5 ops-access, 4 hardened; a 3-host (15 %) campaign: LD_PRELOAD "
            "in /etc/environment, setuid C launcher, kernel-worker beacon on 8443, "
            "world-writable sudoers.d file",
            rollout=6,
            ops=5,
            hardened=4,
            one_off=(
                ("support_key", 1),
                ("profiling_sidecar", 1),
                ("stuck_backup", 1),
                ("adhoc_fileshare", 1),
            ),
            attacks=(C20,) * 3,
            campaign="c-env",
            seed=520,
        ),
        ScenarioV5(
            "v5-clean-30",
            30,
            "30 hosts mid-rollout, no compromise: 14 on 2.0.0, 8 ops-access, 6 hardened, a vendor key, "
            "2 profilers, 2 stuck backups, a file share",
            rollout=14,
            ops=8,
            hardened=6,
            one_off=(
                ("support_key", 1),
                ("profiling_sidecar", 2),
                ("stuck_backup", 2),
                ("adhoc_fileshare", 1),
            ),
            seed=530,
        ),
    ]
}
HELD_OUT_V5 = list(SCENARIOS_V5)


def plan_v5(scenario: ScenarioV5) -> list[HostPlanV5]:
    rng = random.Random(scenario.seed)
    hosts = [HostPlanV5(index=i) for i in range(scenario.hosts)]
    order = list(range(scenario.hosts))
    rng.shuffle(order)
    for i in order[: scenario.rollout]:
        hosts[i].release = 2
    rng.shuffle(order)
    for i in order[: scenario.ops]:
        hosts[i].ops = True
    rng.shuffle(order)
    for i in order[: scenario.hardened]:
        hosts[i].hardened = True
    majority = [h for h in hosts if h.release == 1 and not h.ops and not h.hardened]
    baseline = rng.choice(majority)
    baseline.baseline = True
    others = [h for h in hosts if not h.baseline]
    rng.shuffle(others)
    pool = {"ops": [h for h in others if h.ops], "hardened": [h for h in others if h.hardened]}.get(
        scenario.attack_in or "", others
    )
    for host, attacks in zip(pool, scenario.attacks, strict=False):
        host.attacks = attacks
    for kind, count in scenario.one_off:
        for host in rng.sample(others, count):
            host.one_off.append(kind)
    return hosts
