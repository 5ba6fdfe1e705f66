"""Method 1, functional baseline: every host compared with one clean reference host.

Per host and query (only queries collected on both sides):

* **added**: a normalized row on the host, not on the baseline;
* **missing**: a normalized row on the baseline, not on the host;
* **changed**: an added and a missing row with the same key (``system_binaries``: same path,
  different hash), with the differing columns named.

Volatile columns are already gone (normalize/), so pids and times never show up. Rows whose value
varies on every host of the fleet (a random port) are weak evidence, as in the peers method.

**Population differences.** A difference shared by at least ``baseline_population_fraction`` of the
hosts (and at least ``population_min_hosts``) is a *population difference*: half the fleet on a
newer package than the baseline is a legitimate population (a rolling deploy), not a compromise.
It is reported once, in ``Analysis.population_differences``, with how many hosts share it, and is
not held against any host (no weight, no outlier) - except in a security table: there a difference
on fewer than half the hosts with no package difference travelling with it is a campaign's artifact
and stays on every host that has it (analyze/verdict.py).

Work is linear in hosts: identical profiles are compared once.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from diffy_analysis.analyze.activity import mark_activity
from diffy_analysis.analyze.candidates import Candidate, population_share
from diffy_analysis.analyze.entries import EntryModel
from diffy_analysis.analyze.peers import pair_changed
from diffy_analysis.analyze.verdict import CAMPAIGN_MAX_FRACTION, refine
from diffy_analysis.normalize.index import FleetIndex, HostEntry
from diffy_analysis.normalize.volatile import TemplateStats


@dataclass
class BaselineOutcome:
    candidates: list[list[Candidate]]
    """Per host (index order), population differences removed."""
    population: list[tuple[Candidate, int]]
    """(difference, hosts sharing it), most significant first."""
    settings: dict[str, object] = field(default_factory=dict)


def _signature(c: Candidate) -> tuple[str, int, int | None]:
    return (c.kind, c.fid, c.ref_fid)


def _missing(index: FleetIndex, fid: int, stats: TemplateStats, df: np.ndarray, n_hosts: int) -> Candidate:
    """A baseline row the host lacks; weak when it is the baseline's own per-host value (a random port)."""
    varying = stats.weak_column(fid)
    weight = index.significance(fid) * (index.config.thresholds.weak_weight if varying else 1.0)
    return Candidate(
        "missing",
        fid,
        weight,
        "weak" if varying else "strong",
        varying_column=varying,
        hosts_with_row=int(df[fid]),
        hosts_compared=n_hosts,
    )


def _held_against(
    index: FleetIndex, model: EntryModel, sig: tuple[str, int, int | None], count: int, n_hosts: int
) -> bool:
    """A security-table difference on a minority of hosts with no package travelling with it is a
    campaign's artifact, never a population difference."""
    kind, fid, _ = sig
    if not model.security(fid) or count >= CAMPAIGN_MAX_FRACTION * n_hosts:
        return False
    return model.travels_with(fid, absent=kind == "missing") is None


def analyze_baseline(
    index: FleetIndex, reference: HostEntry, model: EntryModel | None = None
) -> BaselineOutcome:
    t = index.config.thresholds
    model = model or EntryModel(index)
    n_hosts = len(index.hosts)
    df = index.document_frequency()
    stats = TemplateStats(index, df, n_hosts)
    base = index.profiles[reference.profile]
    base_queries = reference.collected

    per_profile: dict[int, list[Candidate]] = {}
    for profile in sorted({h.profile for h in index.hosts}):
        features = index.profiles[profile]
        added: list[Candidate] = []
        for fid in np.setdiff1d(features, base, assume_unique=True).tolist():
            if index.query_of(fid) not in base_queries:
                continue
            varying = stats.weak_column(fid)
            variant = stats.variant_column(fid) if varying is None else None
            weak = varying is not None or variant is not None
            added.append(
                Candidate(
                    "added",
                    fid,
                    index.significance(fid) * (t.weak_weight if weak else 1.0),
                    "weak" if weak else "strong",
                    varying_column=varying,
                    reason=f"one of several {variant} variants shared across the fleet (a population trait)"
                    if variant
                    else None,
                    hosts_with_row=int(df[fid]),
                    hosts_compared=n_hosts,
                )
            )
        missing = [
            _missing(index, fid, stats, df, n_hosts)
            for fid in np.setdiff1d(base, features, assume_unique=True).tolist()
        ]
        added = mark_activity(index, features, added, t.weak_weight)
        found = pair_changed(index, added, missing, features)
        per_profile[profile] = [refine(index, model, c, t.weak_weight, stats.variant_column) for c in found]

    per_host: list[list[Candidate]] = []
    shared: Counter[tuple[str, int, int | None]] = Counter()
    for host in index.hosts:
        found = [c for c in per_profile[host.profile] if index.query_of(c.fid) in host.collected]
        per_host.append(found)
        shared.update({_signature(c) for c in found})
    limit = max(t.population_min_hosts, math.floor(t.baseline_population_fraction * n_hosts) + 1)
    population_sigs = {
        sig
        for sig, count in shared.items()
        if population_share(count, n_hosts, t.population_min_hosts, t.baseline_population_fraction)
        and not _held_against(index, model, sig, count, n_hosts)
    }
    population: dict[tuple[str, int, int | None], Candidate] = {}
    kept: list[list[Candidate]] = []
    for found in per_host:
        mine = []
        for c in found:
            sig = _signature(c)
            if sig in population_sigs:
                population.setdefault(sig, c)
            else:
                mine.append(c)
        kept.append(mine)
    listed = sorted(
        ((c, shared[sig]) for sig, c in population.items()),
        key=lambda item: (-item[0].weight, -item[1], index.key(item[0].fid), item[0].kind),
    )
    settings: dict[str, object] = {
        "baseline_population_min_hosts": limit,
        "population_differences": len(listed),
    }
    return BaselineOutcome(kept, listed, settings)
