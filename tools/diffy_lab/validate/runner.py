"""``diffy validate --run``: run the selected atomics on isolated lab hosts, collect with the real
playbook, analyse both ways, and say which tests were detected.

Layout of a validation (every lab uses ``cfg.name``/``cfg.subnet``, "overlay" isolation):

1. A clean **reference fleet** (``cfg.reference`` hosts, nothing run on them) is brought up and
   collected once. Its first host is the **baseline** (the "freshly launched instance"). When all
   atomics fit in one batch, the reference hosts are simply more hosts of that batch's lab.
2. The atomics go in **batches** of ``cfg.batch``: one lab per batch with one host per atomic plus
   one clean **control** host; two tests that write the same place never share a batch
   (``diffy_analysis/validate/batching.py``). Each atomic runs on its own host (prerequisites
   first), then the whole batch is collected with ``playbooks/collect.yml`` (native collector)
   over SSH, then the lab is
   torn down: nothing an atomic did survives its batch.
3. Each batch run is analysed together with the reference run twice: ``method="baseline"`` against
   the baseline host, and ``method="peers"`` (the reference hosts being the clean part of the fleet).
   A test is detected by a method when its host is flagged; the control and reference hosts must
   not be.
4. ``reanalyse(work)`` judges a finished (or stopped) validation's collected runs again with the
   current engine, without running anything: ``WORK/coverage.json`` keeps where each test ran.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from diffy_analysis.errors import CollectionError, LabError
from diffy_analysis.findings import Analysis, HostResult
from diffy_analysis.validate.atomics import Atomic
from diffy_analysis.validate.batching import batches as plan_batches
from diffy_analysis.validate.coverage import AtomicOutcome, CleanOutcome, Coverage, Verdict
from diffy_lab import Lab, LabConfig, hosts
from diffy_lab.system import run
from diffy_lab.validate import hoststate
from diffy_lab.validate.execute import Execution, execute

APP = "app_x"
PER_HOST_COLLECT_S = 60.0
Progress = Callable[[str], None]


@dataclass(frozen=True)
class RunConfig:
    root: Path
    """The Atomic Red Team checkout (hosts see it through their overlay's lower layer)."""
    work: Path
    """Results directories and per-host logs go here."""
    name: str = "val"
    subnet: str = "10.213.112.0/24"
    batch: int = 6
    reference: int = 8


# Paths every lab host has its own copy of: a checkout there would be invisible to the hosts.
_PER_HOST = ("/tmp", "/var/tmp", "/root", "/home", "/run", "/srv", "/etc")


def check_root(root: Path) -> None:
    resolved = root.resolve()
    for path in _PER_HOST:
        if resolved.is_relative_to(path):
            raise LabError(
                f"the atomics checkout {root} is under {path}, which every lab host has its own copy of",
                hint="put the checkout elsewhere (e.g. under /opt or /work) so the hosts can read it",
            )


def _lab(cfg: RunConfig, hosts: int) -> Lab:
    """A lab of ``hosts`` overlay-isolated hosts; every lab of the validation reuses one pair of SSH
    keys, so root's authorized_keys is the same on all of them (one "image")."""
    keys = cfg.work / "keys"
    if not (keys / "id_ed25519").is_file():
        keys.mkdir(parents=True, mode=0o700, exist_ok=True)
        for name, comment in (("id_ed25519", "diffy-lab-controller"), ("attacker_ed25519", "x@203.0.113.66")):
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(keys / name)])
    config = LabConfig(name=cfg.name, apps=[(APP, hosts)], subnet=cfg.subnet, isolation="overlay", keys=keys)
    return Lab(config)


def _collect(lab: Lab, results: Path, label: str) -> Path:
    from diffy_analysis.collect.runner import project_dir, runner_env  # noqa: PLC0415
    from diffy_analysis.contract import new_run_id  # noqa: PLC0415

    project, run_id = project_dir(), new_run_id()
    argv = ["ansible-playbook", str(project / "playbooks" / "collect.yml"), "-i", str(lab.inventory),
            "-l", APP, "-e", f"diffy_results_root={results}", "-e", "diffy_collect_collector=native",
            "-e", f"diffy_run_id={run_id}"]  # fmt: skip
    timeout = 120 + PER_HOST_COLLECT_S * len(lab.hosts)
    proc = lab.run_controller(
        argv, timeout=timeout, cwd=project, env=runner_env(project), capture_output=True, text=True
    )
    run_dir = results / run_id
    (results / f"{label}.ansible.log").write_text(proc.stdout[-200_000:] + proc.stderr[-50_000:])
    if not (run_dir / "manifest.json").is_file():
        raise CollectionError(
            f"collection of the {label} lab wrote no manifest (ansible-playbook rc {proc.returncode})",
            hint=f"see {results / (label + '.ansible.log')}",
        )
    return run_dir


