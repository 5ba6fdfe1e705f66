"""Build one held-out fleet for real: bring up a lab, give every host its benign state, attack the
chosen hosts, collect with playbooks/collect.yml over SSH (native collector), save a clean host as
the baseline with playbooks/baseline.yml, check the planted evidence against the collected rows,
write truth.json next to the run, and prove the machine's own files did not change."""

from __future__ import annotations

import json
import random
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

from diffy_analysis.contract import new_run_id
from diffy_analysis.errors import LabError
from diffy_fleetgen.truth import FleetTruth, evidence_matches
from diffy_lab import Lab, LabConfig, LabHost

from . import attacks, guard, noise
from .hostexec import check_isolated, sh
from .scenarios import HostPlan, Scenario, plan

REPO = Path(__file__).resolve().parents[2]
GENERATOR = "heldout-lab/1"
APP = "app_x"
BASELINE_NAME = "clean"


@dataclass
class Built:
    """What a build produced (paths absolute) and how long each phase took."""

    fleet_dir: Path
    truth: FleetTruth
    timings: dict[str, float] = field(default_factory=dict)


def _listening(host: LabHost) -> set[int]:
    out = sh(host, "cat /proc/net/tcp /proc/net/tcp6")
    ports = set()
    for line in out.splitlines()[1:]:
        parts = line.split()
        if len(parts) > 3 and parts[3] == "0A":  # TCP_LISTEN
            ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports


def wait_listening(host: LabHost, ports: set[int], count: int, timeout: float = 60) -> None:
    """Bounded wait until the host listens on ``ports`` and on at least ``count`` ports in all (the
    JVM needs a few seconds; workers bind ephemeral ports)."""
    deadline = time.monotonic() + timeout
    while True:
        seen = _listening(host)
        if ports <= seen and len(seen) >= count:
            return
        if time.monotonic() > deadline:
            raise LabError(f"{host.name}: still not listening on {sorted(ports - seen)} ({len(seen)} ports)")
        time.sleep(0.3)


def expected_ports(p: HostPlan) -> tuple[set[int], int]:
    ports = (
        {22, 8080} | ({9102} if p.version == 2 else set()) | ({9010, 8081} if p.size == "large" else set())
    )
    ports |= {a.params.get("port", 4444) for a in p.attacks if a.artifact == "listener"}
    workers = noise.WORKERS[p.size]
    return ports, len(ports) + workers + (1 if p.size == "large" else 0)  # + the JVM's RMI port


def prepare_hosts(
    lab: Lab, plans: list[HostPlan], seed: int, targets: list[LabHost] | None = None
) -> list[subprocess.Popen]:
    """Benign state on every host (``targets``, default all of the lab's, in plan order), then the
    attacks, then the sparse transient noise (an admin's SSH session, returned so the caller can end
    it after collecting)."""
    rng = random.Random(seed)
    pairs = list(zip(plans, lab.hosts if targets is None else targets, strict=True))
    for p, host in pairs:
        check_isolated(lab, host)
        noise.image(host)
        noise.per_host(host, rng, extra_mount=p.extra_mount)
        noise.deploy(host, p.version, p.size)
        if p.timer:
            noise.timer_running(host)
    for p, host in pairs:
        p.evidence = [attacks.apply(lab, host, a) for a in p.attacks]
    for p, host in pairs:
        wait_listening(host, *expected_ports(p))
    return [noise.ssh_session(lab, host) for p, host in pairs if p.ssh_session]


def end_sessions(sessions: list[subprocess.Popen]) -> None:
    for session in sessions:
        session.terminate()
        try:
            session.wait(timeout=5)
        except subprocess.TimeoutExpired:
            session.kill()
            session.wait(timeout=5)


