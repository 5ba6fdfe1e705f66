"""A model of every *entry* of the fleet, learned from the fleet itself (both methods).

An entry is "the same thing" on every host: a row's key (``listening_ports``: protocol, address,
port, process; ``system_binaries``: the path) with its values, or, for one column blanked, a row
*template* ("rpc.statd listens on tcp 0.0.0.0:<port>"). For each entry the model knows, counting
HOSTS (never rows, so one host carrying 300 decoy rows weighs as one host):

* **how often a value is seen and how many values the entry takes** -> the PeerPressure-style
  probability that a host's value is *sick* (Wang et al., OSDI 2004). With ``N`` other hosts, ``t`` of
  them holding the same value, and ``c`` the entry's cardinality (distinct values seen, plus one for
  "absent" when a host lacks the entry), a sick value is taken to be drawn uniformly from the ``c``
  values and a healthy one with the Laplace-smoothed frequency ``(t + 1) / (N + c)``; with equal priors

      P(sick) = (N + c) / (N + c (t + 2))

  A unique value of a two-valued entry on 200 hosts: 0.99; the same on 5 hosts: 0.78; a value that
  half the fleet holds: ~0.5; an entry with as many values as hosts: ~0.67 at best.
* **whether the entry's values are per-host random** (``random_column``): among the hosts holding
  the template, most hold a value almost nobody else holds and no value dominates. Such evidence
  never decides a verdict, however rare each value is.
* **whether the entry churns** (``unstable``): several minority values spread over several hosts
  (a timer caught between states) of a thing most hosts have: the value says nothing about one host.
* **which population holds it** (``travels_with``): when the hosts holding a difference are, to
  ``COSIGNATURE_JACCARD``, the hosts holding a package version nobody else has, the difference is
  that population's make-up (a rolling deploy changes the package *and* the unit, cron line and
  process arguments); a campaign adds persistence or privilege without a matching package change.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict

import numpy as np
from scipy import sparse

from diffy_analysis.analyze.echo import Echo
from diffy_analysis.analyze.generations import Generations
from diffy_analysis.analyze.members import Members
from diffy_analysis.analyze.provenance import Provenance, names
from diffy_analysis.analyze.randomness import (
    COSIGNATURE_JACCARD,
    RandomValues,
    blank,
)
from diffy_analysis.analyze.recombination import Recombination
from diffy_analysis.analyze.releases import Releases
from diffy_analysis.normalize.index import FleetIndex
from diffy_analysis.normalize.volatile import NEVER_VARIANT
from diffy_analysis.tables import REGISTRY

SICK_MIN = 0.7
"""A strong finding in a security table decides a verdict when its value is at least this sick."""
SECURITY_SIGNIFICANCE = 0.8
"""Tables at least this significant (normalize/defaults.py, or the config) are security tables."""
RARE_VALUE_FRACTION = 0.001
COSIGNATURE_MIN_HOSTS = 3
"""A package co-signature needs this many hosts: two hosts given attacker tools (masscan, nmap) are
not a population whose make-up excuses their stopped agent."""
UPGRADE_MIN_HOSTS = 2
"""From this many hosts, a package UPGRADE (another version of a package most hosts hold) held by
the same hosts co-signs a difference (two hosts given a newer sudo have a new /usr/bin/sudo)."""
ALTERNATIVE_MIN_HOSTS = 2
"""Another value of a one-per-host thing counts as an alternative when this many hosts hold it."""
UNSTABLE_MIN_HOSTS = 3
UNSTABLE_MIN_FRACTION = 0.05


_DIGITS = re.compile(r"\d+")
_LETTERS = re.compile(r"[A-Za-z]{2}")


def versioned_name(value: str) -> bool:
    """A name carrying a number (``snap-core20-2015.mount``), not a bare number or address."""
    return bool(_DIGITS.search(value) and _LETTERS.search(value))


def is_package_table(query: str) -> bool:
    return "package" in query


class EntryModel:
    """Lazily computed, per column set, from the index's profiles (identical hosts counted once each)."""

    def __init__(self, index: FleetIndex):
        self.index = index
        self.n_hosts = len(index.hosts)
        self._defences: np.ndarray | None = None
        self.df = index.document_frequency()
        self.weights = np.asarray(index.profile_counts, dtype=np.float64)
        self._matrix = index.profile_matrix().tocsc() if index.n_features else None
        self._by_colset: dict[int, np.ndarray] | None = None
        self._keys: dict[int, dict[tuple[str, ...], list[int]]] = {}
        self._cache_alt: dict[int, tuple[int, str | None]] = {}
        self._cache_cosig: dict[tuple[int, bool], str | None] = {}
        self._cache_passing: dict[tuple[int, int, str], bool] = {}
        self._cache_novelty: dict[str, float] = {}
        self._versions: dict[int, dict[tuple[str, ...], int]] = {}
        self._packages: np.ndarray | None = None
        self._replaced: frozenset[str] | None = None
        self.rare_max = max(1, math.floor(RARE_VALUE_FRACTION * self.n_hosts))
        self.provenance = Provenance(index, self.df)
        self.randomness = RandomValues(self)
        self.releases = Releases(self)
        self.recombination = Recombination(self)
        self.echo = Echo(self)
        self.generations = Generations(self)
        self.members = Members(self)
        per_colset = np.asarray([index.rule(cs.query).significance for cs in index.colsets] or [0.0])
        colsets = np.asarray(index.feature_colset, dtype=np.int64)
        self.security_mask = (
            per_colset[colsets] >= SECURITY_SIGNIFICANCE if index.n_features else np.zeros(0, bool)
        )
        for fid in np.flatnonzero(self.security_mask).tolist():
            if self.local_only(fid):
                self.security_mask[fid] = False

    # -- helpers ----------------------------------------------------------------------------------

    def _colset_features(self, colset: int) -> np.ndarray:
        if self._by_colset is None:
            colsets = np.asarray(self.index.feature_colset, dtype=np.int32)
            order = np.argsort(colsets, kind="stable")
            bounds = np.searchsorted(colsets[order], np.arange(len(self.index.colsets) + 1))
            self._by_colset = {c: order[bounds[c] : bounds[c + 1]] for c in range(len(self.index.colsets))}
        fids = self._by_colset[colset]
        return fids[self.df[fids] > 0]

    def _hosts_of_groups(self, fids: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
        """Hosts holding at least one feature of each group (HOSTS, not rows)."""
        if len(fids) == 0 or self._matrix is None:
            return np.zeros(n_groups)
        onehot = sparse.csr_matrix(
            (np.ones(len(fids)), (np.arange(len(fids)), groups)), shape=(len(fids), n_groups)
        )
        held = (self._matrix[:, fids] @ onehot) > 0
        return np.asarray(held.T @ self.weights).ravel()

    def majority_defences(self, campaign_max_fraction: float) -> np.ndarray:
        """Security rows more than ``1 - campaign_max_fraction`` of the fleet holds and at least 2
        hosts lack, whose absence is severe by its content (a firewall rule removed:
        tables/severity.py): what a campaign that removes a defence leaves missing. Computed once."""
        if self._defences is None:
            n = self.n_hosts
            common = self.security_mask & (self.df > (1.0 - campaign_max_fraction) * n) & (self.df <= n - 2)
            keep = []
            for fid in np.flatnonzero(common).tolist():
                spec = REGISTRY.get(self.index.query_of(fid))
                if (
                    spec is not None
                    and spec.severe is not None
                    and spec.severe(self.index.row(fid), "missing")
                ):
                    keep.append(fid)
            self._defences = np.asarray(keep, dtype=np.int64)
        return self._defences

    def security(self, fid: int) -> bool:
        return bool(self.security_mask[fid]) if len(self.security_mask) > fid else False

    def local_only(self, fid: int) -> bool:
        """A local IPC endpoint: a listener bound to loopback only (no remote access) or a socket /
        fifo in a staging directory (it carries no payload: it is a local service's other face, e.g.
        ``/tmp/.s.PGSQL.6432`` beside a connection pool on 127.0.0.1:6432) - context, not a
        security finding. Executables and scripts dropped there stay security findings."""
        query = self.index.query_of(fid)
        row = self.index.row(fid)
        if query == "listening_ports":
            address = row.get("address", "")
            return address.startswith("127.") or address == "::1"
        return query == "staging_files" and row.get("type", "") in ("socket", "fifo")

    # -- cardinality and sickness -----------------------------------------------------------------

    def _entry_values(self, fid: int) -> list[int]:
        colset = self.index.feature_colset[fid]
        table = self._keys.get(colset)
        if table is None:
            table = defaultdict(list)
            positions = self.index.colsets[colset].key_positions
            for f in self._colset_features(colset).tolist():
                values = self.index.feature_values[f]
                table[tuple(values[i] for i in positions)].append(f)
            self._keys[colset] = table
        positions = self.index.colsets[colset].key_positions
        values = self.index.feature_values[fid]
        return table.get(tuple(values[i] for i in positions), [fid])

    def cardinality(self, fid: int) -> int:
        """Distinct values of the entry across hosts, plus one for "absent" when it is seen: when
        some host lacks the entry. An entry every host holds (``/bin/ls``, one hash per host) has
        never been seen absent, and counting absence as one of its values made a trojaned binary
        on 1 of 4 hosts less sick (0.67) than a new account (0.71), below ``SICK_MIN``. Holders are
        counted by summing each value's hosts, so a host holding two values of one entry can hide
        another host's absence (the entry then counts one value fewer)."""
        values = self._entry_values(fid)
        holders = sum(int(self.df[f]) for f in values)
        return len(values) + (1 if holders < self.n_hosts else 0)

    def sickness(self, fid: int, *, kind: str, total: int | None = None, holders: int | None = None) -> float:
        """PeerPressure-style P(sick) of a host's value (see the module docstring).

        ``added``/``changed``: the host holds ``fid``; ``missing``: the host lacks it. ``total`` and
        ``holders`` default to the analysed fleet (the host itself excluded).
        """
        total = self.n_hosts if total is None else total
        have = int(self.df[fid]) if holders is None else holders
        others = max(0, total - 1)
        if kind == "missing":
            same = max(0, total - have - 1)
            values = len(self._entry_values(fid))
            c = 2 if values <= 1 else values + 1  # the host itself lacks it: absence is seen
            c = max(c, self.alternatives(fid))  # lacking one alternative = holding another
        else:
            same = max(0, have - 1)
            c = self.alternatives(fid)
        return (others + c) / (others + c * (same + 2))

    def unstable(self, fid: int) -> bool:
        """Several minority values of one key, spread over several hosts: state churn, not a change."""
        values = self._entry_values(fid)
        if len(values) < 3:
            return False
        counts = sorted((int(self.df[f]) for f in values), reverse=True)
        minority = sum(counts[1:])
        spread = counts[1] < 0.5 * minority + 1  # no single minority value: not one replacement
        usual = counts[0] >= 0.5 * self.n_hosts  # the thing itself is on most hosts (a timer unit)
        return usual and spread and minority >= max(UNSTABLE_MIN_HOSTS, UNSTABLE_MIN_FRACTION * self.n_hosts)

    def usual_value(self, fid: int) -> int | None:
        """The entry's value most hosts hold (same key), when it is not ``fid`` itself."""
        values = self._entry_values(fid)
        top = max(values, key=lambda f: (int(self.df[f]), -f))
        return None if top == fid else top

    def passing_state(self, fid: int, ref_fid: int) -> str | None:
        """The changed column whose new value is a *passing state* of this table, or None.

        Pooled over the table's entries (PeerPressure pools cardinality the same way): a value that is
        never the usual value of any entry, yet shows up as the exception in several entries on
        several hosts (a timer's unit caught ``activating`` here, another there) is what entries of
        this table pass through, not a change made to one host. A stopped agent's ``inactive`` is
        the usual value of many other units, so it stays evidence.

        EVERY changed column must be a passing state: a sysctl whose ``config_value`` is new on two
        hosts (a passing-looking "0") while its ``current_value`` went from 2 to 0 (ASLR off) is a
        change, not a state the entry passes through; nor is a row whose shell, hash, key or mode
        changed beside it (those are never passing states)."""
        colset = self.index.feature_colset[fid]
        if self.index.feature_colset[ref_fid] != colset:
            return None
        row, ref = self.index.feature_values[fid], self.index.feature_values[ref_fid]
        columns = self.index.colsets[colset].columns
        passing: str | None = None
        for position, (mine, theirs) in enumerate(zip(row, ref, strict=True)):
            if mine == theirs:
                continue
            if columns[position] in NEVER_VARIANT or not self._passing(colset, position, mine):
                return None
            passing = passing or columns[position]
        return passing

    def _passing(self, colset: int, position: int, value: str) -> bool:
        key = (colset, position, value)
        found = self._cache_passing.get(key)
        if found is None:
            self._entry_values(int(self._colset_features(colset)[0]))  # builds the key table
            entries = 0
            holders: list[int] = []
            usual = False
            for fids in self._keys[colset].values():
                with_value = [f for f in fids if self.index.feature_values[f][position] == value]
                if not with_value:
                    continue
                top = max(fids, key=lambda f: int(self.df[f]))
                if self.index.feature_values[top][position] == value and len(fids) > 0:
                    usual = True
                    break
                entries += 1
                holders.extend(with_value)
            hosts = 0.0
            if not usual and entries >= 2:
                chosen = np.asarray(holders, dtype=np.int64)
                hosts = self._hosts_of_groups(chosen, np.zeros(len(chosen), dtype=np.int64), 1)[0]
            found = self._cache_passing[key] = (not usual) and entries >= 2 and hosts >= 2
        return found

    def novelty_rate(self, query: str) -> float:
        """Share of the OTHER hosts holding a row of ``query`` that (almost) no other host holds and
        that is not per-host random: how often a healthy host of this fleet shows something new in
        this table (a timer's job, an agent's worker). Counted in hosts, learned from the fleet."""
        found = self._cache_novelty.get(query)
        if found is None:
            novel: list[int] = []
            for c, cs in enumerate(self.index.colsets):
                if cs.query != query:
                    continue
                fids = self._colset_features(c)
                rare = fids[self.df[fids] <= self.rare_max]
                novel.extend(f for f in rare.tolist() if self.random_column(f) is None)
            arr = np.asarray(novel, dtype=np.int64)
            hosts = self._hosts_of_groups(arr, np.zeros(len(arr), dtype=np.int64), 1)[0] if len(arr) else 0.0
            found = self._cache_novelty[query] = float(max(0.0, hosts - 1) / max(1, self.n_hosts - 1))
        return found

    def other_version(self, fid: int) -> bool:
        """Another row of the table, identical once digit runs are masked, held by more hosts: this
        row is a version of it (a refreshed snap revision renames the unit's id, description and
        path at once)."""
        colset = self.index.feature_colset[fid]
        table = self._versions.get(colset)
        if table is None:
            table = {}
            for f in self._colset_features(colset).tolist():
                key = tuple(_DIGITS.sub("#", v) for v in self.index.feature_values[f])
                table[key] = max(table.get(key, 0), int(self.df[f]))
            self._versions[colset] = table
        values = self.index.feature_values[fid]
        key = tuple(_DIGITS.sub("#", v) for v in values)
        # several columns carry the number (id, description, path): a version, not a sibling row
        # numbers inside NAMES (a unit id, a description, a path), never bare numbers: 10.0.0.0 ->
        # 0.0.0.0 in a firewall rule's source is an opened rule, not a new revision
        numbered = sum(1 for v in values if versioned_name(v))
        return numbered >= 2 and table.get(key, 0) > int(self.df[fid])

    def alternatives(self, fid: int) -> int:
        """Cardinality of the one-per-host thing this row is a value of (plus one for "absent").

        The entry is not always the row's key: ``DOCKER ACCEPT -> 172.17.0.3`` is one of the two
        addresses each host's container got. Blank one column; if every host holding the rest holds
        it exactly once (a one-per-host thing, unlike a table of many modules per host, or a host
        that holds an opened port *beside* the usual one) and more hosts hold it than hold the row,
        its distinct values are the row's alternatives: holding this one is a swap."""
        found = self._cache_alt.get(fid)
        if found is None:
            found = (self.cardinality(fid), None)
            colset = self.index.feature_colset[fid]
            row = self.index.feature_values[fid]
            mine = int(self.df[fid])
            columns = self.index.colsets[colset].columns
            for position in range(len(row)) if len(row) > 1 else ():
                entry = self.randomness.templates(colset, (position,)).get(blank(row, (position,)))
                if entry is None:
                    continue
                hosts, _, _, distinct, rows = entry
                if hosts >= mine + ALTERNATIVE_MIN_HOSTS and rows <= hosts and distinct >= 2:
                    found = (max(found[0], distinct + 1), found[1] or columns[position])
            self._cache_alt[fid] = found
        return found[0]

    def swap_column(self, fid: int) -> str | None:
        """The column in which this row is one of several values of a one-per-host thing, or None."""
        self.alternatives(fid)
        return self._cache_alt[fid][1]

    def random_column(self, fid: int) -> str | None:
        """The column whose values are per-host random for this row's template, or None
        (``randomness.RandomValues.random_column``)."""
        return self.randomness.random_column(fid)

    def split_share(self, fid: int) -> float:
        """Share of the hosts WITHOUT this row that hold, in the same table, a row of another minority
        group: held by 2 hosts up to half the fleet, and by none of this row's holders.

        A table split across the fleet (three shards, each mapping ``cache`` to its own address in
        /etc/hosts, the baseline's shard among them) gives every host one group's row; a campaign's
        artifact leaves the other hosts holding nothing comparable (0), and a campaign that rewrites
        a file leaves them the MAJORITY's row, which is not a minority group's. Counted in hosts, from
        the fleet itself, so the baseline's own shard counts in baseline mode too."""
        if self._matrix is None:
            return 0.0
        column = np.asarray(self._matrix[:, fid].todense()).ravel() > 0
        rest = float(self.weights[~column].sum())
        if rest <= 0:
            return 0.0
        fids = self._colset_features(self.index.feature_colset[fid])
        fids = fids[(fids != fid) & (self.df[fids] >= 2) & (self.df[fids] < 0.5 * self.n_hosts)]
        if len(fids) == 0:
            return 0.0
        sub = self._matrix[:, fids]
        foreign = np.asarray(sub[column].sum(axis=0)).ravel() == 0  # none of the holders has it
        if not foreign.any():
            return 0.0
        outside = (np.asarray(sub[:, np.flatnonzero(foreign)].sum(axis=1)).ravel() > 0) & ~column
        return float(self.weights[outside].sum()) / rest

    def replaced_binaries(self) -> frozenset[str]:
        """Paths whose running process reads as deleted (on_disk 0) while a file exists at the path
        (``process_binaries`` hashed it), on every host where the path runs deleted: the binary was
        replaced on disk under its process (an upgrade without a restart), not deleted. osquery
        reports both as on_disk 0 (processes.cpp ``getOnDisk``: the exe link ends in " (deleted)")."""
        if self._replaced is None:
            deleted: set[str] = set()
            replaced: set[str] = set()
            for c, cs in enumerate(self.index.colsets):
                if cs.query != "process_binaries" or not {"path", "on_disk", "sha256"} <= set(cs.columns):
                    continue
                p, d, h = (cs.columns.index(x) for x in ("path", "on_disk", "sha256"))
                for fid in self._colset_features(c).tolist():
                    values = self.index.feature_values[fid]
                    if values[d] == "0":
                        (replaced if values[h] else deleted).add(values[p])
            self._replaced = frozenset(replaced - deleted)
        return self._replaced

    # -- populations ------------------------------------------------------------------------------

    def _upgrade(self, fid: int) -> bool:
        """Is this package row another version of a package (same name) most of the fleet holds?"""
        row = self.index.row(fid)
        name = row.get("name", "")
        if not name:
            return False
        colset = self.index.feature_colset[fid]
        position = self.index.colsets[colset].columns.index("name")
        others = [
            f
            for f in self._colset_features(colset).tolist()
            if f != fid and self.index.feature_values[f][position] == name
        ]
        return any(self.df[f] > 0.5 * self.n_hosts for f in others)

    def _upgrade_naming(self, package: int, fid: int) -> bool:
        """Below COSIGNATURE_MIN_HOSTS an upgrade co-signs a security row only when the row names the
        package: two hosts that got a newer sudo have a new /usr/bin/sudo, but two hosts of a six-host
        fleet that happen to share an agent's update and an intruder's key are a coincidence (1 in 15),
        not a population's make-up. A package row it co-signs by holders alone (a canary's upgrade
        pulls in a new dependency)."""
        if not self._upgrade(package):
            return False
        return not self.security_mask[fid] or self._names_subject(package, fid)

    def _names_subject(self, package: int, fid: int, *, or_values: bool = False) -> bool:
        """Whether the row's subject names the package. The subject only (a binary's path): every
        authorized_keys row holds ".ssh", which would name any openssh upgrade. ``or_values``: a
        table without a subject column (a cron line, a listener) is read by the row's values."""
        spec = REGISTRY.get(self.index.query_of(fid))
        row = self.index.row(fid)
        if spec is not None and spec.subject:
            text = row.get(spec.subject, "")
        else:
            text = " ".join(row.values()) if or_values else ""
        return bool(text) and names(self.index.row(package).get("name", ""), text)

    def _cosigns(self, package: int, fid: int, size: float) -> bool:
        """Whether a package row held by the same hosts may co-sign ``fid`` as a population's make-up.

        Below COSIGNATURE_MIN_HOSTS: an upgrade, naming a security row (``_upgrade_naming``). From
        there on any package co-signs a context row, but a security row only an UPGRADE (a rollout
        moves versions of what every host runs) or a package the row names (a new agent's own unit):
        hosts that got NEW packages no other host has in any version (socat, masscan) together with
        a preload or a sudo rule that is not theirs are an intruder's toolkit, not a population. (An
        intruder's cron line that runs the tool it installed names it, and stays excused on 3 hosts
        or more: a known limit.)"""
        if size < COSIGNATURE_MIN_HOSTS:
            return self._upgrade_naming(package, fid)
        if not self.security_mask[fid] or self._upgrade(package):
            return True
        # a new app's own cron line and listener name it ("acme /opt/acme/bin/flush", acme-app)
        return self._names_subject(package, fid, or_values=True)

    def travels_with(self, fid: int, *, absent: bool = False) -> str | None:
        """What co-signs ``fid`` as a population's make-up, described: a package row held by (about)
        the same hosts as ``fid`` (or as the hosts lacking it), or the release those hosts run
        (analyze/releases.py); None for neither."""
        key = (fid, absent)
        if key in self._cache_cosig:
            return self._cache_cosig[key]
        answer = None
        if self._matrix is not None:
            if self._packages is None:
                pkg = [c for c, cs in enumerate(self.index.colsets) if is_package_table(cs.query)]
                self._packages = (
                    np.concatenate([self._colset_features(c) for c in pkg]) if pkg else np.zeros(0, int)
                )
            column = np.asarray(self._matrix[:, fid].todense()).ravel()
            holders = (1.0 - column) * self.weights if absent else column * self.weights
            size = float(holders.sum())
            low = UPGRADE_MIN_HOSTS if size < COSIGNATURE_MIN_HOSTS else COSIGNATURE_MIN_HOSTS
            if low <= size <= self.n_hosts - low and len(self._packages):
                inter = np.asarray(self._matrix[:, self._packages].T @ holders).ravel()
                union = self.df[self._packages] + size - inter
                jaccard = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
                jaccard[self._packages == fid] = 0.0  # a package row never co-signs itself
                # the closest package that may co-sign (``_cosigns``): below COSIGNATURE_MIN_HOSTS
                # only an upgrade (two hosts given attacker tools get NEW packages, not versions),
                # naming a security row: of the packages two hosts upgraded together (curl and
                # openssh), the one the row belongs to
                close = np.flatnonzero(jaccard >= COSIGNATURE_JACCARD)
                close = close[np.argsort(-jaccard[close], kind="stable")]
                best: int | None = next(
                    (int(b) for b in close.tolist() if self._cosigns(int(self._packages[b]), fid, size)),
                    None,
                )
                if best is not None and jaccard[best] >= COSIGNATURE_JACCARD:
                    g = int(self._packages[best])
                    row = self.index.row(g)
                    named = " ".join(v for k, v in row.items() if k in ("name", "version") and v)
                    answer = f"package {named or row}"
            if answer is None and low <= size <= self.n_hosts - low:
                # no package moved with it: maybe the hosts run another release of the app itself
                answer = self.releases.release_of(holders > 0)
        self._cache_cosig[key] = answer
        return answer
