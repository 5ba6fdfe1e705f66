"""A fleet-calibrated null model for the verdict: how often a HEALTHY host of this fleet shows
something new in a security table.

Before, one rare, sick security-table finding flagged its host. On fleets with benign per-host state
nobody described (a per-host file, key, unit or listener) that flagged every host. Now a rare
finding that is not severe by its content (tables/severity.py) and not shared by a group of hosts (a
campaign) is *novelty*, and novelty is judged against the fleet's own rate of it:

* per table ``T``, ``k_T(h)``: how many OTHER hosts carry a novel finding in ``T`` - a decisive-grade
  finding whose row at most ``rare_max`` hosts hold (a value unique to a host: a campaign's shared
  rows never calibrate themselves away), counted in hosts;
* ``r_T(h) = (k_T(h) + a) / (N - 1 + a + b)`` with a Jeffreys prior ``a = b = 0.5``;
* the host's novel tables ``S``: under the null, a share ``prod_{T in S} r_T(h)`` of this fleet's
  healthy hosts shows novelty in all of them; the host is flagged on novelty when that share is at
  most ``RATE_MAX`` (0.15).

Not a Bonferroni ``alpha / N`` bar: with it one novel table could never flag (``r_T`` is at least
``0.5 / N``), and four intruders of one kind with their own ports (a tool run on 4 of 40 hosts)
hid each other. 0.15 keeps them (3.5 / 40) and ignores tables where benign novelty is common: one
novel table where no other host shows novelty flags (0.5 / N); on 12 hosts a table where two
others do does not alone (2.5 / 12 = 0.21), with a second such table it does (0.04). Every host
with a unique benign file in the same table: nobody is flagged on it.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

PRIOR_A = 0.5
PRIOR_B = 0.5
RATE_MAX = 0.15
"""A host is flagged on novelty alone when at most this share of the fleet's healthy hosts is
expected to show novelty in the same tables (the product of the per-table rates)."""


@dataclass
class NoveltyNull:
    n_hosts: int
    hosts_per_table: Counter[str] = field(default_factory=Counter)

    def fit(self, novel_tables: list[frozenset[str]]) -> NoveltyNull:
        for tables in novel_tables:
            self.hosts_per_table.update(tables)
        return self

    def rate(self, table: str, *, own: bool) -> float:
        others = self.hosts_per_table[table] - (1 if own else 0)
        return (max(0, others) + PRIOR_A) / (max(0, self.n_hosts - 1) + PRIOR_A + PRIOR_B)

    def expected(self, tables: frozenset[str], *, own: bool = True) -> float:
        """Clean hosts of this fleet expected to show novelty in all of ``tables``."""
        if not tables:
            return math.inf
        return self.n_hosts * math.prod(self.rate(t, own=own) for t in sorted(tables))

    def significant(self, tables: frozenset[str], *, own: bool = True) -> bool:
        return self.expected(tables, own=own) <= RATE_MAX * self.n_hosts
