"""Build one `v5-` held-out fleet for real, like fleet_v4.build but with the fifth noise catalogue
(noise_v5), the fifth attack set (attacks_v5) and the C2 stand-in of fleet_v2 on the beacon's ports.
Nothing leaves the lab namespace (docs/lab.md)."""

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

from . import attacks_v2, attacks_v5, guard, noise, noise_v5
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
from .fleet_v2 import C2_PY, V2_WATCHED, stop
from .fleet_v3 import V3_WATCHED, check_evidence_v3
from .fleet_v4 import V4_WATCHED
from .hostexec import check_isolated, sh
from .scenarios_v5 import HostPlanV5, ScenarioV5, plan_v5

GENERATOR = "heldout-lab/5"
C2_PORTS = (attacks_v5.BEACON_PORT, 8443)
# What the v5 procedures and noise write inside hosts, beyond the earlier sets' watch lists: the
# machine's own copies must not change (missing ones must stay missing).
V5_WATCHED = (
    "/etc/environment",
    "/etc/systemd/journald.conf",
    "/etc/ssh/sshd_config",
    "/etc/sysctl.d",
    "/etc/skel",
    "/var/log/auth.log",
    "/var/log/syslog",
    "/var/tmp/.systemd-udevd",
    "/var/tmp/.ops-inventory",
    "/var/tmp/.X1-cache",
    "/var/tmp/.app-x-hc",
    "/var/tmp/.ld-cache",
    "/var/tmp/systemd-journal-cat-7f3a.txt",
    "/var/tmp/app-x-backup-20261203.tar.gz.partial",
    "/tmp/.X1-cache",
    "/tmp/.font-cache-0",
    "/tmp/share",
    "/tmp/profile-app-x.svg",
)
SYSCTLS = (
    "net/ipv4/conf/all/send_redirects",
    "net/ipv4/conf/all/accept_redirects",
    "kernel/yama/ptrace_scope",
)
"""The machine's own live values, compared before and after (the hosts change their namespaces')."""


def expected_ports(p: HostPlanV5) -> tuple[set[int], int]:
    ports = {22, 8080} | ({9102} if p.release == 2 else set())
    ports |= {noise_v5.FILESHARE_PORT} if "adhoc_fileshare" in p.one_off else set()
    return ports, len(ports) + noise.WORKERS["small"]


def fresh_key(comment: str) -> str:
    """A fresh ed25519 public key made for this build (the private half is thrown away at once)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "k"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
            check=True,
            timeout=30,
            capture_output=True,
        )
        return path.with_suffix(".pub").read_text().strip()


def _connected(host: LabHost, port: int) -> bool:
    out = sh(host, "cat /proc/net/tcp")
    for line in out.splitlines()[1:]:
        parts = line.split()
        if len(parts) > 3 and parts[3] == "01" and int(parts[2].rsplit(":", 1)[1], 16) == port:
            return True
    return False


def wait_connected(host: LabHost, port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not _connected(host, port):
        if time.monotonic() > deadline:
            raise LabError(f"{host.name}: no ESTABLISHED connection to port {port}")
        time.sleep(0.3)


def benign(lab: Lab, host: LabHost, p: HostPlanV5, rng: random.Random, keys: dict[str, str]) -> None:
    """The host's image, release, populations and one-off noise."""
    check_isolated(lab, host)
    noise.image(host)
    noise_v5.image_v5(host, rng)
    noise.deploy(host, p.release, "small")
    if p.ops:
        noise_v5.ops_access(host, keys["ops"])
    if p.hardened:
        noise_v5.net_hardening(host)
    if "support_key" in p.one_off:
        noise_v5.support_key(host, keys["support"], lab.config.subnet)
    if "stuck_backup" in p.one_off:
        noise_v5.stuck_backup(host, rng)
    if "adhoc_fileshare" in p.one_off:
        noise_v5.adhoc_fileshare(host, rng)


def prepare_hosts(lab: Lab, plans: list[HostPlanV5], seed: int) -> None:
    rng = random.Random(seed)
    keys = {"ops": fresh_key("ansible-ops-access@cm"), "support": fresh_key("vendor-support")}
    pairs = list(zip(plans, lab.hosts, strict=True))
    for p, host in pairs:
        benign(lab, host, p, rng, keys)
    for p, host in pairs:
        wait_listening(host, *expected_ports(p))
        if "profiling_sidecar" in p.one_off:  # attaches to the running web server
            noise_v5.profiling_sidecar(host)
    for p, host in pairs:
        p.evidence = [attacks_v5.apply(lab, host, a) for a in p.attacks]
    for p, host in pairs:
        for a in p.attacks:
            if a.artifact in attacks_v5.CONNECTING:
                wait_connected(host, a.params.get("port", attacks_v5.BEACON_PORT))


def _sysctls() -> dict[str, str]:
    out = {}
    for name in SYSCTLS:
        path = Path("/proc/sys") / name
        out[name] = path.read_text().strip() if path.exists() else "missing"
    return out


def _machine_clean(before: dict[str, str], sysctls: dict[str, str]) -> None:
    watched = guard.WATCHED + V2_WATCHED + V3_WATCHED + V4_WATCHED + V5_WATCHED
    changed = guard.changes(before, guard.snapshot(watched))
    changed += [f"sysctl {k}" for k, v in _sysctls().items() if sysctls.get(k) != v]
    if changed:
        raise LabError(f"the machine's own state changed during the build: {changed}")


def c2_listener(lab: Lab) -> subprocess.Popen:
    """fleet_v2's C2 stand-in in the lab namespace (no route off it), on the beacon's ports."""
    argv = ["python3", "-c", C2_PY, attacks_v2.c2_address(lab), *map(str, C2_PORTS)]
    return subprocess.Popen(lab.controller_argv(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def build(
    scenario: ScenarioV5,
    out: Path,
    *,
    name: str = "e5a",
    subnet: str = "10.213.160.0/24",
    log: Callable[[str], None] = print,
) -> Built:
    fleet_dir, root = new_fleet_dir(out, scenario.name)
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    before = guard.snapshot(guard.WATCHED + V2_WATCHED + V3_WATCHED + V4_WATCHED + V5_WATCHED)
    sysctls = _sysctls()
    plans = plan_v5(scenario)
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
    _machine_clean(before, sysctls)
    run_dir = root / run_id
    baseline_run = root / "baselines" / APP / BASELINE_NAME
    where = {"run_id": run_id, "run_dir": run_dir, "baseline_run": baseline_run, "base_id": base_id}
    truth = _truth(scenario, plans, ids, names, lab_name=name, **where)
    check_evidence_v3(run_dir, truth.compromised, truth.hosts, (baseline_run, base_id))
    return save_truth(fleet_dir, truth, timings, started=t0, log=log, label=scenario.name)


def populations(plans: list[HostPlanV5], ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in plans:
        keys = (
            (f"app_version:{noise.RELEASES[2]}", p.release == 2),
            ("cm:ops-access", p.ops),
            ("tuning:cis-network", p.hardened),
        )
        for key, on in keys:
            if on:
                out.setdefault(key, []).append(ids[p.index])
    return out


def _truth(
    scenario: ScenarioV5,
    plans: list[HostPlanV5],
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
        "one_off_noise": {ids[p.index]: sorted(p.one_off) for p in plans if p.one_off},
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
