"""Collect a functional baseline now: playbooks/baseline.yml on a fresh, clean instance writes
``<results_root>/baselines/<app>/<name>/`` (see diffy_analysis.baselines)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from diffy_analysis import baselines
from diffy_analysis.collect.options import CollectOptions
from diffy_analysis.collect.runner import collect
from diffy_analysis.errors import BaselineError


def collect_baseline(
    app: str,
    name: str,
    *,
    limit: str,
    inventory: Sequence[Path] = (),
    collector: str = "auto",
    results_root: Path,
    force: bool = False,
    timeout: float = 1800,
) -> baselines.Baseline:
    """Run playbooks/baseline.yml on ONE fresh instance (``limit``) and record the baseline.

    Only a baseline whose host was collected is kept: a half-collected baseline would hide
    differences later, so an incomplete one is removed again and reported."""
    dest = baselines.baseline_path(results_root, app, name)
    existed = dest.exists()
    if existed and not force:
        raise BaselineError(
            f"baseline {app}/{name} already exists at {dest}", hint="use --force to replace it"
        )
    extravars: dict[str, object] = {"diffy_baseline_app": app, "diffy_baseline_name": name}
    if force:
        extravars["diffy_collect_overwrite"] = True
    result = collect(
        CollectOptions(
            limit=limit,
            inventory=tuple(inventory),
            collector=collector,
            results_root=Path(results_root),
            playbook="baseline.yml",
            extravars=extravars,
            result_dir=dest,
            timeout=timeout,
        )
    )
    if not result.complete:
        bad = [f"{h.host} ({h.status}: {h.error})" for h in result.hosts if h.status not in ("ok", "partial")]
        if not existed:
            shutil.rmtree(dest, ignore_errors=True)
        raise BaselineError(
            "not saving an incomplete baseline: " + ("; ".join(bad) or f"no host matched {limit!r}")
        )
    return baselines.record_baseline(
        dest, app=app, name=name, source=f"playbooks/baseline.yml -l {limit} (run {result.run_id})"
    )
