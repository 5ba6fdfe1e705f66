"""The analysis' intermediate result: per host, the feature ids that make it differ, with weights.

Both methods produce ``Candidate`` lists; ``analyze/evidence.py`` turns the kept ones into
``findings.Finding`` objects with raw rows and explanations, and ``analyze/scoring.py`` decides
outliers from the weights.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    kind: str  # added | missing | changed
    fid: int
    """The host's feature (added, changed) or the reference's feature (missing)."""
    weight: float
    strength: str = "strong"  # strong | weak
    ref_fid: int | None = None
    """For changed: the reference's feature with the same key."""
    hosts_with_row: int | None = None
    hosts_compared: int | None = None
    peers_with_row: int | None = None
    """Peers mode: how many hosts of the reference population have the row (explanations)."""
    peers: int | None = None
    varying_column: str | None = None
    """Weak evidence: the column whose value varies on every host."""
    reason: str | None = None
    """Weak evidence for another reason (e.g. transient activity, common elsewhere in the fleet)."""


def order_key(candidate: Candidate, index_key: tuple[str, tuple[str, ...]]) -> tuple:
    """Deterministic ordering: weight descending, then strong before weak, then query and key."""
    return (-round(candidate.weight, 9), candidate.strength != "strong", index_key, candidate.kind)


def population_share(hosts: int, total: int, min_hosts: int, fraction: float) -> bool:
    """Are ``hosts`` of ``total`` a population's share? At least ``min_hosts`` and *more than*
    ``fraction`` of the fleet: 4 hosts of 40 (10%) are what a campaign touches, not a population."""
    return hosts >= min_hosts and hosts > fraction * total