def _by_host(analysis: Analysis) -> dict[str, HostResult]:
    return {key: h for h in analysis.hosts for key in (h.host, h.host_id)}


def _analyse(host_dirs: list[Path], baseline: Path) -> tuple[dict, dict]:
    from diffy_analysis.analyze.pipeline import analyze  # noqa: PLC0415

    return (
        _by_host(analyze(host_dirs, baseline=baseline, method="baseline")),
        _by_host(analyze(host_dirs, method="peers")),
    )


def _host_dirs(runs: list[Path], keys: list[str]) -> list[Path]:
    """The host directories of ``keys`` in ``runs`` (a batch's run and the reference run); a host
    whose collection failed has none and is left out (its test is then a miss, never dropped)."""
    found = []
    for key in keys:
        where = next((run / "hosts" / key for run in runs if (run / "hosts" / key).is_dir()), None)
        if where is not None:
            found.append(where)
    return found


def _reference(cfg: RunConfig, results: Path, say: Progress) -> tuple[Path, list[str]]:
    lab = _lab(cfg, cfg.reference)
    try:
        lab.up()
        say(f"reference fleet: {cfg.reference} clean hosts up; collecting")
        run = _collect(lab, results, "reference")
        ids = [h.instance_id or h.name for h in lab.hosts]
    finally:
        lab.down()
    return run, ids


@dataclass
class Batch:
    run: Path
    executions: dict[str, Execution]
    placed: dict[str, Atomic]
    """Atomic by host id."""
    clean: list[str]
    """Host ids of the batch's clean hosts (nothing run on them)."""


def run_batch(
    cfg: RunConfig, number: int, atomics: list[Atomic], results: Path, *, say: Progress, clean: int = 1
) -> Batch:
    """One lab: an atomic per host plus ``clean`` clean hosts, collected as one run."""
    lab = _lab(cfg, len(atomics) + clean)
    logs = cfg.work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    batch = Batch(Path(), {}, {}, [])
    try:
        lab.up()
        before = _snapshots(lab, cfg.root)
        for atomic, host in zip(atomics, lab.hosts, strict=False):
            record = execute(atomic, host, cfg.root, logs / f"{atomic.test_id}.log")
            key = host.instance_id or host.name
            batch.executions[key], batch.placed[key] = record, atomic
            say(
                f"batch {number}: {atomic.test_id} on {host.name}: exit {record.exit_code}, {record.seconds}s"
            )
        changed = _changes(before, _snapshots(lab, cfg.root))
        clean_hosts = lab.hosts[len(atomics) :]
        # What the clean hosts changed in the same minutes is the lab's own drift, not a test's.
        ambient = set().union(*(changed.get(h.name) or set() for h in clean_hosts))
        for host in lab.hosts[: len(atomics)]:
            found = hoststate.durable(changed.get(host.name), ambient)
            batch.executions[host.instance_id or host.name].durable = found
        batch.clean = [h.instance_id or h.name for h in clean_hosts]
        batch.run = _collect(lab, results, f"batch-{number:03d}")
    finally:
        lab.down()
    return batch


def _snapshots(lab: Lab, root: Path) -> dict[str, hoststate.Snapshot | None]:
    """Each host's state (None when its PID 1 is gone or the snapshot failed)."""
    out: dict[str, hoststate.Snapshot | None] = {}
    for host in lab.hosts:
        pid = hosts.init_pid(host)
        try:
            out[host.name] = hoststate.snapshot(pid, [str(root)]) if pid else None
        except OSError:
            out[host.name] = None
    return out


def _changes(
    before: dict[str, hoststate.Snapshot | None], after: dict[str, hoststate.Snapshot | None]
) -> dict[str, set[str] | None]:
    """Per host, what changed; None when either snapshot is missing or partial (nothing concluded)."""
    out: dict[str, set[str] | None] = {}
    for name, first in before.items():
        last = after.get(name)
        usable = first is not None and last is not None and not first.truncated and not last.truncated
        out[name] = hoststate.changes(first, last) if usable and first and last else None
    return out


