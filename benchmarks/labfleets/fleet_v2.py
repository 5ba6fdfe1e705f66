"""Build one `v2-` held-out fleet for real, like fleet.build but with the second noise catalogue
(noise_v2), the second attack set (attacks_v2) and a C2 stand-in: a listener inside the lab
namespace (the bridge address, on 443 and 8443) that reverse shells connect to and that holds their
connections while the fleet is collected.  Nothing leaves the lab namespace (docs/lab.md)."""

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

from . import attacks_v2, guard, noise, noise_v2
from .fleet import (
    APP,
    BASELINE_NAME,
    Built,
    check_evidence,
    collect_fleet,
    injected,
    new_fleet_dir,
    save_truth,
    wait_listening,
)
from .hostexec import check_isolated, sh
from .scenarios_v2 import HostPlanV2, ScenarioV2, plan_v2

GENERATOR = "heldout-lab/2"
C2_PORTS = (443, 8443)
# What the v2 procedures and noise write inside hosts, beyond guard.WATCHED: the machine's own copies
# must not change (missing ones must stay missing).
V2_WATCHED = (
    "/etc/rc.local",
    "/etc/profile.d",
    "/etc/pam.d",
    "/etc/security/limits.d",
    "/etc/hosts",
    "/etc/pgbouncer",
    "/root/.bashrc",
    "/home",
    "/var/spool/cron",
    "/dev/shm/.x11-cache",
    "/dev/shm/.pulse-cookie",
    "/run/containerd",
    "/run/dpkg-state",
)

C2_PY = """\
import socket, sys, threading, time
held = []
def serve(port):
    srv = socket.create_server((sys.argv[1], port))
    while True:
        held.append(srv.accept()[0])
for port in map(int, sys.argv[2:]):
    threading.Thread(target=serve, args=(port,), daemon=True).start()
time.sleep(3600)
"""


