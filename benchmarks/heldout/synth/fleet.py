"""Assemble one fleet: identities, clean state, noise, attacks, and the ground truth for them."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from .attacks import REGISTRY as ATTACKS
from .attacks import choose_params, ssh_key
from .base_runtime import build_runtime
from .base_system import build_system
from .host import Host, derive_seed, hexid
from .noise import apply_noise
from .packages import SECURITY_UPDATES
from .scenarios import Scenario, plan

KERNEL = "5.15.0-1051-aws"
REGIONS = ["us-east-1", "eu-west-1", "eu-central-1", "us-west-2", "ap-southeast-2"]


@dataclass
class Fleet:
    scenario: Scenario
    seed: int
    fleet: dict[str, Any]
    hosts: list[Host]
    unreachable: list[Host]
    baseline: Host
    compromised: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    noise: dict[str, list[str]] = field(default_factory=dict)
    populations: dict[str, list[str]] = field(default_factory=dict)


def fleet_facts(seed: int, scenario: Scenario) -> dict[str, Any]:
    rng = random.Random(derive_seed("fleet", scenario.name, seed))
    region = rng.choice(REGIONS)
    collected = 1_796_000_000 + rng.randrange(0, 200) * 86_400 + rng.randrange(0, 86_400)
    return {
        "region": region,
        "account_id": str(rng.randrange(10**11, 10**12)),
        "image_id": f"ami-0{hexid(rng, 8)}",
        "asg": f"orders-api-prod-{hexid(rng, 3)}",
        "deploy_key": ssh_key(rng),
        "deploy_key_name": f"orders-prod-{rng.randrange(2024, 2027)}",
        "bastion_ip": f"10.0.{rng.randrange(100, 104)}.{rng.randrange(4, 250)}",
        "operator": rng.choice(["jdoe", "asmith", "ops-oncall", "mlopez"]),
        "collected": collected,
        "kernel": KERNEL,
        "ssm_new_rev": "7993",
    }


def make_host(
    index: int,
    seed: int,
    scenario: Scenario,
    fleet: dict[str, Any],
    traits: tuple[str, str, bool],
    *,
    tag: str = "fleet",
) -> Host:
    version, itype, canary = traits
    rng = random.Random(derive_seed(tag, scenario.name, seed, index))
    a, b = rng.choice([1, 2, 3]), rng.randrange(4, 251)
    # Most instances came up with the last deploy; a few joined later through scale-out.
    uptime = 5 * 86_400 + rng.randrange(0, 3600) if rng.random() < 0.8 else rng.randrange(1800, 4 * 86_400)
    collected = fleet["collected"] + rng.randrange(0, 90)
    return Host(
        index=index,
        host_id=f"i-0{hexid(rng, 8)}",
        hostname=f"ip-10-0-{a}-{b}",
        ipv4=f"10.0.{a}.{b}",
        mac="0e:" + ":".join(hexid(rng, 1) for _ in range(5)),
        instance_type=itype,
        app_version=version,
        canary=canary,
        boot_epoch=collected - uptime,
        collected_epoch=collected,
        rng=rng,
        image_id=fleet["image_id"],
    )


def noise_plan(
    scenario: Scenario, seed: int, hosts: list[Host], catalogue: dict[str, Any]
) -> tuple[dict[str, set[str]], dict[str, Any]]:
    """Which hosts each transient/cohort kind lands on, and the fleet-wide cohort facts."""
    rng = random.Random(derive_seed("noise-plan", scenario.name, seed))
    hosts_for: dict[str, set[str]] = {}
    for kind, spec in sorted(catalogue["kinds"].items()):
        ids = [h.host_id for h in hosts]
        if spec["variation"] == "transient":
            rate = min(0.6, spec["rate"] * scenario.noise_scale)
            hosts_for[kind] = {
                i for i in ids if random.Random(derive_seed("transient", seed, kind, i)).random() < rate
            }
        elif spec["variation"] == "cohort":
            present = scenario.noise_scale > 1 or rng.random() < spec["rate"]
            lo, hi = spec["cohort_fraction"]
            share = rng.uniform(lo, hi) if present else 0.0
            order = sorted(ids)
            rng.shuffle(order)
            hosts_for[kind] = set(order[: round(share * len(ids))])
    cohort = {
        "usns": rng.sample(sorted(SECURITY_UPDATES), rng.randint(1, 2)),
        "kernel_update": rng.random() < 0.3,
    }
    return hosts_for, cohort


def build_host(
    host: Host,
    fleet: dict[str, Any],
    catalogue: dict[str, Any],
    hosts_for: dict[str, set[str]],
    *,
    cohort: dict[str, Any],
    seed: int,
) -> tuple[dict[str, Any], list[str]]:
    build_system(host, fleet)
    ctx = build_runtime(host, fleet)
    ctx.update({"fleet": fleet, **cohort})
    listed = apply_noise(host, ctx, catalogue, {"hosts_for": hosts_for}, seed)
    return ctx, listed


def build_fleet(
    scenario: Scenario, seed: int, catalogue: dict[str, Any], attack_catalogue: dict[str, Any]
) -> Fleet:
    fleet = fleet_facts(seed, scenario)
    layout = plan(scenario, seed, list(attack_catalogue["artifacts"]))
    all_hosts = [
        make_host(i, seed, scenario, fleet, (layout["versions"][i], layout["types"][i], layout["canary"][i]))
        for i in range(layout["n"])
    ]
    unreachable = [all_hosts[i] for i in layout["unreachable"]]
    hosts = [h for h in all_hosts if h not in unreachable]
    hosts_for, cohort = noise_plan(scenario, seed, hosts, catalogue)
    majority_v = max(sorted(set(layout["versions"])), key=layout["versions"].count)
    majority_t = max(sorted(set(layout["types"])), key=layout["types"].count)
    baseline = make_host(0, seed, scenario, fleet, (majority_v, majority_t, False), tag="baseline")
    # A freshly launched instance: no operator has touched it, no cohort update reached it.
    base_for = {
        k: (
            {baseline.host_id}
            if catalogue["kinds"][k]["variation"] == "transient"
            and random.Random(derive_seed("baseline", seed, k)).random() < catalogue["kinds"][k]["rate"]
            else set()
        )
        for k in hosts_for
    }
    for k in ("interactive_ssh_session", "ssm_session_active", "ssm_user_created", "stale_utmp_dead_entry"):
        base_for[k] = set()
    baseline.boot_epoch = baseline.collected_epoch - 1200
    out = Fleet(
        scenario=scenario, seed=seed, fleet=fleet, hosts=hosts, unreachable=unreachable, baseline=baseline
    )
    ctxs = {}
    for h in hosts:
        ctxs[h.host_id], listed = build_host(h, fleet, catalogue, hosts_for, cohort=cohort, seed=seed)
        for kind in listed:
            out.noise.setdefault(kind, []).append(h.host_id)
    build_host(baseline, fleet, catalogue, base_for, cohort=cohort, seed=seed)
    by_campaign = {c["id"]: c for c in layout["campaigns"]}
    params = {
        cid: {a: choose_params(a, random.Random(derive_seed(c["seed"], a)), fleet) for a in c["artifacts"]}
        for cid, c in by_campaign.items()
    }
    for index, cid in sorted(layout["victims"].items()):
        host = all_hosts[index]
        entries = []
        for artifact in by_campaign[cid]["artifacts"]:
            p = params[cid][artifact]
            evidence = ATTACKS[artifact](host, ctxs[host.host_id], p)
            entries.append({"artifact": artifact, "campaign": cid, "params": p, "evidence": evidence})
        out.compromised[host.host_id] = entries
    out.populations = populations(scenario, hosts)
    return out


def populations(scenario: Scenario, hosts: list[Host]) -> dict[str, list[str]]:
    pops: dict[str, list[str]] = {}
    if len(scenario.app_versions) > 1 or scenario.canaries:
        for h in hosts:
            pops.setdefault(f"app_version:{h.app_version}", []).append(h.host_id)
    if len(scenario.instance_types) > 1:
        for h in hosts:
            pops.setdefault(f"instance_type:{h.instance_type}", []).append(h.host_id)
    canaries = [h.host_id for h in hosts if h.canary]
    if canaries:
        pops["canary"] = canaries
    return pops