def _judge(
    coverage: Coverage, number: int, *, tests: list[tuple[str, dict, dict]], clean: list[str],
    runs: list[Path], baseline: Path,
) -> None:  # fmt: skip
    """Judge one batch's tests both ways and append their outcomes. ``tests``: (host id, the
    atomic's identity as in coverage.json, its execution record); ``clean``: the clean host ids.

    Each test's host is judged in a fleet of the clean hosts and itself only: the batch is how the
    lab runs tests side by side, not a fleet with a dozen different compromises (four hosts each
    with its own change to a shell profile read as a table where novelty is common, and hid each
    other). A clean host counts as flagged when any of these analyses flags it."""
    clean_dirs = _host_dirs(runs, clean)
    clean_verdicts: dict[str, tuple[Verdict, Verdict]] = {}
    for key, atomic, execution in tests:
        mine = _host_dirs(runs, [key])
        by_baseline, by_peers = _analyse([*mine, *clean_dirs], baseline) if mine else ({}, {})
        coverage.tests.append(
            AtomicOutcome(
                technique=atomic["technique"], test=atomic["test"], name=atomic["name"], guid=atomic["guid"],
                host=key, batch=number, execution=execution,
                baseline=Verdict.of(by_baseline.get(key)), peers=Verdict.of(by_peers.get(key)),
            )
        )  # fmt: skip
        for c in clean:
            base, peers = Verdict.of(by_baseline.get(c)), Verdict.of(by_peers.get(c))
            seen = clean_verdicts.get(c)
            clean_verdicts[c] = (
                base if seen is None or (base.detected and not seen[0].detected) else seen[0],
                peers if seen is None or (peers.detected and not seen[1].detected) else seen[1],
            )
    if not tests:  # a batch with no test host: its clean hosts judged among themselves
        by_baseline, by_peers = _analyse(clean_dirs, baseline)
        clean_verdicts = {c: (Verdict.of(by_baseline.get(c)), Verdict.of(by_peers.get(c))) for c in clean}
    for key in clean:
        coverage.clean.append(CleanOutcome(key, number, *clean_verdicts[key]))


def _write(cfg_work: Path, coverage: Coverage) -> None:
    (cfg_work / "coverage.json").write_text(json.dumps(coverage.to_json(), indent=2) + "\n")


def validate(atomics: list[Atomic], cfg: RunConfig, *, say: Progress = lambda _: None) -> Coverage:
    """Run ``atomics`` (see the module's docstring); one lab only when they fit in one batch: the
    reference hosts are then part of that lab."""
    check_root(cfg.root)
    started = time.monotonic()
    results = cfg.work / "results"
    results.mkdir(parents=True, exist_ok=True)
    coverage = Coverage()
    batches = plan_batches(atomics, cfg.batch)
    single = len(batches) == 1
    reference_run, reference_ids = (None, []) if single else _reference(cfg, results, say)
    # Where everything ran, kept in coverage.json so that `--reanalyse WORK` can judge it again.
    layout: dict = {"reference_run": reference_run.name if reference_run else None, "reference_hosts_ids":
                    reference_ids, "runs": {}, "clean": {}}  # fmt: skip
    baseline_id = None
    for number, atomics_of_batch in enumerate(batches, start=1):
        batch = run_batch(
            cfg, number, atomics_of_batch, results, say=say, clean=cfg.reference if single else 1
        )
        runs = [batch.run] if reference_run is None else [batch.run, reference_run]
        baseline_id = batch.clean[0] if single else reference_ids[0]
        # reference_run is None exactly when the reference hosts are in this (single) batch
        baseline = (batch.run if reference_run is None else reference_run) / "hosts" / baseline_id
        tests = [
            (key, {"technique": a.technique, "test": a.number, "name": a.name, "guid": a.guid},
             batch.executions[key].to_json())
            for key, a in batch.placed.items()
        ]  # fmt: skip
        _judge(
            coverage, number, tests=tests, clean=[*batch.clean, *reference_ids], runs=runs, baseline=baseline
        )
        layout["runs"][str(number)], layout["clean"][str(number)] = batch.run.name, batch.clean
        # Written after every batch: a long validation stopped early still leaves its figures.
        coverage.engine = {"batches_done": number, "batches": len(batches), "complete": False,
                           "baseline_host": baseline_id, "layout": layout}  # fmt: skip
        _write(cfg.work, coverage)
        hit = [t for t in coverage.tests if t.batch == number]
        say(
            f"batch {number}/{len(batches)}: baseline {sum(t.baseline.detected for t in hit)}/{len(hit)}, "
            f"peers {sum(t.peers.detected for t in hit)}/{len(hit)}"
        )
    coverage.engine = {
        "collector": "native",
        "playbook": "playbooks/collect.yml",
        "isolation": "overlay",
        "reference_hosts": cfg.reference,
        "batch_size": cfg.batch,
        "batches": len(batches),
        "batches_done": len(batches),
        "complete": True,
        "baseline_host": baseline_id,
        "seconds": round(time.monotonic() - started, 1),
        "layout": layout,
    }
    _write(cfg.work, coverage)
    return coverage


