"""Build one `v4-` held-out fleet for real, like fleet_v3.build but with the fourth noise catalogue
(noise_v4) and the fourth attack set (attacks_v4).  Nothing leaves the lab namespace (docs/lab.md)."""

from __future__ import annotations

import random
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from diffy_analysis.errors import LabError
from diffy_fleetgen.truth import FleetTruth
from diffy_lab import Lab, LabConfig, LabHost

from . import attacks_v4, guard, noise, noise_v2, noise_v4
from .fleet import (
    APP,
    BASELINE_NAME,
    Built,
    collect_fleet,
    injected,
    new_fleet_dir,
    save_truth,
    wait_listening,
)
from .fleet_v2 import V2_WATCHED
from .fleet_v3 import V3_WATCHED, check_evidence_v3
from .hostexec import check_isolated
from .scenarios_v4 import HostPlanV4, ScenarioV4, plan_v4

GENERATOR = "heldout-lab/4"
# What the v4 procedures and noise write inside hosts, beyond the earlier sets' watch lists: the
# machine's own copies must not change (missing ones must stay missing).
V4_WATCHED = (
    "/etc/bash.bashrc",
    "/etc/pam.d/sshd",
    "/etc/pam.d/common-auth",
    "/etc/cron.hourly",
    "/etc/cron.daily",
    "/etc/amazon",
    "/etc/ssh/sshd_config.d",
    "/var/mail",
    "/var/tmp/zabbix_agentd",
    "/var/tmp/stunnel4",
    "/var/tmp/.font-cache",
    "/var/tmp/.X11-cache",
    "/var/tmp/.pulse-cache",
    "/var/tmp/.efs-cache",
    "/var/tmp/.ssh-agent-cache",
    "/home/admin",
)
PACKAGES_NOT_ON_MACHINE = ("app-x", "amazon-ssm-agent")


def expected_ports(p: HostPlanV4) -> tuple[set[int], int]:
    ports = noise_v4.expected_ports(p.release)
    ports |= {p.efs_port} if p.efs else set()
    ports |= {
        a.params.get("port", attacks_v4.LISTEN_PORT) for a in p.attacks if a.artifact in attacks_v4.LISTENING
    }
    return ports, len(ports)


def admin_keys() -> dict[bool, str]:
    """The launch template's two key pairs (before and after the rotation): fresh ed25519 public
    keys made for this build (the truth does not depend on their value)."""
    keys = {}
    with tempfile.TemporaryDirectory() as tmp:
        for new, name in noise_v4.KEYPAIRS.items():
            path = Path(tmp) / name
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)],
                check=True,
                timeout=30,
                capture_output=True,
            )
            keys[new] = path.with_suffix(".pub").read_text().strip()
    return keys


def benign(lab: Lab, host: LabHost, p: HostPlanV4, rng: random.Random, keys: dict[bool, str]) -> None:
    """The host's image, then the noise kinds and populations its plan gives it."""
    check_isolated(lab, host)
    noise.image(host)
    noise_v2.private_mounts(host)
    release = noise_v4.RELEASES[p.release]
    noise_v2.dpkg_edit(
        lab, host, lambda text: text.rstrip("\n") + "\n\n" + noise_v4.packages(release, p.ssm_updated)
    )
    noise_v4.image_v4(host, p.keypair_new, keys)
    noise_v4.deploy_v4(host, p.release)
    noise_v4.ssm_agent(host, p.ssm_updated)
    if p.efs:
        noise_v4.efs_mount(host, p.efs_port)
    if p.cron_mail:
        noise_v4.cron_mail(host, rng)
    if p.admin_traces:
        noise_v4.admin_traces(host, rng)


def prepare_hosts(lab: Lab, plans: list[HostPlanV4], seed: int) -> None:
    rng = random.Random(seed)
    keys = admin_keys()
    pairs = list(zip(plans, lab.hosts, strict=True))
    for p, host in pairs:
        benign(lab, host, p, rng, keys)
    for p, host in pairs:  # the daemon must run the old binary before the upgrade replaces it
        wait_listening(host, {noise_v4.HEALTHD_PORT}, 1)
        if p.pending_restart:
            noise_v4.pending_restart(host)
    for p, host in pairs:
        p.evidence = [attacks_v4.apply(lab, host, a) for a in p.attacks]
    for p, host in pairs:
        wait_listening(host, *expected_ports(p))