def playbook(lab: Lab, name: str, limit: str, root: Path, **extra: str) -> None:
    argv = [
        "ansible-playbook",
        f"playbooks/{name}",
        "-i",
        str(lab.inventory),
        "-l",
        limit,
        "-e",
        f"diffy_results_root={root}",
        "-e",
        "diffy_collect_collector=native",
    ]
    for key, value in extra.items():
        argv += ["-e", f"{key}={value}"]
    proc = lab.run_controller(argv, timeout=900, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        raise LabError(f"{name} failed (rc {proc.returncode}): {(proc.stdout + proc.stderr)[-2000:]}")


class _Planned(Protocol):
    baseline: bool


class Collected(NamedTuple):
    run_id: str
    base_id: str
    """The baseline host's instance id."""
    ids: list[str]
    names: dict[str, str]
    """instance id -> lab host name"""


def collect_fleet(lab: Lab, plans: Sequence[_Planned], root: Path, timings: dict[str, float]) -> Collected:
    """Collect the whole app with playbooks/collect.yml, then the plan's baseline host with
    playbooks/baseline.yml (both builders, v1 and v2). Timings land in ``timings`` (collect_s,
    baseline_s)."""
    t = time.monotonic()
    run_id = new_run_id()
    playbook(lab, "collect.yml", APP, root, diffy_run_id=run_id)
    timings["collect_s"] = time.monotonic() - t
    base = next(h for p, h in zip(plans, lab.hosts, strict=True) if p.baseline)
    t = time.monotonic()
    playbook(
        lab,
        "baseline.yml",
        base.instance_id,
        root,
        diffy_baseline_app=APP,
        diffy_baseline_name=BASELINE_NAME,
    )
    timings["baseline_s"] = time.monotonic() - t
    ids = [h.instance_id for h in lab.hosts]
    return Collected(run_id, base.instance_id, ids, {h.instance_id: h.name for h in lab.hosts})


def _rows(run_dir: Path, host_id: str, query: str) -> list[dict]:
    path = run_dir / "hosts" / host_id / f"{query}.json"
    return json.loads(path.read_text()) if path.exists() else []


class _Planned(Protocol):
    index: int
    attacks: Sequence
    evidence: Sequence
    noise: Sequence[str]


def new_fleet_dir(out: Path, scenario: str) -> tuple[Path, Path]:
    """``OUT/<scenario>`` and its ``results`` directory, created; an existing fleet is never reused."""
    fleet_dir = (out / scenario).resolve()
    if fleet_dir.exists():
        raise LabError(f"{fleet_dir} exists; remove it or choose another --out")
    root = fleet_dir / "results"
    root.mkdir(parents=True, mode=0o700)
    return fleet_dir, root


def injected(
    plans: Sequence[_Planned], ids: list[str], campaign: str | None
) -> tuple[dict[str, list], dict[str, list[str]]]:
    """The truth's ``compromised`` (host id -> its injected artifacts, each with its evidence) and
    ``noise`` (kind -> host ids), in plan order: the same in every set's builder."""
    compromised: dict[str, list] = {}
    noise_map: dict[str, list[str]] = {}
    for p in plans:
        hid = ids[p.index]
        if p.attacks:
            compromised[hid] = [
                {"artifact": a.artifact, "campaign": campaign, "params": a.params, "evidence": ev}
                for a, ev in zip(p.attacks, p.evidence, strict=True)
            ]
        for kind in p.noise:
            noise_map.setdefault(kind, []).append(hid)
    return compromised, noise_map


def save_truth(
    fleet_dir: Path,
    truth: FleetTruth,
    timings: dict[str, float],
    *,
    started: float,
    log: Callable[[str], None],
    label: str,
) -> Built:
    """Every set's last step, after its evidence check: the build's time into the truth, truth.json
    written and read back by the format's own reader."""
    timings["total_s"] = time.monotonic() - started
    truth.options["build_seconds"] = round(timings["total_s"], 1)
    (fleet_dir / "truth.json").write_text(json.dumps(truth.to_json(fleet_dir), indent=2) + "\n")
    FleetTruth.load(fleet_dir / "truth.json")
    log(f"{label}: built in {timings['total_s']:.1f}s -> {fleet_dir}")
    return Built(fleet_dir, truth, timings)


def check_evidence(
    run_dir: Path, compromised: dict, hosts: list[str], baseline: tuple[Path, str] | None = None
) -> None:
    """Every evidence item names at least one row of its host and no row of any clean host nor of
    the baseline (run dir, host id): the truth says exactly what the attack created."""
    clean = [(run_dir, h) for h in hosts if h not in compromised] + ([baseline] if baseline else [])
    for host_id, items in compromised.items():
        for ev in (ev for item in items for ev in item["evidence"]):
            if not any(evidence_matches(ev, ev["query"], r) for r in _rows(run_dir, host_id, ev["query"])):
                raise LabError(f"{host_id}: evidence {ev} matches no collected row")
            for where, other in clean:
                if any(evidence_matches(ev, ev["query"], r) for r in _rows(where, other, ev["query"])):
                    raise LabError(f"evidence {ev} of {host_id} also matches clean host {other}")


def build(
    scenario: Scenario,
    out: Path,
    *,
    name: str = "evl",
    subnet: str = "10.213.64.0/24",
    log: Callable[[str], None] = print,
) -> Built:
    fleet_dir, root = new_fleet_dir(out, scenario.name)
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    before = guard.snapshot()
    plans = plan(scenario)
    lab = Lab(LabConfig(name=name, apps=[(APP, scenario.hosts)], subnet=subnet))
    sessions: list[subprocess.Popen] = []
    try:
        lab.up(timeout=120)
        timings["lab_up_s"] = time.monotonic() - t0
        log(f"{scenario.name}: lab up ({scenario.hosts} hosts) in {timings['lab_up_s']:.1f}s")
        t = time.monotonic()
        sessions = prepare_hosts(lab, plans, scenario.seed)
        time.sleep(1.0)  # the SSH sessions log in (utmp) before collection starts
        timings["prepare_s"] = time.monotonic() - t
        run_id, base_id, ids, names = collect_fleet(lab, plans, root, timings)
    finally:
        end_sessions(sessions)
        lab.down()
    changed = guard.changes(before, guard.snapshot())
    if changed:
        raise LabError(f"the machine's own files changed during the build: {changed}")
    run_dir = root / run_id
    baseline_run = root / "baselines" / APP / BASELINE_NAME
    truth = _truth(
        scenario,
        plans,
        ids,
        names,
        run_id=run_id,
        run_dir=run_dir,
        baseline_run=baseline_run,
        base_id=base_id,
        lab_name=name,
    )
    check_evidence(run_dir, truth.compromised, truth.hosts, (baseline_run, base_id))
    return save_truth(fleet_dir, truth, timings, started=t0, log=log, label=scenario.name)


def _truth(
    scenario: Scenario,
    plans: list[HostPlan],
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
    populations: dict[str, list[str]] = {}
    for p in plans:
        hid = ids[p.index]
        if p.version == 2:
            populations.setdefault(f"app_version:{noise.RELEASES[2]}", []).append(hid)
        if p.size == "large":
            populations.setdefault("size:large", []).append(hid)
    options = {
        "scenario": scenario.name,
        "generator": GENERATOR,
        "description": scenario.description,
        "hosts": scenario.hosts,
        "seed": scenario.seed,
        "lab": lab_name,
        "collector": "native",
        "host_names": names,
    }
    return FleetTruth(
        run_id=run_id,
        run_dir=run_dir,
        options=options,
        compromised=compromised,
        populations=populations,
        noise=noise_map,
        hosts=sorted(ids),
        baseline_dir=baseline_run / "hosts" / base_id,
        baseline_run_dir=baseline_run,
    )
