"""Collect a functional baseline now: run the collection on a fresh, clean instance and save it as
``<results_root>/baselines/<app>/<name>/`` (see diffy_analysis.baselines)."""

from __future__ import annotations

import shutil
import tempfile
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
    """Collect the hosts matching ``limit`` (usually one fresh instance) and save them as a baseline.

    The run goes to a staging results root first; only a run in which every host was collected
    becomes the baseline, so a half-collected baseline never hides differences later."""
    dest = baselines.baseline_path(results_root, app, name)
    if dest.exists() and not force:
        raise BaselineError(
            f"baseline {app}/{name} already exists at {dest}", hint="use --force to replace it"
        )
    root = Path(results_root)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = Path(tempfile.mkdtemp(prefix=".baseline-staging-", dir=root))
    try:
        result = collect(
            CollectOptions(
                limit=limit,
                inventory=tuple(inventory),
                collector=collector,
                results_root=staging,
                timeout=timeout,
            )
        )
        if not result.complete:
            bad = [
                f"{h.host} ({h.status}: {h.error})" for h in result.hosts if h.status not in ("ok", "partial")
            ]
            raise BaselineError(
                "not saving an incomplete baseline: " + ("; ".join(bad) or f"no host matched {limit!r}")
            )
        return baselines.save_from_run(result.run_dir, root, app, name, force=force)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