def _opt_names() -> list[str]:
    opt = Path("/opt")
    return sorted(p.name for p in opt.iterdir()) if opt.is_dir() else []


def _machine_clean(before: dict[str, str], opt: list[str]) -> None:
    changed = guard.changes(before, guard.snapshot(guard.WATCHED + V2_WATCHED + V3_WATCHED + V4_WATCHED))
    status = Path("/var/lib/dpkg/status").read_text()
    changed += [f"dpkg status holds {p}" for p in PACKAGES_NOT_ON_MACHINE if f"Package: {p}\n" in status]
    if _opt_names() != opt:
        changed.append("/opt")
    if changed:
        raise LabError(f"the machine's own state changed during the build: {changed}")


def build(
    scenario: ScenarioV4,
    out: Path,
    *,
    name: str = "e4a",
    subnet: str = "10.213.150.0/24",
    log: Callable[[str], None] = print,
) -> Built:
    fleet_dir, root = new_fleet_dir(out, scenario.name)
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    before = guard.snapshot(guard.WATCHED + V2_WATCHED + V3_WATCHED + V4_WATCHED)
    opt = _opt_names()
    plans = plan_v4(scenario)
    lab = Lab(LabConfig(name=name, apps=[(APP, scenario.hosts)], subnet=subnet))
    try:
        lab.up(timeout=180)
        timings["lab_up_s"] = time.monotonic() - t0
        log(f"{scenario.name}: lab up ({scenario.hosts} hosts) in {timings['lab_up_s']:.1f}s")
        t = time.monotonic()
        prepare_hosts(lab, plans, scenario.seed)
        timings["prepare_s"] = time.monotonic() - t
        run_id, base_id, ids, names = collect_fleet(lab, plans, root, timings)
    finally:
        lab.down()
    _machine_clean(before, opt)
    run_dir = root / run_id
    baseline_run = root / "baselines" / APP / BASELINE_NAME
    where = {"run_id": run_id, "run_dir": run_dir, "baseline_run": baseline_run, "base_id": base_id}
    truth = _truth(scenario, plans, ids, names, lab_name=name, **where)
    check_evidence_v3(run_dir, truth.compromised, truth.hosts, (baseline_run, base_id))
    return save_truth(fleet_dir, truth, timings, started=t0, log=log, label=scenario.name)


def populations(plans: list[HostPlanV4], ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in plans:
        keys = (
            (f"app_release:{noise_v4.RELEASES['rollout']}", p.release == "rollout"),
            (f"canary:{noise_v4.RELEASES['canary']}", p.release == "canary"),
            (f"keypair:{noise_v4.KEYPAIRS[True]}", p.keypair_new),
            ("role:efs-ingest", p.efs),
        )
        for key, on in keys:
            if on:
                out.setdefault(key, []).append(ids[p.index])
    return out


def _truth(
    scenario: ScenarioV4,
    plans: list[HostPlanV4],
    ids: list[str],
    names: dict[str, str],
    *,
    run_id: str,
    run_dir: Path,
    baseline_run: Path,
    base_id: str,
    lab_name: str,
) -> FleetTruth:
    compromised, noise_map = injected(plans, ids, scenario.campaign)
    options = {
        "scenario": scenario.name,
        "generator": GENERATOR,
        "description": scenario.description,
        "hosts": scenario.hosts,
        "seed": scenario.seed,
        "lab": lab_name,
        "collector": "native",
        "host_names": names,
        "efs_ports": {ids[p.index]: p.efs_port for p in plans if p.efs},
    }
    return FleetTruth(
        run_id=run_id,
        run_dir=run_dir,
        options=options,
        compromised=compromised,
        populations=populations(plans, ids),
        noise=noise_map,
        hosts=sorted(ids),
        baseline_dir=baseline_run / "hosts" / base_id,
        baseline_run_dir=baseline_run,
    )
