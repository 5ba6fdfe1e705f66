"""A host flooding a table is itself a finding (issue 19: no blinding).

An intruder can hide one row among many (300 decoy setuid files around one backdoor), or push a
table past what the collector returns (``staging_files`` stops at its documented cap), so that the
responder sees a listing that is cut, or so noisy that nobody reads it. Counting each table's
distinct normalized rows per host, a host holding far more than the fleet's usual count, or exactly
as many as the table's cap, is reported once per table with both numbers, and in a security table
it flags the host whatever its other findings say.

"Far more" is learned from the fleet: the median count over the hosts that collected the table,
``m``; a host with at least ``FLOOD_FACTOR x m + FLOOD_EXTRA`` rows floods it (a busy host with twice
the usual processes does not; three hundred setuid files where peers have twenty does). Needs at
least ``FLOOD_MIN_HOSTS`` hosts to know what is usual; a cap is a cap on any number of hosts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from diffy_analysis.normalize.index import FleetIndex
from diffy_analysis.tables import REGISTRY

FLOOD_FACTOR = 3.0
FLOOD_EXTRA = 20
FLOOD_MIN_HOSTS = 4
_CAP = re.compile(r"at most (\d+) rows")
CAPS = {name: int(m.group(1)) for name, spec in REGISTRY.items() if (m := _CAP.search(spec.caps))}
"""Tables whose SQL returns at most N rows (declared in the registry's ``caps``)."""


@dataclass(frozen=True)
class Flood:
    query: str
    rows: int
    """Distinct normalized rows the host holds in the table."""
    usual: int
    """The fleet's median count over hosts that collected the table."""
    capped: bool
    """The host's count reached the table's collection cap: the listing was cut."""

    def explanation(self) -> str:
        if self.capped:
            return (
                f"{self.query}: {self.rows} rows, the collection cap: the listing was cut "
                f"(the fleet's usual count is {self.usual}); what lies beyond it was not seen"
            )
        return (
            f"{self.query}: {self.rows} rows where hosts usually hold {self.usual}: a host flooding a "
            "table can hide one row among many (decoys)"
        )


def find_floods(index: FleetIndex) -> list[list[Flood]]:
    """Per host (index order), the tables it floods."""
    names = sorted({cs.query for cs in index.colsets})
    if not names or not index.hosts:
        return [[] for _ in index.hosts]
    qid = {q: i for i, q in enumerate(names)}
    per_colset = np.asarray([qid[cs.query] for cs in index.colsets], dtype=np.int64)
    feature_query = per_colset[np.asarray(index.feature_colset, dtype=np.int64)]
    counts = np.zeros((len(index.profiles), len(names)), dtype=np.int64)
    for p, features in enumerate(index.profiles):
        if len(features):
            counts[p] = np.bincount(feature_query[features], minlength=len(names))
    host_counts = np.asarray([counts[h.profile] for h in index.hosts])
    out: list[list[Flood]] = [[] for _ in index.hosts]
    for q, name in enumerate(names):
        collected = np.asarray([name in h.collected for h in index.hosts], dtype=bool)
        if not collected.any():
            continue
        column = host_counts[collected, q]
        usual = int(np.median(column))
        cap = CAPS.get(name)
        enough = int(collected.sum()) >= FLOOD_MIN_HOSTS
        for i in np.flatnonzero(collected).tolist():
            rows = int(host_counts[i, q])
            capped = cap is not None and rows >= cap
            if capped or (enough and rows >= FLOOD_FACTOR * usual + FLOOD_EXTRA):
                out[i].append(Flood(name, rows, usual, capped))
    return out
