"""Method 2, peers: which hosts stand out from their own population (no baseline needed).

1. Cluster hosts into populations (analyze/clustering.py).
2. Compare every host with its population (a host in a cluster too small to be a population is
   compared with the nearest population):
   * **added**: a row on at most ``max(rare_max_hosts, rare_fraction x peers)`` of its peers (and
     fewer than half of them) - "on 1 of 250 hosts";
   * **missing**: a row on at least ``common_fraction`` of its peers that the host lacks (only for
     queries the host did collect) - a removed firewall rule, a stopped agent;
   * **changed**: an added and a missing row with the same key (same binary path, different hash).
3. Weights: table significance x how rare (added) or how common (missing) the row is among peers;
   weak evidence (normalize/volatile.py: a row whose value varies on every host) x ``weak_weight``.
4. Every candidate is re-judged by the fleet's entry model, and security rows shared by a minority of
   the fleet that a host's own cluster hid are added (a campaign): analyze/verdict.py.
5. Scores (ordering) analyze/scoring.py; the outlier decision: analyze/verdict.py.

All of it works on distinct profiles (identical hosts get identical results), so it is as fast as
the number of distinct hosts, not of hosts.

External prevalence (e.g. counts aggregated by Elasticsearch over a larger fleet or earlier runs) can
be supplied as a :class:`PrevalenceSource`; see its docstring.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np
from scipy import sparse

from diffy_analysis.analyze.activity import mark_activity
from diffy_analysis.analyze.candidates import Candidate, population_share
from diffy_analysis.analyze.clustering import Clustering, cluster_profiles
from diffy_analysis.analyze.entries import EntryModel, versioned_name
from diffy_analysis.analyze.verdict import VERSION_CHANGE, hidden_campaign_rows, refine
from diffy_analysis.normalize.index import FleetIndex
from diffy_analysis.normalize.volatile import TemplateStats


@runtime_checkable
class PrevalenceSource(Protocol):
    """Host counts per normalized row, computed elsewhere (e.g. an Elasticsearch terms aggregation).

    ``hosts_total``: how many hosts the counts were computed over.
    ``count(fingerprint)``: on how many of them the row with this fingerprint was seen, or ``None``
    when unknown. Fingerprints are :func:`diffy_analysis.normalize.row_fingerprint` of the query name
    and the *normalized* row (volatile columns dropped, identity masked), exactly as this engine
    computes them, so the store must index that fingerprint per row.

    When given, the peers method uses it for the fleet-wide prevalence it reports ("on 3 of 12,000
    hosts"), for the clustering weights, and as a second opinion on rarity: a row rare in the host's
    population but common in the external fleet (on more than ``rare_fraction`` of it) is kept but
    marked weak.
    """

    @property
    def hosts_total(self) -> int: ...

    def count(self, fingerprint: str) -> int | None: ...


@dataclass(frozen=True)
class MappingPrevalence:
    """A :class:`PrevalenceSource` backed by a plain mapping ``fingerprint -> hosts``."""

    hosts_total: int
    counts: Mapping[str, int]

    def count(self, fingerprint: str) -> int | None:
        return self.counts.get(fingerprint)


@dataclass
class PeersOutcome:
    clustering: Clustering
    host_cluster: list[int]
    candidates: list[list[Candidate]]
    """Per host (index order), unordered."""
    settings: dict[str, Any] = field(default_factory=dict)


def _external_df(index: FleetIndex, prevalence: PrevalenceSource) -> np.ndarray:
    """Fleet-wide counts from the external source (local counts where it has none)."""
    local = index.document_frequency()
    out = local.copy()
    for fid in np.flatnonzero(local).tolist():
        found = prevalence.count(index.fingerprint(fid))
        if found is not None:
            out[fid] = max(int(found), int(local[fid]))
    return out


def _cluster_counts(index: FleetIndex, profile_cluster: np.ndarray, n_clusters: int) -> sparse.csr_matrix:
    counts = np.asarray(index.profile_counts, dtype=np.float64)
    member = sparse.csr_matrix(
        (counts, (profile_cluster - 1, np.arange(len(counts)))), shape=(n_clusters, len(counts))
    )
    return (member @ index.profile_matrix()).tocsr()


class _Reference:
    """One population's row counts, as a dense vector (one at a time in memory)."""

    def __init__(self, counts: np.ndarray, size: int, thresholds: Any):
        self.counts = counts
        self.size = size
        self.t = thresholds
        self._common: dict[int, np.ndarray] = {}

    def common(self, peers: int) -> np.ndarray:
        found = self._common.get(peers)
        if found is None:
            found = self._common[peers] = np.flatnonzero(
                self.counts >= max(1.0, self.t.common_fraction * peers)
            )
        return found


def analyze_peers(
    index: FleetIndex, prevalence: PrevalenceSource | None = None, model: EntryModel | None = None
) -> PeersOutcome:
    t = index.config.thresholds
    model = model or EntryModel(index)
    n_hosts = len(index.hosts)
    df = index.document_frequency()
    fleet_df = _external_df(index, prevalence) if prevalence is not None else df
    fleet_total = max(n_hosts, prevalence.hosts_total) if prevalence is not None else n_hosts
    clustering = cluster_profiles(index, df, fleet_df if prevalence is not None else None)
    n_clusters = max(clustering.sizes)
    ccounts = _cluster_counts(index, clustering.profile_cluster, n_clusters)
    stats = TemplateStats(index, df, n_hosts)
    significance = np.asarray([index.significance(f) for f in range(index.n_features)] or [0.0])

    profile_candidates: dict[int, list[Candidate]] = {}
    profiles_by_ref: dict[int, list[int]] = defaultdict(list)
    for profile in range(len(index.profiles)):
        own = int(clustering.profile_cluster[profile])
        profiles_by_ref[clustering.nearest_population[own]].append(profile)
    for ref_cluster in sorted(profiles_by_ref):
        ref = _Reference(ccounts[ref_cluster - 1].toarray().ravel(), clustering.sizes[ref_cluster], t)
        for profile in profiles_by_ref[ref_cluster]:
            inside = int(clustering.profile_cluster[profile]) == ref_cluster
            profile_candidates[profile] = _profile_candidates(
                index,
                profile,
                ref=ref,
                inside=inside,
                stats=stats,
                significance=significance,
                fleet_df=fleet_df,
                fleet_total=fleet_total,
            )
            found = profile_candidates[profile]
            hidden = hidden_campaign_rows(
                index, model, index.profiles[profile], {c.fid for c in found}, stats.variant_column
            )
            found += mark_activity(index, index.profiles[profile], hidden, t.weak_weight)
            profile_candidates[profile] = [
                refine(index, model, c, t.weak_weight, stats.variant_column) for c in found
            ]

    candidates: list[list[Candidate]] = []
    host_cluster: list[int] = []
    for host in index.hosts:
        found = profile_candidates[host.profile]
        if any(c.kind == "missing" for c in found):
            found = [c for c in found if c.kind != "missing" or index.query_of(c.fid) in host.collected]
        candidates.append(found)
        host_cluster.append(int(clustering.profile_cluster[host.profile]))
    settings = dict(clustering.settings)
    settings["external_prevalence_hosts"] = prevalence.hosts_total if prevalence is not None else None
    return PeersOutcome(clustering, host_cluster, candidates, settings)


def _profile_candidates(
    index: FleetIndex,
    profile: int,
    *,
    ref: _Reference,
    inside: bool,
    stats: TemplateStats,
    significance: np.ndarray,
    fleet_df: np.ndarray,
    fleet_total: int,
) -> list[Candidate]:
    t = index.config.thresholds
    features = index.profiles[profile]
    peers = ref.size - (1 if inside else 0)
    if peers <= 0:
        return []
    have = ref.counts[features] - (1 if inside else 0)
    rare_limit = max(t.rare_max_hosts, t.rare_fraction * peers)
    rare_mask = (have <= rare_limit) & (have < peers / 2)
    added: list[Candidate] = []

    def population(hosts: int) -> bool:
        return population_share(hosts, fleet_total, t.population_min_hosts, t.population_fraction)

    for fid, with_peers in zip(features[rare_mask].tolist(), have[rare_mask].tolist(), strict=True):
        weight = float(significance[fid]) * (1.0 - with_peers / peers)
        varying = stats.weak_column(fid)
        # A row rare among the host's peers but held by a sizeable share of the whole fleet (or of the
        # external fleet) belongs to another population's make-up, not to an intruder: weak.
        fleet_common = population(int(fleet_df[fid]))
        variant = stats.variant_column(fid) if varying is None and not fleet_common else None
        weak = varying is not None or bool(fleet_common) or variant is not None
        reason = "common elsewhere in the fleet" if fleet_common and varying is None else None
        if variant is not None:
            reason = f"one of several {variant} variants shared across the fleet (a population trait)"
        added.append(
            Candidate(
                kind="added",
                fid=fid,
                weight=weight * (t.weak_weight if weak else 1.0),
                strength="weak" if weak else "strong",
                hosts_with_row=int(fleet_df[fid]),
                hosts_compared=fleet_total,
                peers_with_row=int(with_peers),
                peers=peers,
                varying_column=varying,
                reason=reason,
            )
        )
    missing_ids = np.setdiff1d(ref.common(peers), features, assume_unique=True)
    missing: list[Candidate] = []
    for fid in missing_ids.tolist():
        with_peers = int(ref.counts[fid])
        # Lacked by a sizeable share of the fleet: another population's make-up, not a removal.
        absent_elsewhere = population(fleet_total - int(fleet_df[fid]))
        weight = float(significance[fid]) * min(1.0, with_peers / peers)
        missing.append(
            Candidate(
                kind="missing",
                fid=fid,
                weight=weight * (t.weak_weight if absent_elsewhere else 1.0),
                strength="weak" if absent_elsewhere else "strong",
                reason="absent on many other hosts of the fleet" if absent_elsewhere else None,
                hosts_with_row=int(fleet_df[fid]),
                hosts_compared=fleet_total,
                peers_with_row=with_peers,
                peers=peers,
            )
        )
    added = mark_activity(index, features, added, t.weak_weight)
    return pair_changed(index, added, missing, features)


def pair_changed(
    index: FleetIndex, added: list[Candidate], missing: list[Candidate], features: np.ndarray | None = None
) -> list[Candidate]:
    """Merge an added and a missing row with the same key into one 'changed' candidate."""
    if not added or not missing:
        return _version_changes(index, added + missing, features)
    by_key: dict[tuple, list[Candidate]] = defaultdict(list)
    for cand in missing:
        if _has_keys(index, cand.fid):
            by_key[index.key(cand.fid)].append(cand)
    out: list[Candidate] = []
    used: set[int] = set()
    for cand in added:
        pool = by_key.get(index.key(cand.fid)) if _has_keys(index, cand.fid) else None
        if pool:
            ref = pool.pop(0)
            used.add(ref.fid)
            strong = cand.strength == "strong" and ref.strength == "strong"
            out.append(
                Candidate(
                    kind="changed",
                    fid=cand.fid,
                    ref_fid=ref.fid,
                    weight=max(cand.weight, ref.weight) if strong else min(cand.weight, ref.weight),
                    strength="strong" if strong else "weak",
                    hosts_with_row=cand.hosts_with_row,
                    hosts_compared=cand.hosts_compared,
                    peers_with_row=ref.peers_with_row,
                    peers=ref.peers,
                    varying_column=cand.varying_column,
                    reason=cand.reason or ref.reason,
                )
            )
        else:
            out.append(cand)
    out.extend(c for c in missing if c.fid not in used)
    return _version_changes(index, out, features)


_DIGITS = re.compile(r"\d+")


def _version_changes(
    index: FleetIndex, found: list[Candidate], features: np.ndarray | None = None
) -> list[Candidate]:
    """An added and a missing row of one query that are the same once digit runs are masked
    (``snap-amazon-ssm-agent-7993.mount`` -> ``-8012.mount``, in its id, description and path at once)
    are one thing upgraded: one weak ``changed`` candidate. A trojaned binary's hash differs in
    letters too, so it never pairs so."""
    missing = [c for c in found if c.kind == "missing"]
    if not missing:
        return found

    def masked(fid: int) -> tuple[int, tuple[str, ...]]:
        return (index.feature_colset[fid], tuple(_DIGITS.sub("#", v) for v in index.feature_values[fid]))

    def version_like(a: int, b: int) -> bool:
        # a version number renames several columns at once (id, description, path); one differing
        # number (a firewall rule's port) is another thing, not a version of it
        # and it renames NAMES: 10.0.0.0/255.255.0.0 -> 0.0.0.0/0.0.0.0 is a firewall rule opened
        pairs = zip(index.feature_values[a], index.feature_values[b], strict=True)
        return sum(x != y and versioned_name(x) for x, y in pairs) >= 2

    pool: dict[tuple[int, tuple[str, ...]], list[Candidate]] = defaultdict(list)
    for c in missing:
        pool[masked(c.fid)].append(c)
    out: list[Candidate] = []
    gone: set[tuple[str, int]] = set()
    for c in found:
        if c.kind != "added":
            continue
        twins = [r for r in pool.get(masked(c.fid), []) if version_like(c.fid, r.fid)]
        if twins:
            ref = twins[0]
            pool[masked(c.fid)].remove(ref)
            gone |= {("added", c.fid), ("missing", ref.fid)}
            weight = min(c.weight, ref.weight) * index.config.thresholds.weak_weight
            out.append(
                replace(
                    c,
                    kind="changed",
                    ref_fid=ref.fid,
                    strength="weak",
                    weight=weight,
                    reason=VERSION_CHANGE,
                    varying_column=None,
                    peers_with_row=ref.peers_with_row,
                    peers=ref.peers,
                )
            )
    if features is not None:  # the upgraded row may be common among the host's peers: no candidate
        left = {k: v for k, v in pool.items() if v}
        colsets = {k[0] for k in left}
        for fid in features.tolist():
            if index.feature_colset[fid] in colsets:
                for ref in left.get(masked(fid), []):
                    if ("missing", ref.fid) not in gone and version_like(fid, ref.fid):
                        gone.add(("missing", ref.fid))
                        out.append(
                            replace(
                                ref,
                                strength="weak",
                                weight=ref.weight * index.config.thresholds.weak_weight,
                                reason=VERSION_CHANGE,
                                varying_column=None,
                            )
                        )
    return [c for c in found if (c.kind, c.fid) not in gone] + out


def _has_keys(index: FleetIndex, fid: int) -> bool:
    cs = index.colsets[index.feature_colset[fid]]
    return len(cs.key_positions) < len(cs.columns)
