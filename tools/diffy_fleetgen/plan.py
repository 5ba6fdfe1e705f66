"""The fleet plan: who each host is, which benign sub-populations and noise it has, who is compromised.

Everything is decided here, up front and deterministically from the seed, so that hosts can then be
generated in any order and in several processes with identical results.
"""

from __future__ import annotations

import calendar
import hashlib
import random
from dataclasses import dataclass, field, fields, replace
from typing import Any

from diffy_fleetgen.artifacts import ARTIFACTS, DEFAULT_KINDS
from diffy_fleetgen.hostgen import HostSpec
from diffy_fleetgen.processes import APP_VERSIONS

_LATER_OPTIONS = frozenset({"patched_fraction", "campaign_hosts", "campaign_kinds", "per_host_volatile"})
RUN_STARTED = calendar.timegm((2026, 11, 29, 12, 0, 0, 0, 0, 0))
"""Collection start of every generated run (fixed, so a seed always gives the same bytes)."""


@dataclass(frozen=True)
class FleetOptions:
    """What to generate.  Defaults describe a typical app fleet during an incident."""

    hosts: int = 200
    seed: int = 1
    compromised_fraction: float = 0.05
    """Share of hosts with attacker artifacts (at least one host when > 0)."""
    inject: tuple[str, ...] = DEFAULT_KINDS
    """Artifact kinds to draw from (default: the original eleven; ``ARTIFACTS`` has all)."""
    max_artifacts: int = 3
    lateral_probability: float = 0.3
    """Chance that a compromise is a campaign putting the same artifact on 2-4 hosts."""
    rollout_fraction: float = 0.4
    """Hosts already on the new app version (the rolling deploy)."""
    large_fraction: float = 0.3
    """Hosts of the larger instance type (more workers, more kernel threads)."""
    canary_fraction: float = 0.15
    """Hosts with the canary envoy sidecar (none below 20 hosts; at least 3 otherwise)."""
    ssh_session_rate: float = 0.04
    cron_running_rate: float = 0.08
    extra_kthreads_rate: float = 0.05
    unreachable: int = 0
    """Hosts listed in the manifest as unreachable (no data), on top of ``hosts``."""
    patched_fraction: float = 0.0
    """Hosts that already applied the latest sudo/openssl security update (unattended-upgrades):
    a benign population whose /usr/bin/sudo hash differs from the others'."""
    campaign_hosts: int = 0
    """Hosts of one lateral-movement campaign sharing the same ``campaign_kinds`` artifacts (on top
    of, and drawn before, the ``compromised_fraction`` victims)."""
    campaign_kinds: tuple[str, ...] = ("cron_persistence", "ssh_key")
    per_host_volatile: bool = False
    """Per-host volatile values in every file whose real osquery output has them, not only in
    processes, ports, iptables counters, module addresses and sessions: mount sizes and free
    blocks/inodes (``mounts``), file times and inodes (``system_binaries``). Every host's mounts and
    system_binaries files then differ from every other host's, as on a real fleet (issue 17's
    per-host-unique fleets); the columns are the ones the default rules ignore, so the truth holds."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.inject) - set(ARTIFACTS))
        if unknown:
            raise ValueError(f"unknown artifact kinds: {', '.join(unknown)} (known: {', '.join(ARTIFACTS)})")
        if self.hosts < 1:
            raise ValueError("hosts must be at least 1")
        if not 0 <= self.compromised_fraction <= 1:
            raise ValueError("compromised_fraction must be between 0 and 1")

    def run_id(self) -> str:
        """Deterministic run id: the same options give the same id (used as the cache key too)."""
        # options added later count only when set, so existing fleets (and caches) keep their ids
        shown = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if f.name not in _LATER_OPTIONS or getattr(self, f.name) != f.default
        ]
        digest = hashlib.sha256(f"FleetOptions({', '.join(shown)})".encode()).hexdigest()[:8]
        return f"20261129T120000Z-{digest}"


@dataclass(frozen=True)
class Injection:
    artifact: str
    campaign: str
    params: dict[str, Any]


@dataclass
class FleetPlan:
    options: FleetOptions
    hosts: list[HostSpec]
    injections: dict[int, list[Injection]] = field(default_factory=dict)
    unreachable: list[tuple[str, str]] = field(default_factory=list)
    """(host_id, error) of hosts that could not be reached."""


def _instance_id(rng: random.Random) -> str:
    return "i-0" + "".join(rng.choice("0123456789abcdef") for _ in range(16))


def _address(index: int) -> str:
    return f"10.{20 + index // 64516}.{(index // 254) % 254 + 1}.{index % 254 + 1}"


def make_host(
    options: FleetOptions, index: int, rng: random.Random, *, clean: bool = False, **overrides
) -> HostSpec:
    """One host's identity and population, drawn from ``rng``."""
    ip = _address(index)
    v2 = rng.random() < options.rollout_fraction
    collected = RUN_STARTED + 5 + rng.randrange(40)
    # new-version hosts were launched by the rolling deploy in the last two days; the others earlier
    age = rng.randrange(600, 2 * 86400) if v2 else rng.randrange(3 * 86400, 40 * 86400)
    spec = HostSpec(
        index=index,
        host_id=_instance_id(rng),
        hostname="ip-" + ip.replace(".", "-"),
        ipv4=ip,
        mac="0a:" + ":".join(f"{rng.randrange(256):02x}" for _ in range(5)),
        app_version=APP_VERSIONS[1] if v2 else APP_VERSIONS[0],
        instance_type="m6i.2xlarge" if rng.random() < options.large_fraction else "m6i.large",
        canary=False,
        ssh_session=not clean and rng.random() < options.ssh_session_rate,
        cron_running=not clean and rng.random() < options.cron_running_rate,
        extra_kthreads=rng.randrange(1, 4) if not clean and rng.random() < options.extra_kthreads_rate else 0,
        boot_time=collected - age,
        collected_at=collected,
    )
    return replace(spec, **overrides) if overrides else spec


