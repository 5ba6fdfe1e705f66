"""`diffy-analyze RUN --since PREVIOUS_RUN` (or `--since latest`): what is new in an app's fleet.

A scheduled service collects an app every day; the responder wants the rows that appeared (or
disappeared) since the last run.  Instance ids change as clusters roll, so hosts are not paired:
the two FLEETS are compared.  Both runs go through one normalization index (identity masking,
volatile-column detection over both), so a rolled instance's own name, address and PIDs never count
as change; a row is *appeared* when no host of the previous run had it and *disappeared* when no
host of this run has it.  Queries collected in only one of the two runs are not compared (their
rows would all look new) and are named instead.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from diffy_analysis import contract
from diffy_analysis.analyze.explain import describe
from diffy_analysis.errors import ResultsError, UsageError
from diffy_analysis.findings import Analysis, FleetChange, SinceComparison
from diffy_analysis.load import LoadOptions, open_results
from diffy_analysis.normalize.build import build_fleet
from diffy_analysis.normalize.index import FleetIndex
from diffy_analysis.normalize.rules import Config, load_config

LATEST = "latest"
MAX_CHANGES = 500  # listed; the rest are counted (a fleet rebuilt on a new image changes thousands)
NAMED_HOSTS = 20


def _manifest(run_dir: Path) -> dict:
    try:
        doc = json.loads((run_dir / contract.MANIFEST_NAME).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def find_previous_run(run_dir: Path, *, results_root: Path | None = None, app: str | None = None) -> Path:
    """The newest run of the same app stored under the results root, older than ``run_dir``.

    Runs live at ``<results_root>/<run_id>/``; the root defaults to the run's parent directory.
    Run ids start with their UTC timestamp, so they sort in time order."""
    run_dir = Path(run_dir)
    current = _manifest(run_dir)
    run_id = str(current.get("run_id") or run_dir.name)
    app = app or current.get("app")
    if not app:
        raise UsageError(f"--since {LATEST}: the run {run_dir} names no app; give --app or a run directory")
    root = Path(results_root) if results_root else run_dir.parent
    earlier = []
    for candidate in root.glob(f"*/{contract.MANIFEST_NAME}"):
        doc = _manifest(candidate.parent)
        other = str(doc.get("run_id") or "")
        if doc.get("app") == app and contract.is_run_id(other) and other < run_id:
            earlier.append((other, candidate.parent))
    if not earlier:
        raise ResultsError(f"--since {LATEST}: no earlier run of app {app!r} under {root}")
    return max(earlier)[1]


def _fleet_counts(index: FleetIndex, members: list[int]) -> np.ndarray:
    counts = np.zeros(index.n_features, dtype=np.int64)
    for i in members:
        counts[index.profiles[index.hosts[i].profile]] += 1
    return counts


def _holders(index: FleetIndex, members: list[int], fids: np.ndarray) -> dict[int, list[str]]:
    """Which of ``members`` hold each feature of ``fids`` (one pass over the hosts' profiles)."""
    out: dict[int, list[str]] = {}
    for i in members:
        for fid in np.intersect1d(index.profiles[index.hosts[i].profile], fids).tolist():
            out.setdefault(fid, []).append(index.hosts[i].label)
    return out


def compare_runs(
    current: Path | str, previous: Path | str, *, config: Config | Path | str | None = None
) -> SinceComparison:
    """Rows that appeared or disappeared fleet-wide between ``previous`` and ``current`` (two runs)."""
    if not isinstance(config, Config):
        config = load_config(config)
    options = LoadOptions(max_file_bytes=config.thresholds.max_file_mb * 1024 * 1024)
    results = open_results([Path(current), Path(previous)], options)
    runs = [r for r in results.runs if not r.bare and r.run_id]
    if len(runs) != 2 or runs[0].run_id == runs[1].run_id:
        raise UsageError("--since compares two different run directories (each with a manifest)")
    cur_id, prev_id = str(runs[0].run_id), str(runs[1].run_id)
    if runs[0].app and runs[1].app and runs[0].app != runs[1].app:
        raise UsageError(f"--since: {prev_id} is a run of {runs[1].app!r}, not of {runs[0].app!r}")
    index = build_fleet(results, config).index
    # queries that ran on each host (an empty result is a result)
    ran: list[frozenset[str]] = [entry.collected for entry in index.hosts]
    members: dict[str, list[int]] = {cur_id: [], prev_id: []}
    for i, entry in enumerate(index.hosts):
        members[str(entry.run_id)].append(i)
    for run_id, found in members.items():
        if not found:
            raise ResultsError(f"--since: no usable host in run {run_id}")
    collected = {run_id: set().union(*(ran[i] for i in found)) for run_id, found in members.items()}
    compared = collected[cur_id] & collected[prev_id]
    now, before = _fleet_counts(index, members[cur_id]), _fleet_counts(index, members[prev_id])
    n_now, n_before = len(members[cur_id]), len(members[prev_id])
    changed = [f for f in np.flatnonzero((now > 0) != (before > 0)).tolist() if index.query_of(f) in compared]
    fids = np.asarray(changed, dtype=np.int64)
    holders = {**_holders(index, members[prev_id], fids), **_holders(index, members[cur_id], fids)}
    changes = []
    for fid in changed:
        query, row = index.query_of(fid), index.row(fid)
        names = tuple(sorted(holders.get(fid, ()))[:NAMED_HOSTS])
        if now[fid]:
            kind, hosts, of = "appeared", int(now[fid]), n_now
            text = (
                f"{describe(query, row)} appeared: on {hosts} of {n_now} hosts now, none of {n_before} before"
            )
        else:
            kind, hosts, of = "disappeared", int(before[fid]), n_before
            text = f"{describe(query, row)} disappeared: on {hosts} of {n_before} hosts before, 0 now"
        changes.append(FleetChange(query, kind, row, text, hosts, of, names))  # type: ignore[arg-type]
    changes.sort(key=lambda c: (c.kind != "appeared", -c.hosts, c.query, c.explanation))
    ids = {run_id: {index.hosts[i].ref.host_id for i in found} for run_id, found in members.items()}
    return SinceComparison(
        previous_run=prev_id,
        current_run=cur_id,
        previous_hosts=n_before,
        current_hosts=n_now,
        changes=tuple(changes[:MAX_CHANGES]),
        queries_not_compared=tuple(sorted(collected[cur_id] ^ collected[prev_id])),
        hosts_kept=len(ids[cur_id] & ids[prev_id]),
        truncated=max(0, len(changes) - MAX_CHANGES),
    )


def with_since(
    analysis: Analysis,
    run_dir: Path,
    since: str,
    *,
    results_root: Path | None = None,
    config: Config | Path | str | None = None,
) -> Analysis:
    """``analysis`` of ``run_dir`` plus the fleet-wide changes since ``since`` (a run dir or ``latest``)."""
    if since == LATEST:
        previous = find_previous_run(run_dir, results_root=results_root, app=analysis.app)
    else:
        previous = Path(since)
        if not (previous / contract.MANIFEST_NAME).is_file():
            raise UsageError(f"--since {since}: not a run directory (no {contract.MANIFEST_NAME})")
    return dataclasses.replace(analysis, since=compare_runs(run_dir, previous, config=config))