def _run_of(results: Path, host: str) -> Path | None:
    """The collected run holding ``host`` (for a work directory written before the layout was kept)."""
    found = sorted(run for run in results.iterdir() if (run / "hosts" / host).is_dir())
    return found[0] if found else None


def reanalyse(work: Path, *, say: Progress = lambda _: None) -> Coverage:
    """Judge the runs a validation collected under ``work`` again with the current engine: nothing
    runs on any host. The executions (exit codes, prerequisites) are those coverage.json recorded;
    the command output tails are re-read from ``WORK/logs``."""
    try:
        old = json.loads((work / "coverage.json").read_text())
    except (OSError, ValueError) as exc:
        raise LabError(f"{work} holds no readable coverage.json: {exc}",
                       hint="give the --work directory of a `diffy validate --run`") from exc  # fmt: skip
    results = work / "results"
    engine = old.get("engine", {})
    layout = engine.get("layout") or {}
    tests_by_batch: dict[int, list[dict]] = {}
    for test in old.get("tests", []):
        tests_by_batch.setdefault(int(test["batch"]), []).append(test)
    clean_by_batch: dict[int, list[str]] = {}
    for clean in old.get("clean_hosts", []):
        clean_by_batch.setdefault(int(clean["batch"]), []).append(clean["host"])
    test_hosts = {t["host"] for tests in tests_by_batch.values() for t in tests}
    reference_run = layout.get("reference_run")
    if reference_run is None and len(tests_by_batch) > 1:
        # Older layout: the reference run is the one collected run with no test host in it.
        candidates = [r for r in results.iterdir() if (r / "hosts").is_dir()
                      and not any((r / "hosts" / h).is_dir() for h in test_hosts)]  # fmt: skip
        reference_run = candidates[0].name if len(candidates) == 1 else None
        if reference_run is None:
            raise LabError(f"cannot tell which run under {results} is the reference fleet")
    coverage = Coverage()
    for number in sorted(tests_by_batch):
        tests = tests_by_batch[number]
        run = (
            (results / layout["runs"][str(number)])
            if str(number) in layout.get("runs", {})
            else _run_of(results, tests[0]["host"])
        )
        if run is None:
            raise LabError(f"batch {number}'s collected run is not under {results}")
        runs = [run] if reference_run is None else [run, results / reference_run]
        clean = clean_by_batch.get(number, [])
        baseline_id = engine.get("baseline_host") or (
            clean[0] if reference_run is None
            else next(h for h in clean if (results / reference_run / "hosts" / h).is_dir())
        )  # fmt: skip
        baseline = runs[-1] / "hosts" / baseline_id
        keys = (
            "host",
            "exit_code",
            "seconds",
            "prerequisites",
            "prerequisites_met",
            "output_tail",
            "durable_changes",
            "durable_sample",
        )
        judged = []
        for t in tests:
            execution = {k: t.get(k if k != "host" else "lab_host") for k in keys}
            if execution["output_tail"] is None:
                execution["output_tail"] = output_tail(work / "logs" / f"{t['technique']}-{t['test']}.log")
            judged.append((t["host"], t, execution))
        _judge(coverage, number, tests=judged, clean=clean, runs=runs, baseline=baseline)
        say(f"batch {number}: re-analysed ({len(tests)} tests)")
    coverage.engine = {**engine, "reanalysed": True}
    return coverage


def output_tail(log: Path, limit: int = 1500) -> str:
    """The end of a test's log (its command's output comes last): what says why a command failed."""
    try:
        data = log.read_bytes()[-limit:]
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace")