def plan_fleet(options: FleetOptions) -> FleetPlan:
    rng = random.Random(f"fleetgen/{options.seed}/plan")
    n = options.hosts
    hosts = [make_host(options, i, random.Random(f"fleetgen/{options.seed}/spec/{i}")) for i in range(n)]
    if n >= 20 and options.canary_fraction > 0:
        canaries = set(rng.sample(range(n), max(3, round(options.canary_fraction * n))))
        hosts = [replace(h, canary=True) if h.index in canaries else h for h in hosts]
    if options.patched_fraction > 0:  # its own generator: fleets without patched hosts stay byte-identical
        patch_rng = random.Random(f"fleetgen/{options.seed}/patched")
        patched = set(patch_rng.sample(range(n), round(options.patched_fraction * n)))
        hosts = [replace(h, patched=True) if h.index in patched else h for h in hosts]
    plan = FleetPlan(options, hosts)
    plan.injections = _compromise(options, rng)
    plan.unreachable = [
        (_instance_id(rng), "Failed to connect to the host via ssh: Connection timed out")
        for _ in range(options.unreachable)
    ]
    return plan


def _compromise(options: FleetOptions, rng: random.Random) -> dict[int, list[Injection]]:
    n = options.hosts
    if (options.compromised_fraction <= 0 or not options.inject) and options.campaign_hosts <= 0:
        return {}
    count = min(n, max(1, round(options.compromised_fraction * n))) if options.compromised_fraction > 0 else 0
    victims = rng.sample(range(n), count) if count else []
    kinds: list[str] = []

    def next_kind(exclude: set[str]) -> str | None:
        # cycle through a shuffled list so that even small fleets see many different kinds
        for _ in range(2):
            for i, kind in enumerate(kinds):
                if kind not in exclude:
                    return kinds.pop(i)
            kinds.extend(rng.sample(list(options.inject), len(options.inject)))
        return None

    injections: dict[int, list[Injection]] = {v: [] for v in victims}
    campaign = 0
    if options.campaign_hosts > 0:  # its own generator: fleets without a campaign stay byte-identical
        camp_rng = random.Random(f"fleetgen/{options.seed}/lateral")
        rest = [i for i in range(n) if i not in injections]
        for v in camp_rng.sample(rest, min(len(rest), options.campaign_hosts)):
            injections[v] = [
                Injection(
                    kind,
                    "lateral",
                    ARTIFACTS[kind].draw(random.Random(f"fleetgen/{options.seed}/lat/{kind}")),
                )
                for kind in options.campaign_kinds
            ]
    pending = list(victims)
    while pending:
        size = 1
        if len(pending) >= 2 and rng.random() < options.lateral_probability:
            size = min(len(pending), rng.randint(2, 4))
        group, pending = pending[:size], pending[size:]
        kind = next_kind(set())
        campaign += 1
        params = ARTIFACTS[kind].draw(random.Random(f"fleetgen/{options.seed}/campaign/{campaign}"))
        for v in group:
            injections[v].append(Injection(kind, f"c{campaign}", params))
    for v in victims:  # extra, host-specific artifacts: 1-3 per host in total
        extra = rng.randint(1, options.max_artifacts) - len(injections[v])
        for _ in range(max(extra, 0)):
            kind = next_kind({i.artifact for i in injections[v]})
            if kind is None:
                break
            campaign += 1
            params = ARTIFACTS[kind].draw(random.Random(f"fleetgen/{options.seed}/campaign/{campaign}"))
            injections[v].append(Injection(kind, f"c{campaign}", params))
    return injections
