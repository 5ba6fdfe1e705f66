"""The fourth frozen held-out set (`v4-` scenarios): fleet sizes 4..30, benign sub-populations (a
rolling deploy of release 3.1.0, hosts launched after the EC2 key pair was rotated, the hosts of
the ingest role that mount the shared file system, a debug-flagged canary), the noise of noise_v4
and the attacks of attacks_v4.  ``plan_v4`` turns one into a per-host plan deterministically (its
seed)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .attacks import Attack
from .noise_v4 import EFS_PORTS

UNIVERSAL = ["ssm_agent", "app_healthd"]
"""Noise kinds every v4 host carries (the agent at one of two versions)."""


@dataclass(frozen=True)
class ScenarioV4:
    name: str
    hosts: int
    description: str
    rollout: int = 0
    """Hosts already on release 3.1.0 (population ``app_release:3.1.0``)."""
    canary: int = 0
    """Hosts of the debug-flagged canary (population ``canary:3.2.0-rc1``)."""
    keypair_new: int = 0
    """Hosts launched after the key pair rotation (population ``keypair:fleet-2026-11``)."""
    efs: int = 0
    """Hosts of the ingest role (population ``role:efs-ingest``)."""
    ssm_updated: float = 0.4
    pending_restart: float = 0.25
    cron_mail: float = 0.2
    admin_traces: float = 0.3
    attacks: tuple[tuple[Attack, ...], ...] = ()
    campaign: str | None = None
    attack_in: str | None = None
    """Draw the compromised host(s) from this minority population ('canary', 'efs')."""
    seed: int = 1


@dataclass
class HostPlanV4:
    index: int
    release: str = "base"
    """base (2.4.1), rollout (3.1.0) or canary (3.2.0-rc1)."""
    keypair_new: bool = False
    efs: bool = False
    ssm_updated: bool = False
    pending_restart: bool = False
    cron_mail: bool = False
    admin_traces: bool = False
    attacks: tuple[Attack, ...] = ()
    baseline: bool = False
    efs_port: int = 0
    evidence: list[list[dict]] = field(default_factory=list)

    @property
    def noise(self) -> list[str]:
        optional = {
            "ssm_agent_updated": self.ssm_updated,
            "pending_restart": self.pending_restart,
            "cron_mail": self.cron_mail,
            "admin_traces": self.admin_traces,
        }
        return UNIVERSAL + [k for k, on in optional.items() if on]


A = Attack
STRONG = (A("nobody_login"), A("cron_subfolders"), A("deleted_listener"))
KEYCAP = (A("admin_key"), A("cap_binary"), A("user_unit"))
SUBTLE = (A("pam_exec_line"), A("sudo_caching"), A("trap_bashrc"))
MINORITY = (
    A("deleted_listener", {"port": 20051, "path": "/var/tmp/stunnel4"}),
    A("user_unit", {"name": "efs-watchdog", "payload": "/var/tmp/.efs-cache/efs-watchdog"}),
    A("admin_key"),
)
C10 = (
    A("cron_subfolders", {"name": "logrotate-efs"}),
    A("cap_binary", {"path": "/var/tmp/.X11-cache/Xsync"}),
    A("pam_exec_line", {"pam": "/etc/pam.d/common-auth", "script": "/var/tmp/.X11-cache/pam.sh"}),
)
C20 = (
    A("sudo_caching"),
    A("deleted_listener", {"port": 10051}),
    A("nobody_login"),
    A("trap_bashrc"),
)

SCENARIOS_V4: dict[str, ScenarioV4] = {
    s.name: s
    for s in [
        ScenarioV4(
            "v4-single-4",
            4,
            "4 hosts, one compromised: nobody given a shell and password, fetch-and-run script in "
            "cron.hourly and cron.daily, bind shell from a deleted binary",
            attacks=(STRONG,),
            seed=404,
        ),
        ScenarioV4(
            "v4-campaign2-6",
            6,
            "6 hosts, 2 launched after the key rotation; a 2-host campaign: key on the default user, "
            "cap_setuid binary in a hidden /var/tmp dir, user-level systemd unit running from /var/tmp",
            keypair_new=2,
            attacks=(KEYCAP, KEYCAP),
            campaign="c-keycap",
            seed=406,
        ),
        ScenarioV4(
            "v4-clean-12-deploy",
            12,
            "12 hosts, no compromise: release 3.1.0 on 5, key rotation on 4, ingest role on 3",
            rollout=5,
            keypair_new=4,
            efs=3,
            seed=412,
        ),
        ScenarioV4(
            "v4-single-12",
            12,
            "12 hosts, 4 on 3.1.0, 3 new key, 3 ingest; one compromised, subtle only: pam_exec line in "
            "sshd's PAM stack, sudo caching Defaults, trap EXIT in bash.bashrc",
            rollout=4,
            keypair_new=3,
            efs=3,
            attacks=(SUBTLE,),
            seed=413,
        ),
        ScenarioV4(
            "v4-minority-12",
            12,
            "12 hosts, 3 ingest, 2 canaries, 3 new key; the compromised host is one of the ingest "
            "role: deleted-binary listener near stunnel's range, user unit, key on the default user",
            canary=2,
            keypair_new=3,
            efs=3,
            attacks=(MINORITY,),
            attack_in="efs",
            seed=414,
        ),
        ScenarioV4(
            "v4-campaign10-30",
            30,
            "30 hosts, 12 on 3.1.0, 10 new key, 5 ingest; a 3-host (10 %) campaign: cron subfolder "
            "scripts, cap_setuid binary, pam_exec in common-auth",
            rollout=12,
            keypair_new=10,
            efs=5,
            attacks=(C10,) * 3,
            campaign="c-cap",
            seed=431,
        ),
        ScenarioV4(
            "v4-campaign20-30",
            30,
            "30 hosts, 9 on 3.1.0, 2 canaries, 9 new key, 4 ingest; a 6-host (20 %) campaign: sudo "
            "caching, deleted-binary listener, nobody login, trap EXIT in bash.bashrc",
            rollout=9,
            canary=2,
            keypair_new=9,
            efs=4,
            attacks=(C20,) * 6,
            campaign="c-sudo",
            seed=432,
        ),
        ScenarioV4(
            "v4-clean-30-rollout",
            30,
            "30 hosts mid-rollout, no compromise: 15 on 3.1.0, 3 canaries, 12 new key, 6 ingest",
            rollout=15,
            canary=3,
            keypair_new=12,
            efs=6,
            seed=433,
        ),
    ]
}
HELD_OUT_V4 = list(SCENARIOS_V4)


def plan_v4(scenario: ScenarioV4) -> list[HostPlanV4]:
    rng = random.Random(scenario.seed)
    hosts = [HostPlanV4(index=i) for i in range(scenario.hosts)]
    order = list(range(scenario.hosts))
    rng.shuffle(order)
    for i in order[: scenario.canary]:
        hosts[i].release = "canary"
    for i in order[scenario.canary : scenario.canary + scenario.rollout]:
        hosts[i].release = "rollout"
    rng.shuffle(order)
    for i in order[: scenario.keypair_new]:
        hosts[i].keypair_new = True
    rng.shuffle(order)
    for i in order[: scenario.efs]:
        hosts[i].efs = True
    majority = [h for h in hosts if h.release == "base" and not h.keypair_new and not h.efs]
    baseline = rng.choice(majority)
    baseline.baseline = True
    others = [h for h in hosts if not h.baseline]
    rng.shuffle(others)
    if scenario.attack_in == "efs":
        pool = [h for h in others if h.efs]
    elif scenario.attack_in == "canary":
        pool = [h for h in others if h.release == "canary"]
    else:
        pool = others
    for host, attacks in zip(pool, scenario.attacks, strict=False):
        host.attacks = attacks
    taken = {a.params.get("port") for h in hosts for a in h.attacks}
    for host in hosts:
        if host.efs:
            host.efs_port = rng.choice([p for p in range(*EFS_PORTS) if p not in taken])
        host.ssm_updated = rng.random() < scenario.ssm_updated
        if not host.baseline:
            host.pending_restart = rng.random() < scenario.pending_restart
            host.cron_mail = rng.random() < scenario.cron_mail
            host.admin_traces = rng.random() < scenario.admin_traces
    return hosts
