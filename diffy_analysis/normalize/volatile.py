"""Data-driven noise: volatile columns found automatically, and weak evidence.

Both rest on one statistic. Blank one column of a row and you get its *template* (``sshd listening
on tcp 0.0.0.0:<port>``). If many hosts share the template but almost each has its own value in the
blanked column, that column varies per host: a random port, a per-host name, a counter.

* For queries without default or configured rules, such a column is **volatile** and dropped for the
  whole query (``detect_volatile``), when the template is on at least ``volatile_common_fraction`` of
  hosts and the values are unique to at least ``volatile_unique_fraction`` of them.
* For any query, a rare row whose template is common and diverse (``weak_template_fraction`` of
  hosts, and ``weak_unique_fraction`` distinct values per host *or* that share of the hosts holding
  a rare value) is **weak evidence** (``TemplateStats``): it is still reported, but it weighs little.
  "Rare" is held by at most ``max(1, RARE_VALUE_FRACTION * hosts)`` hosts: once a fleet outgrows the
  space of values (100,000 hosts, 28,000 ephemeral ports) random values repeat on a few hosts each,
  so distinct values per host alone would call a random port strong evidence.
  A trojaned ``/usr/bin/ps`` is not weak: its template (path, size, mode) is common, but 249 of
  250 hosts share one hash, so the values are not diverse.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from diffy_analysis.tables import REGISTRY

if TYPE_CHECKING:
    from diffy_analysis.normalize.index import FleetIndex

MIN_HOSTS_FOR_DETECTION = 5
MIN_VARIANTS = 3
VARIANT_MIN_FRACTION = 0.02
RARE_VALUE_FRACTION = 0.001
# Declared per table in the registry (diffy_analysis/tables/: ``never_variant``).
NEVER_VARIANT = REGISTRY.never_variant()


def _template_table(
    fids: np.ndarray,
    values: list[tuple[str, ...]],
    df: np.ndarray,
    position: int,
    *,
    shared_min: int = 2,
    rare_max: int = 1,
) -> dict[tuple[str, ...], list[int]]:
    """template -> [hosts with it, distinct values, values held by exactly one host,
    values held by at least ``shared_min`` hosts, hosts holding a value held by at most ``rare_max``]."""
    table: dict[tuple[str, ...], list[int]] = {}
    for fid in fids.tolist():
        hosts = int(df[fid])
        if hosts <= 0:
            continue
        row = values[fid]
        template = row[:position] + row[position + 1 :]
        entry = table.get(template)
        if entry is None:
            table[template] = [
                hosts,
                1,
                int(hosts == 1),
                int(hosts >= shared_min),
                hosts * (hosts <= rare_max),
            ]
        else:
            entry[0] += hosts
            entry[1] += 1
            entry[2] += int(hosts == 1)
            entry[3] += int(hosts >= shared_min)
            entry[4] += hosts * (hosts <= rare_max)
    return table


def _features_by_colset(index: FleetIndex) -> dict[int, np.ndarray]:
    colsets = np.asarray(index.feature_colset, dtype=np.int32)
    order = np.argsort(colsets, kind="stable")
    bounds = np.searchsorted(colsets[order], np.arange(len(index.colsets) + 1))
    return {c: order[bounds[c] : bounds[c + 1]] for c in range(len(index.colsets))}


def detect_volatile(index: FleetIndex) -> dict[int, tuple[int, ...]]:
    """Column positions to drop, per column set, for queries with automatic detection."""
    n_hosts = len(index.hosts)
    if n_hosts < MIN_HOSTS_FOR_DETECTION:
        return {}
    auto = {
        cs_id
        for cs_id, cs in enumerate(index.colsets)
        if index.rule(cs.query).auto_volatile and len(cs.columns) > 1
    }
    if not auto:
        return {}
    t = index.config.thresholds
    df = index.document_frequency()
    by_colset = _features_by_colset(index)
    found: dict[int, tuple[int, ...]] = {}
    for cs_id in sorted(auto):
        fids = by_colset[cs_id]
        positions = []
        for position in range(len(index.colsets[cs_id].columns)):
            table = _template_table(fids, index.feature_values, df, position)
            qualifying = [e for e in table.values() if e[0] >= t.volatile_common_fraction * n_hosts]
            total = sum(e[0] for e in qualifying)
            unique = sum(e[2] for e in qualifying)
            if total and unique >= t.volatile_unique_fraction * total:
                positions.append(position)
        if positions and len(positions) < len(index.colsets[cs_id].columns):
            found[cs_id] = tuple(positions)
    return found


class TemplateStats:
    """Answers "is this rare row weak evidence?", computing template tables lazily per column set."""

    def __init__(self, index: FleetIndex, df: np.ndarray, n_hosts: int):
        self.index = index
        self.df = df
        self.n_hosts = n_hosts
        self._tables: dict[tuple[int, int], dict[tuple[str, ...], list[int]]] = {}
        self._by_colset: dict[int, np.ndarray] | None = None
        self._cache: dict[int, str | None] = {}
        # a population variant is held by a share of the fleet, not by a handful of hosts (which is
        # what a campaign touching 2-4 hosts looks like)
        self.shared_min = max(2, math.ceil(VARIANT_MIN_FRACTION * n_hosts))
        self.rare_max = max(1, math.floor(RARE_VALUE_FRACTION * n_hosts))

    def _table(self, colset: int, position: int) -> dict[tuple[str, ...], list[int]]:
        key = (colset, position)
        table = self._tables.get(key)
        if table is None:
            if self._by_colset is None:
                self._by_colset = _features_by_colset(self.index)
            table = self._tables[key] = _template_table(
                self._by_colset[colset],
                self.index.feature_values,
                self.df,
                position,
                shared_min=self.shared_min,
                rare_max=self.rare_max,
            )
        return table

    def weak_column(self, fid: int) -> str | None:
        """The column that varies per host if ``fid`` is weak evidence, else None."""
        if fid in self._cache:
            return self._cache[fid]
        t = self.index.config.thresholds
        colset = self.index.feature_colset[fid]
        columns = self.index.colsets[colset].columns
        row = self.index.feature_values[fid]
        answer = None
        if len(columns) > 1 and self.n_hosts >= MIN_HOSTS_FOR_DETECTION:
            for position, column in enumerate(columns):
                entry = self._table(colset, position).get(row[:position] + row[position + 1 :])
                if entry is None:  # a row no analysed host has (the baseline's own)
                    continue
                hosts, distinct, _, _, rare_hosts = entry
                if (
                    hosts >= max(3, t.weak_template_fraction * self.n_hosts)
                    and distinct >= 3
                    and max(distinct, rare_hosts) >= t.weak_unique_fraction * hosts
                ):
                    answer = column
                    break
        self._cache[fid] = answer
        return answer

    def variant_column(self, fid: int) -> str | None:
        """The column if ``fid`` is one of several shared variants of a row the whole fleet has.

        E.g. the app's command line differs by version and instance size: four variants, each on
        several hosts. A value of a column with at least ``MIN_VARIANTS`` variants held by
        ``max(2, 2% of hosts)`` hosts each, where the rest of the row is on most hosts about once
        per host, is a population trait (even a combination only one host has).
        Content hashes, keys, ids, shells and modes are never treated so: a replaced binary is a
        replaced binary, however many versions exist.
        """
        colset = self.index.feature_colset[fid]
        columns = self.index.colsets[colset].columns
        row = self.index.feature_values[fid]
        if len(columns) < 2 or self.n_hosts < MIN_HOSTS_FOR_DETECTION:
            return None
        for position, column in enumerate(columns):
            if column in NEVER_VARIANT:
                continue
            entry = self._table(colset, position).get(row[:position] + row[position + 1 :])
            if entry is None:
                continue
            hosts, _, _, shared, _ = entry
            # one variant per host (the template is a one-per-host thing, like the app's process),
            # not a family of many rows per host (like the setuid binaries, all owned by root)
            if shared >= MIN_VARIANTS and 0.5 * self.n_hosts <= hosts <= 1.25 * self.n_hosts:
                return column
        return None