def c2_listener(lab: Lab) -> subprocess.Popen:
    """The C2 stand-in, in the lab namespace (no route off it): accepts and holds connections."""
    argv = ["python3", "-c", C2_PY, attacks_v2.c2_address(lab), *map(str, C2_PORTS)]
    return subprocess.Popen(lab.controller_argv(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def deploy_key() -> str:
    """The app account's CI deploy key (the same public key on every host); the private half is
    thrown away at once."""
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "deploy"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ci-deploy@app-x", "-f", str(key)],
            check=True,
            timeout=30,
        )
        return key.with_suffix(".pub").read_text().strip()


def expected_ports(p: HostPlanV2) -> tuple[set[int], int]:
    ports = {22, 8080}
    ports |= {9102} if p.version == 2 or p.canary else set()
    ports |= {9010, 8081} if p.size == "large" else set()
    ports |= {2379, 2380} if p.coordinator else set()
    ports |= {6432} if p.pool else set()
    return ports, len(ports) + noise.WORKERS[p.size] + (1 if p.size == "large" else 0)


def _established(host: LabHost, remote_port: int) -> int:
    out = sh(host, "cat /proc/net/tcp")
    return sum(
        1
        for line in out.splitlines()[1:]
        if len(line.split()) > 3
        and line.split()[3] == "01"
        and int(line.split()[2].rsplit(":", 1)[1], 16) == remote_port
    )


def wait_established(host: LabHost, remote_port: int, count: int, timeout: float = 90) -> None:
    """Bounded wait for ``count`` ESTABLISHED outbound connections to ``remote_port``."""
    deadline = time.monotonic() + timeout
    while _established(host, remote_port) < count:
        if time.monotonic() > deadline:
            raise LabError(f"{host.name}: fewer than {count} connections to port {remote_port}")
        time.sleep(0.5)


def benign(lab: Lab, host: LabHost, p: HostPlanV2, key: str, rng: random.Random) -> None:
    """The host's image, its release and size, then the noise kinds its plan gives it."""
    check_isolated(lab, host)
    noise.image(host)
    release = noise_v2.CANARY if p.canary else noise.RELEASES[p.version]
    noise_v2.image_v2(lab, host, release, key, rng)
    if p.canary:
        noise_v2.deploy_canary(host, p.size)
    else:
        noise.deploy(host, p.version, p.size)
    if p.rotated:
        noise_v2.log_rotated(host)
    if p.upgraded:
        noise_v2.partial_upgrade(lab, host)
    if p.containers:
        noise_v2.containers(host, rng, p.containers)
    if p.pool:
        noise_v2.connection_pool(host)
    if p.tmux:
        noise_v2.admin_tmux(host)


def prepare_hosts(lab: Lab, plans: list[HostPlanV2], seed: int) -> None:
    rng = random.Random(seed)
    key = deploy_key()
    pairs = list(zip(plans, lab.hosts, strict=True))
    for p, host in pairs:
        benign(lab, host, p, key, rng)
    members = [host for p, host in pairs if p.coordinator]
    for host in members:
        noise_v2.coordinator(host, members)
    for p, host in pairs:
        p.evidence = [attacks_v2.apply(lab, host, a) for a in p.attacks]
    for p, host in pairs:
        wait_listening(host, *expected_ports(p))
    for p, host in pairs:
        if p.coordinator:
            wait_established(host, 2380, len(members) - 1)
        for a in p.attacks:
            if a.artifact == "reverse_shell":
                wait_established(host, a.params.get("port", attacks_v2.C2_PORT), 1)


def _machine_clean(before: dict[str, str]) -> None:
    changed = guard.changes(before, guard.snapshot(guard.WATCHED + V2_WATCHED))
    if "Package: app-x\n" in Path("/var/lib/dpkg/status").read_text():
        changed.append("/var/lib/dpkg/status (holds the lab's app-x stanza)")
    if changed:
        raise LabError(f"the machine's own files changed during the build: {changed}")


def build(
    scenario: ScenarioV2,
    out: Path,
    *,
    name: str = "ev2",
    subnet: str = "10.213.96.0/24",
    log: Callable[[str], None] = print,
) -> Built:
    fleet_dir, root = new_fleet_dir(out, scenario.name)
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    before = guard.snapshot(guard.WATCHED + V2_WATCHED)
    plans = plan_v2(scenario)
    lab = Lab(LabConfig(name=name, apps=[(APP, scenario.hosts)], subnet=subnet))
    c2: subprocess.Popen | None = None
    try:
        lab.up(timeout=180)
        timings["lab_up_s"] = time.monotonic() - t0
        log(f"{scenario.name}: lab up ({scenario.hosts} hosts) in {timings['lab_up_s']:.1f}s")
        c2 = c2_listener(lab)
        t = time.monotonic()
        prepare_hosts(lab, plans, scenario.seed)
        timings["prepare_s"] = time.monotonic() - t
        run_id, base_id, ids, names = collect_fleet(lab, plans, root, timings)
    finally:
        stop(c2)
        lab.down()
    _machine_clean(before)
    run_dir = root / run_id
    baseline_run = root / "baselines" / APP / BASELINE_NAME
    truth = _truth(
        scenario,
        plans=plans,
        ids=ids,
        names=names,
        run_id=run_id,
        run_dir=run_dir,
        baseline_run=baseline_run,
        base_id=base_id,
        lab_name=name,
    )
    check_evidence(run_dir, truth.compromised, truth.hosts, (baseline_run, base_id))
    return save_truth(fleet_dir, truth, timings, started=t0, log=log, label=scenario.name)


def populations(plans: list[HostPlanV2], ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in plans:
        hid = ids[p.index]
        for key, on in (
            (f"app_version:{noise.RELEASES[2]}", p.version == 2),
            ("size:large", p.size == "large"),
            (f"canary:{noise_v2.CANARY}", p.canary),
            ("role:coordinator", p.coordinator),
        ):
            if on:
                out.setdefault(key, []).append(hid)
    return out


def _truth(
    scenario: ScenarioV2,
    *,
    plans: list[HostPlanV2],
    ids: list[str],
    names: dict[str, str],
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
        "containers_per_host": {ids[p.index]: p.containers for p in plans if p.containers},
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
