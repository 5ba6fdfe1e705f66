"""Generate a synthetic fleet: the run directory, a clean baseline host and the ground truth."""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from diffy_analysis.contract import HOSTS_DIR
from diffy_analysis.errors import DiffyError
from diffy_analysis.tables import Registry, core
from diffy_fleetgen.plan import FleetOptions, FleetPlan, make_host, plan_fleet
from diffy_fleetgen.processes import APP_VERSIONS
from diffy_fleetgen.truth import FleetTruth
from diffy_fleetgen.writer import options_json, write_run


@dataclass(frozen=True)
class GeneratedFleet:
    run_dir: Path
    truth_path: Path
    baseline_dir: Path
    """A clean host directory (host.json + results) of the majority population."""
    baseline_run_dir: Path
    """The same clean host as a one-host run directory."""

    def truth(self) -> FleetTruth:
        return FleetTruth.load(self.truth_path)


def synthetic_pack_bytes() -> bytes:
    """The pack the synthetic hosts answer: the registry's original 20 tables (tables/core.py), the
    ones fleetgen knows how to synthesize (hostgen.QUERIES), rendered like the default pack."""
    pack = Registry(core.SPECS).pack()
    return (json.dumps(pack, indent=2) + "\n").encode("utf-8")


def _pack_bytes(pack: Path | None) -> bytes:
    if pack is None:
        return synthetic_pack_bytes()
    path = pack
    try:
        return path.read_bytes()
    except OSError as err:
        raise DiffyError(
            f"cannot read the query pack {path}: {err.strerror}",
            hint="pass pack=... (--pack) when running outside a checkout",
        ) from err


def paths_for(out: Path, options: FleetOptions) -> GeneratedFleet:
    run_id = options.run_id()
    baseline_run = run_id[:-8] + "base" + run_id[-8:-2]
    return GeneratedFleet(
        run_dir=out / run_id,
        truth_path=out / f"{run_id}.truth.json",
        baseline_dir=out / "baselines" / baseline_run / HOSTS_DIR / "baseline-clean",
        baseline_run_dir=out / "baselines" / baseline_run,
    )


def generate_fleet(
    out: Path | str,
    options: FleetOptions | None = None,
    *,
    workers: int = 2,
    pack: Path | None = None,
    reuse: bool = False,
) -> GeneratedFleet:
    """Write a fleet for ``options`` under ``out`` (created if needed); return where everything is.

    With ``reuse`` an existing, complete fleet for the same options (same run id) is returned as is:
    the truth file is written last, so its presence means the fleet is complete.
    """
    options = options or FleetOptions()
    out = Path(out)
    paths = paths_for(out, options)
    if reuse and paths.truth_path.exists() and (paths.run_dir / "manifest.json").exists():
        return paths
    for stale in (paths.truth_path,):
        stale.unlink(missing_ok=True)
    for stale_dir in (paths.run_dir, paths.baseline_run_dir):
        if stale_dir.exists():
            shutil.rmtree(stale_dir)
    out.mkdir(parents=True, exist_ok=True)
    pack_bytes = _pack_bytes(pack)
    plan = plan_fleet(options)
    evidence = write_run(plan, paths.run_dir, pack_bytes, workers=workers)
    _write_baseline(options, paths, pack_bytes)
    truth = FleetTruth(
        run_id=paths.run_dir.name,
        run_dir=paths.run_dir,
        options=options_json(plan),
        compromised=evidence,
        populations=_populations(plan),
        noise=_noise(plan),
        hosts=[h.host_id for h in plan.hosts],
        unreachable=[h for h, _ in plan.unreachable],
        baseline_dir=paths.baseline_dir,
        baseline_run_dir=paths.baseline_run_dir,
    )
    tmp = paths.truth_path.with_suffix(".part")
    tmp.write_text(json.dumps(truth.to_json(out), indent=1) + "\n", "utf-8")
    tmp.replace(paths.truth_path)
    return paths


def _write_baseline(options: FleetOptions, paths: GeneratedFleet, pack_bytes: bytes) -> None:
    """A freshly launched clean instance of the majority population (old app version, small size)."""
    spec = make_host(
        options,
        250_000,
        random.Random(f"fleetgen/{options.seed}/baseline"),
        clean=True,
        app_version=APP_VERSIONS[0],
        instance_type="m6i.large",
    )
    spec = replace(spec, host_id="baseline-clean", boot_time=spec.collected_at - 900)
    plan = FleetPlan(replace(options, hosts=1, unreachable=0), [spec])
    write_run(plan, paths.baseline_run_dir, pack_bytes, workers=1, run_id=paths.baseline_run_dir.name)


def _populations(plan: FleetPlan) -> dict[str, list[str]]:
    pops: dict[str, list[str]] = {
        f"app_version:{APP_VERSIONS[1]}": [],
        "instance_type:m6i.2xlarge": [],
        "canary": [],
    }
    for h in plan.hosts:
        if h.app_version == APP_VERSIONS[1]:
            pops[f"app_version:{APP_VERSIONS[1]}"].append(h.host_id)
        if h.instance_type == "m6i.2xlarge":
            pops["instance_type:m6i.2xlarge"].append(h.host_id)
        if h.canary:
            pops["canary"].append(h.host_id)
        if h.patched:
            pops.setdefault("patched:sudo-security-update", []).append(h.host_id)
    return pops


def _noise(plan: FleetPlan) -> dict[str, list[str]]:
    return {
        "ssh_session": [h.host_id for h in plan.hosts if h.ssh_session],
        "cron_running": [h.host_id for h in plan.hosts if h.cron_running],
        "extra_kthreads": [h.host_id for h in plan.hosts if h.extra_kthreads],
    }
