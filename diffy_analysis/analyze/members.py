"""A member list is one row on every member: clustered services name their peers (entries.py).

etcd's ``--initial-cluster``, ZooKeeper's ``server.N=``, Consul's ``retry_join``, Elasticsearch's
``discovery.seed_hosts``: every member of a cluster runs with the same list of members' addresses.
Identity masking (normalize/mask.py) replaces a host's *own* address by ``<ipv4>`` and leaves its
peers' addresses as they are, so the same list reads ``<ipv4>,10.0.1.26,10.0.1.32`` on the first
member and ``10.0.1.16,<ipv4>,10.0.1.32`` on the second: each member's listener and process are a
row nobody else holds. By shape they are one row: mask every fleet host's address alike and the
members hold the same row, and that row names exactly hosts that hold it.

An added row is **a member list** when

* it names its own host (``<ipv4>``) and at least one other host of this fleet by its address;
* every host it names holds the same row once every fleet host's address is masked alike.

An intruder's rows rarely have that shape: a connection to another host, a redirect in
``/etc/hosts``, a key's ``user@host`` comment name one side only. Limits (docs/analysis.md): a tool
that several hosts run with the list of hosts it spread to has a member list's shape; its other
artifacts decide.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from diffy_analysis.normalize.mask import NEVER_MASK

if TYPE_CHECKING:
    from diffy_analysis.analyze.entries import EntryModel

SELF = "<ipv4>"
MEMBER = "<member>"
_IPV4 = re.compile(r"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9]|\.[0-9])")


class Members:
    """Lazily built per column set: rows that name fleet hosts, by their shape with members masked."""

    def __init__(self, model: EntryModel):
        self.model = model
        self._profiles_of_ip: dict[str, frozenset[int]] | None = None
        self._shapes: dict[int, dict[tuple[str, ...], list[int]]] = {}
        self._cache: dict[int, str | None] = {}

    def _ips(self) -> dict[str, frozenset[int]]:
        """Each fleet host's own address -> the profiles of the hosts holding it (the entry model
        counts profiles; private addresses can repeat across a fleet's subnets)."""
        if self._profiles_of_ip is None:
            found: dict[str, set[int]] = defaultdict(set)
            for host in self.model.index.hosts:
                for ip in host.identity.ipv4:
                    if ip not in NEVER_MASK:
                        found[ip].add(host.profile)
            self._profiles_of_ip = {ip: frozenset(p) for ip, p in found.items()}
        return self._profiles_of_ip

    def _named(self, values: tuple[str, ...]) -> list[frozenset[int]]:
        """For each fleet address in ``values``, the profiles of the hosts that have it."""
        ips = self._ips()
        return [ips[ip] for v in values for ip in _IPV4.findall(v) if ip in ips]

    def _shape(self, values: tuple[str, ...]) -> tuple[str, ...]:
        ips = self._ips()
        return tuple(
            _IPV4.sub(lambda m: MEMBER if m.group(0) in ips else m.group(0), v).replace(SELF, MEMBER)
            for v in values
        )

    def _shape_table(self, colset: int) -> dict[tuple[str, ...], list[int]]:
        if colset not in self._shapes:
            grouped: dict[tuple[str, ...], list[int]] = defaultdict(list)
            for fid in self.model._colset_features(colset).tolist():
                values = self.model.index.feature_values[fid]
                if any(SELF in v for v in values) or self._named(values):
                    grouped[self._shape(values)].append(fid)
            self._shapes[colset] = dict(grouped)
        return self._shapes[colset]

    def member_list_of(self, fid: int) -> str | None:
        """Why this added row is a cluster's member list, or None (module docstring)."""
        if fid not in self._cache:
            self._cache[fid] = self._judge(fid)
        return self._cache[fid]

    def _judge(self, fid: int) -> str | None:
        model, index = self.model, self.model.index
        if model._matrix is None:
            return None
        values = index.feature_values[fid]
        if not any(SELF in v for v in values):
            return None
        named = self._named(values)
        if not named:
            return None
        same = self._shape_table(index.feature_colset[fid]).get(self._shape(values), [])
        held = np.asarray(model._matrix[:, np.asarray(same, dtype=np.int64)].sum(axis=1)).ravel() > 0
        if not all(any(held[p] for p in profiles) for profiles in named):
            return None
        return (
            f"a member list: it names {len(set(named))} other host(s) of this fleet, which hold the same row "
            "with their own address (a clustered service lists its peers)"
        )
