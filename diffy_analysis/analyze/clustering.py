"""Hierarchical clustering of host profiles into populations (scipy.cluster.hierarchy).

What the clustering is for: finding the *legitimate populations* of a fleet (two package versions
in a rolling deploy, two instance sizes) so that each host is compared with its own kind. It is
not what finds the attacker: rarity against the population does that (analyze/peers.py).

So hosts are clustered on *population features* only: normalized rows held by at least
``lower = max(population_min_hosts, population_fraction x hosts)`` hosts and lacked by at least as
many. A row on every host says nothing about structure; a row on one host (an implant, a random
port) is an outlier's trait, not a population's. Each feature is weighted by its table's
significance times an IDF-like rarity ``ln((N+1)/(df+1))``.

Hosts identical on those features are collapsed into one *profile* (weighted by count), and only
distinct profiles are clustered: average linkage on cosine distance. The cut is data-driven: the
largest gap between consecutive merge heights, never below ``min_cut_distance``. Too many distinct
profiles (more than ``max_profiles``): the lower support bound is doubled until they fit; if even
that fails, the ``max_profiles`` most common profiles are clustered and every other profile joins the
cluster of its most similar clustered profile. All of it is recorded in ``settings``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse
from scipy.cluster import hierarchy
from scipy.spatial.distance import squareform

from diffy_analysis.normalize.index import FleetIndex


@dataclass
class Clustering:
    profile_cluster: np.ndarray
    """Cluster id (1-based, largest first) of every distinct full profile of the index."""
    sizes: dict[int, int]
    linkage: np.ndarray | None
    leaf_labels: list[str]
    cut_distance: float
    nearest_population: dict[int, int]
    """For every cluster: the population cluster its hosts are compared with (itself if a population)."""
    populations: set[int]
    settings: dict[str, Any] = field(default_factory=dict)


def feature_significance(index: FleetIndex) -> np.ndarray:
    per_colset = np.asarray([index.rule(cs.query).significance for cs in index.colsets] or [0.0])
    return per_colset[np.asarray(index.feature_colset, dtype=np.int64)] if index.n_features else np.zeros(0)


def _largest_gap_cut(heights: np.ndarray, floor: float) -> float:
    """Midpoint of the largest gap between consecutive merge heights (at least ``floor``)."""
    levels = np.unique(np.concatenate([[0.0], np.round(heights, 9)]))
    if len(levels) < 2 or levels[-1] < floor:
        return max(floor, float(levels[-1]) + 1e-9)
    gaps = np.diff(levels)
    eligible = levels[1:] >= floor
    gaps = np.where(eligible, gaps, -1.0)
    best = int(np.argmax(gaps))
    return max(floor, float((levels[best] + levels[best + 1]) / 2))


def _unique_rows(matrix: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """(representative row index per unique row, unique id per row) of a binary CSR matrix."""
    seen: dict[bytes, int] = {}
    first: list[int] = []
    inverse = np.empty(matrix.shape[0], dtype=np.int64)
    indptr, indices = matrix.indptr, matrix.indices
    for row in range(matrix.shape[0]):
        key = indices[indptr[row] : indptr[row + 1]].tobytes()
        found = seen.get(key)
        if found is None:
            found = seen[key] = len(first)
            first.append(row)
        inverse[row] = found
    return np.asarray(first, dtype=np.int64), inverse


def _cosine_distances(x: sparse.csr_matrix) -> np.ndarray:
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    safe = np.where(norms > 0, norms, 1.0)
    xn = sparse.diags(1.0 / safe) @ x
    sim = (xn @ xn.T).toarray()
    dist = np.clip(1.0 - sim, 0.0, 1.0)
    empty = norms == 0
    dist[np.ix_(empty, ~empty)] = 1.0
    dist[np.ix_(~empty, empty)] = 1.0
    dist[np.ix_(empty, empty)] = 0.0
    np.fill_diagonal(dist, 0.0)
    return (dist + dist.T) / 2


def cluster_profiles(index: FleetIndex, df: np.ndarray, support_df: np.ndarray | None = None) -> Clustering:
    """Cluster the index's distinct profiles into populations. ``support_df`` (optional) replaces the
    local document frequency for feature selection and weights (external prevalence)."""
    t = index.config.thresholds
    n_hosts = len(index.hosts)
    n_profiles = len(index.profiles)
    counts = np.asarray(index.profile_counts, dtype=np.int64)
    support = df if support_df is None else support_df
    total = n_hosts if support_df is None else max(n_hosts, int(support_df.max(initial=0)))
    lower = max(t.population_min_hosts, math.ceil(t.population_fraction * total))
    settings: dict[str, Any] = {"population_min_size": lower, "cluster_features_min_hosts": lower}
    matrix = index.profile_matrix()
    significance = feature_significance(index)

    def project(min_df: int) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
        keep = (support >= min_df) & (support <= total - min_df)
        binary = matrix[:, np.flatnonzero(keep)].tocsr()
        binary.sort_indices()
        reps, inverse = _unique_rows(binary)
        return binary, reps, inverse

    binary, reps, inverse = project(lower)
    min_df = lower
    while len(reps) > t.max_profiles and min_df * 2 <= total / 2:
        min_df *= 2
        binary, reps, inverse = project(min_df)
    settings["cluster_features_min_hosts"] = min_df
    settings["cluster_features"] = int(binary.shape[1])
    settings["distinct_profiles"] = n_profiles
    settings["clustered_profiles"] = len(reps)

    # weights of the kept features
    keep_idx = np.flatnonzero((support >= min_df) & (support <= total - min_df))
    weights = significance[keep_idx] * np.log((total + 1) / (support[keep_idx] + 1.0))
    rep_counts = np.bincount(inverse, weights=counts, minlength=len(reps)).astype(np.int64)

    x = (binary[reps] @ sparse.diags(weights)).tocsr() if len(weights) else sparse.csr_matrix((len(reps), 0))
    seeds = _seeds(rep_counts, t.max_profiles, settings)
    leaf_labels = _leaf_labels(index, inverse, reps, seeds, rep_counts)
    rep_cluster, linkage, cut = _link_and_cut(x, seeds, t.min_cut_distance)

    rep_cluster, sizes = _renumber(rep_cluster, rep_counts)
    populations = {c for c, size in sizes.items() if size >= lower} or {1}
    nearest = _nearest_populations(x, rep_cluster, rep_counts, populations)
    settings["cut_distance"] = round(float(cut), 6)
    settings["clusters"] = len(sizes)
    return Clustering(
        profile_cluster=rep_cluster[inverse],
        sizes=sizes,
        linkage=linkage,
        leaf_labels=leaf_labels,
        cut_distance=float(cut),
        nearest_population=nearest,
        populations=populations,
        settings=settings,
    )


def _seeds(rep_counts: np.ndarray, max_profiles: int, settings: dict[str, Any]) -> np.ndarray:
    """The profiles to cluster: all, or (fallback) the ``max_profiles`` most common ones."""
    if len(rep_counts) <= max_profiles:
        return np.arange(len(rep_counts))
    order = np.lexsort((np.arange(len(rep_counts)), -rep_counts))
    settings["fallback"] = f"clustered the {max_profiles} most common profiles; others joined the nearest"
    return np.sort(order[:max_profiles])


def _link_and_cut(
    x: sparse.csr_matrix, seeds: np.ndarray, floor: float
) -> tuple[np.ndarray, np.ndarray | None, float]:
    """Average linkage over the seed profiles, cut at the largest gap; others join their nearest seed."""
    if len(seeds) < 2:
        seed_cluster = np.ones(len(seeds), dtype=np.int64)
        linkage, cut = None, floor
    else:
        dist = _cosine_distances(x[seeds])
        linkage = hierarchy.linkage(squareform(dist, checks=False), method="average")
        cut = _largest_gap_cut(linkage[:, 2], floor)
        seed_cluster = hierarchy.fcluster(linkage, t=cut, criterion="distance").astype(np.int64)
    rep_cluster = np.zeros(x.shape[0], dtype=np.int64)
    rep_cluster[seeds] = seed_cluster
    if len(seeds) < x.shape[0]:
        rest = np.setdiff1d(np.arange(x.shape[0]), seeds)
        sim = (_normalized(x[rest]) @ _normalized(x[seeds]).T).toarray()
        rep_cluster[rest] = seed_cluster[np.argmax(sim, axis=1)]
    return rep_cluster, linkage, cut


def _renumber(rep_cluster: np.ndarray, rep_counts: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
    """Cluster ids 1..K, largest cluster (by hosts) first, ties by first profile: deterministic."""
    raw_sizes = np.bincount(rep_cluster, weights=rep_counts).astype(np.int64)
    first_rep = {int(c): int(np.flatnonzero(rep_cluster == c)[0]) for c in np.unique(rep_cluster)}
    order = sorted(first_rep, key=lambda c: (-raw_sizes[c], first_rep[c]))
    renumber = {old: new for new, old in enumerate(order, start=1)}
    renumbered = np.asarray([renumber[int(c)] for c in rep_cluster], dtype=np.int64)
    return renumbered, {renumber[c]: int(raw_sizes[c]) for c in order}


def _normalized(x: sparse.csr_matrix) -> sparse.csr_matrix:
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    return (sparse.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ x).tocsr()


def _nearest_populations(
    x: sparse.csr_matrix, rep_cluster: np.ndarray, rep_counts: np.ndarray, populations: set[int]
) -> dict[int, int]:
    clusters = sorted(set(rep_cluster.tolist()))
    nearest = {c: c for c in populations}
    pops = sorted(populations)
    if x.shape[1] == 0:
        return {c: nearest.get(c, pops[0]) for c in clusters}
    member = sparse.csr_matrix(
        (rep_counts.astype(np.float64), (rep_cluster - 1, np.arange(len(rep_cluster)))),
        shape=(max(clusters), len(rep_cluster)),
    )
    centroids = _normalized((member @ _normalized(x)).tocsr())
    sim = (centroids @ centroids[np.asarray(pops) - 1].T).toarray()
    for c in clusters:
        if c not in nearest:
            best = int(np.argmax(sim[c - 1]))  # ties: the first (largest) population
            nearest[c] = pops[best]
    return nearest


def _leaf_labels(
    index: FleetIndex, inverse: np.ndarray, reps: np.ndarray, seeds: np.ndarray, rep_counts: np.ndarray
) -> list[str]:
    """One label per clustered profile: its first host, and how many more hosts share it."""
    first_host: dict[int, str] = {}
    for host in index.hosts:
        rep = int(inverse[host.profile])
        if rep not in first_host:
            first_host[rep] = host.label
    labels = []
    for rep in seeds.tolist():
        extra = int(rep_counts[rep]) - 1
        labels.append(first_host.get(rep, "?") + (f" (+{extra} alike)" if extra else ""))
    return labels
