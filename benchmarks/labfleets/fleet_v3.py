"""Build one `v3-` held-out fleet for real, like fleet.build but with the third noise catalogue
(noise_v3) and the third attack set (attacks_v3), whose evidence may also be a row that the attack
made disappear (a deleted firewall rule).  Nothing leaves the lab namespace (docs/lab.md)."""

from __future__ import annotations

import random
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from diffy_analysis.errors import LabError
from diffy_fleetgen.truth import FleetTruth, evidence_matches
from diffy_lab import Lab, LabConfig, LabHost
from diffy_lab.spec import gateway

from . import attacks_v3, guard, noise, noise_v2, noise_v3
from .fleet import (
    APP,
    BASELINE_NAME,
    Built,
    _rows,
    collect_fleet,
    injected,
    new_fleet_dir,
    save_truth,
    wait_listening,
)
from .fleet_v2 import V2_WATCHED
from .hostexec import check_isolated
from .scenarios_v3 import HostPlanV3, ScenarioV3, plan_v3

GENERATOR = "heldout-lab/3"
# What the v3 procedures and noise write inside hosts, beyond guard.WATCHED and V2_WATCHED: the
# machine's own copies must not change (missing ones must stay missing).
V3_WATCHED = (
    "/etc/profile",
    "/etc/init.d",
    "/etc/rc2.d",
    "/etc/default/prometheus-node-exporter",
    "/etc/fluent-bit",
    "/etc/chrony",
    "/root/.bash_history",
    "/var/tmp/.sysd",
    "/var/tmp/.cache",
    "/tmp/systemd-private-cache",
    "/tmp/dbus-session-cache",
    "/mnt",
)
PACKAGES_NOT_ON_MACHINE = ("app-x", "prometheus-node-exporter", "fluent-bit")


def expected_ports(p: HostPlanV3) -> tuple[set[int], int]:
    ports = {22, 8080, 8000, 9100}
    ports |= {2020} if p.sidecar else set()
    ports |= {
        a.params.get("port", attacks_v3.LISTEN_PORT) for a in p.attacks if a.artifact in attacks_v3.LISTENING
    }
    return ports, len(ports) + noise.WORKERS["small"]  # + the queue workers' ephemeral ports


def packages(p: HostPlanV3) -> str:
    """The dpkg status stanzas this host adds: the app, the node exporter at its version, the
    sidecar agent where installed."""
    text = noise_v2.app_package(noise.RELEASES[1])
    text += "\n" + noise_v3.package(
        "prometheus-node-exporter", noise_v3.EXPORTER[p.cm_applied], "Prometheus exporter for machine metrics"
    )
    if p.sidecar:
        text += "\n" + noise_v3.package("fluent-bit", noise_v3.FLUENT_VERSION, "Fast log processor")
    return text


def benign(lab: Lab, host: LabHost, p: HostPlanV3, rng: random.Random) -> None:
    """The host's image, then the noise kinds its plan gives it."""
    check_isolated(lab, host)
    noise.image(host)
    noise_v2.private_mounts(host)
    noise_v2.dpkg_edit(lab, host, lambda text: text.rstrip("\n") + "\n\n" + packages(p))
    noise.deploy(host, 1, "small")
    noise_v3.image_v3(host, gateway(lab.config.subnet).split("/")[0])
    noise_v3.node_exporter(host, p.cm_applied)
    if p.hardware == "i4i":
        noise_v3.instance_store(host)
    noise_v3.worker_pool(host, p.workers, p.hardware)
    noise_v3.app_tmp(host, rng)
    noise_v3.az_endpoints(host, p.az, lab.config.subnet)
    if p.sidecar:
        noise_v3.sidecar_agent(host)


def prepare_hosts(lab: Lab, plans: list[HostPlanV3], seed: int) -> None:
    rng = random.Random(seed)
    pairs = list(zip(plans, lab.hosts, strict=True))
    for p, host in pairs:
        benign(lab, host, p, rng)
    for p, host in pairs:
        p.evidence = [attacks_v3.apply(lab, host, a) for a in p.attacks]
    for p, host in pairs:
        wait_listening(host, *expected_ports(p))


def check_evidence_v3(run_dir: Path, compromised: dict, hosts: list[str], baseline: tuple[Path, str]) -> None:
    """``added`` evidence names at least one row of its host and none of any clean host nor of the
    baseline; ``missing`` evidence names a row of every clean host and of the baseline, and none of
    its host (the attack deleted it)."""
    clean = [(run_dir, h) for h in hosts if h not in compromised] + [baseline]

    def hit(ev: dict, where: Path, host_id: str) -> bool:
        return any(evidence_matches(ev, ev["query"], r) for r in _rows(where, host_id, ev["query"]))

    for host_id, items in compromised.items():
        for ev in (ev for item in items for ev in item["evidence"]):
            own = hit(ev, run_dir, host_id)
            if ev["kind"] == "missing":
                if own:
                    raise LabError(f"{host_id}: 'missing' evidence {ev} still matches a collected row")
                absent = [h for where, h in clean if not hit(ev, where, h)]
                if absent:
                    raise LabError(f"'missing' evidence {ev} of {host_id} matches no row of clean {absent}")
                continue
            if not own:
                raise LabError(f"{host_id}: evidence {ev} matches no collected row")
            for where, other in clean:
                if hit(ev, where, other):
                    raise LabError(f"evidence {ev} of {host_id} also matches clean host {other}")


def _ruleset() -> str:
    """The machine's own nftables ruleset (the lab hosts' rules live in their own namespaces)."""
    out = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True, timeout=30, check=False)
    return out.stdout + out.stderr


def _machine_clean(before: dict[str, str], ruleset: str) -> None:
    changed = guard.changes(before, guard.snapshot(guard.WATCHED + V2_WATCHED + V3_WATCHED))
    status = Path("/var/lib/dpkg/status").read_text()
    changed += [f"dpkg status holds {p}" for p in PACKAGES_NOT_ON_MACHINE if f"Package: {p}\n" in status]
    if _ruleset() != ruleset:
        changed.append("the machine's nftables ruleset")
    if changed:
        raise LabError(f"the machine's own state changed during the build: {changed}")


def build(
    scenario: ScenarioV3,
    out: Path,
    *,
    name: str = "ev3",
    subnet: str = "10.213.112.0/24",
    log: Callable[[str], None] = print,
) -> Built:
    fleet_dir, root = new_fleet_dir(out, scenario.name)
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    before, ruleset = guard.snapshot(guard.WATCHED + V2_WATCHED + V3_WATCHED), _ruleset()
    plans = plan_v3(scenario)
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
    _machine_clean(before, ruleset)
    run_dir = root / run_id
    baseline_run = root / "baselines" / APP / BASELINE_NAME
    where = {"run_id": run_id, "run_dir": run_dir, "baseline_run": baseline_run, "base_id": base_id}
    truth = _truth(scenario, plans, ids, names, lab_name=name, **where)
    check_evidence_v3(run_dir, truth.compromised, truth.hosts, (baseline_run, base_id))
    return save_truth(fleet_dir, truth, timings, started=t0, log=log, label=scenario.name)


def populations(plans: list[HostPlanV3], ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in plans:
        for key, on in (("hardware:i4i", p.hardware == "i4i"), ("node_exporter:1.7.0", p.cm_applied)):
            if on:
                out.setdefault(key, []).append(ids[p.index])
    return out


def _truth(
    scenario: ScenarioV3,
    plans: list[HostPlanV3],
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
        "az": {ids[p.index]: p.az for p in plans},
        "api_workers": {ids[p.index]: p.workers for p in plans},
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
