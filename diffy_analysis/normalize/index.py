"""The fleet index: every host reduced to a sorted array of integer "feature" ids, built while streaming.

A *feature* is one normalized row of one query: the row's significant columns (volatile columns
dropped, the host's identity masked), interned to an integer the first time any host has it. A host
is then a *profile*: the sorted array of its feature ids. Identical profiles are collapsed (most
hosts of an app are identical after normalization), so clustering and counting work on distinct
profiles weighted by how many hosts share them.

Memory is bounded by the number of *distinct* rows in the fleet plus one small int array per
distinct profile, never by hosts x rows. Raw rows are not kept: evidence for findings is re-read
from the few flagged hosts' files (see analyze/evidence.py).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter
from typing import Any

import numpy as np
from scipy import sparse

from diffy_analysis.load import HostData, HostIdentity, HostRef, HostSource
from diffy_analysis.normalize.mask import HostMasking
from diffy_analysis.normalize.rules import Config, TableRule
from diffy_analysis.normalize.transforms import ROWS_TRANSFORMS, TRANSFORMS

FILE_CACHE_LIMIT = 200_000


def row_fingerprint(query: str, row: dict[str, str]) -> str:
    """Stable fingerprint of a normalized row: blake2b-128 (hex) of the query and the sorted row.

    This is the public identity of a normalized row: the Elasticsearch store indexes it, and an
    external prevalence source (analyze/peers.py) is keyed by it.
    """
    doc = json.dumps([query, sorted(row.items())], separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(doc.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@dataclass
class HostEntry:
    """What the analysis keeps per host: identity, what could not be collected, and its profile."""

    ref: HostRef
    identity: HostIdentity
    collected: frozenset[str]
    """Queries collected successfully (a row cannot be 'missing' from a query that did not run)."""
    gaps: tuple[tuple[str, str, str | None], ...]
    notes: tuple[str, ...]
    profile: int = -1
    """Index into FleetIndex.profiles."""

    @property
    def label(self) -> str:
        return self.identity.host

    @property
    def run_id(self) -> str | None:
        return self.ref.run.run_id


@dataclass
class ColumnSet:
    query: str
    columns: tuple[str, ...]
    key_positions: tuple[int, ...]
    """Positions of the rule's key columns inside ``columns`` (all positions when no keys apply)."""


@dataclass
class FleetIndex:
    config: Config
    hosts: list[HostEntry] = field(default_factory=list)
    feature_colset: list[int] = field(default_factory=list)
    feature_values: list[tuple[str, ...]] = field(default_factory=list)
    colsets: list[ColumnSet] = field(default_factory=list)
    profiles: list[np.ndarray] = field(default_factory=list)
    profile_counts: list[int] = field(default_factory=list)
    auto_ignored: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Columns found volatile automatically, per query."""
    _features: dict[tuple[int, tuple[str, ...]], int] = field(default_factory=dict, repr=False)
    _colset_ids: dict[tuple[str, tuple[str, ...]], int] = field(default_factory=dict, repr=False)
    _profile_ids: dict[bytes, int] = field(default_factory=dict, repr=False)
    _file_cache: dict[tuple[str, str], np.ndarray] = field(default_factory=dict, repr=False)
    _rules: dict[str, TableRule] = field(default_factory=dict, repr=False)
    masking: HostMasking = field(init=False, repr=False)
    """The one masking path (normalize/mask.py), both entry points: ``mask_text``, ``_masked_rows``."""
    _df: np.ndarray | None = field(default=None, repr=False)
    _query_codes: tuple[np.ndarray, dict[str, int]] | None = field(default=None, repr=False)
    queries_seen: set[str] = field(default_factory=set)
    file_cache_hits: int = 0
    references: list[HostEntry] = field(default_factory=list)
    """Hosts interned for comparison but not counted in the fleet (the baseline host)."""
    mapping_applied: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.masking = HostMasking(lambda query: bool(self.config.mask and self.rule(query).mask))

    # -- building ---------------------------------------------------------------------------------

    def rule(self, query: str) -> TableRule:
        found = self._rules.get(query)
        if found is None:
            found = self._rules[query] = self.config.rule(query)
        return found

    def _colset(self, query: str, columns: tuple[str, ...]) -> int:
        key = (query, columns)
        found = self._colset_ids.get(key)
        if found is None:
            keys = self.rule(query).keys
            positions = tuple(i for i, c in enumerate(columns) if c in keys) if keys else ()
            found = self._colset_ids[key] = len(self.colsets)
            self.colsets.append(ColumnSet(query, columns, positions or tuple(range(len(columns)))))
        return found

    def _feature(self, colset: int, values: tuple[str, ...]) -> int:
        found = self._features.get((colset, values))
        if found is None:
            # interned: rows that differ in one column share the other columns' strings
            values = tuple(map(sys.intern, values))
            found = self._features[(colset, values)] = len(self.feature_values)
            self.feature_colset.append(colset)
            self.feature_values.append(values)
        return found

    def _row_ids(self, query: str, rows: list[dict[str, str]], *, intern: bool = True) -> list[int]:
        """Feature ids of rows (interning new ones; with ``intern=False`` unknown rows get -1)."""
        rule = self.rule(query)
        for name in rule.transforms:
            batch = ROWS_TRANSFORMS.get(name)
            rows = batch(rows) if batch is not None else list(map(TRANSFORMS[name], rows))
        if not rows:
            return []
        found = self._uniform_row_ids(query, rows, rule, intern)
        return found if found is not None else self._mixed_row_ids(query, rows, rule, intern)

    def _uniform_row_ids(
        self, query: str, rows: list[dict[str, str]], rule: TableRule, intern: bool
    ) -> list[int] | None:
        """The fast path for a file whose rows all have the first row's columns (osquery's output):
        values taken and looked up with C-level ``map``s, Python work only for rows not seen before.
        None when the rows' columns differ (the caller then goes row by row)."""
        first = rows[0]
        width = len(first)
        if len(rows) > 1 and set(map(len, rows)) != {width}:
            return None
        ignore = set(rule.ignore)
        columns = tuple(sorted(k for k in first if k not in ignore))
        ignored = tuple(k for k in first if k in ignore)
        try:
            # every row has the first row's width and all of its keys, so exactly its keys
            if ignored:
                deque(map(itemgetter(*ignored), rows), maxlen=0)
            if len(columns) > 1:
                values: list[tuple[str, ...]] = list(map(itemgetter(*columns), rows))
            elif columns:
                values = list(zip(map(itemgetter(columns[0]), rows)))
            else:
                values = [()] * len(rows)
        except KeyError:
            return None
        colset = self._colset(query, columns)
        out: list[Any] = list(map(self._features.get, zip(repeat(colset), values)))
        if None in out:
            for position, fid in enumerate(out):
                if fid is None:
                    out[position] = self._feature(colset, values[position]) if intern else -1
        return out

    def _mixed_row_ids(
        self, query: str, rows: list[dict[str, str]], rule: TableRule, intern: bool
    ) -> list[int]:
        """Row by row, for files whose rows do not all have the same columns."""
        ignore = set(rule.ignore)
        features = self._features
        out: list[int] = []
        current_keys: Any = None
        colset = -1
        getter: Any = None
        for row in rows:
            if row.keys() != current_keys:
                current_keys = row.keys()
                columns = tuple(sorted(k for k in row if k not in ignore))
                colset = self._colset(query, columns)
                if len(columns) > 1:
                    getter = itemgetter(*columns)
                elif columns:
                    only = columns[0]
                    getter = lambda r, c=only: (r[c],)  # noqa: E731 - a tiny getter
                else:
                    getter = lambda r: ()  # noqa: E731
            values = getter(row)
            fid = features.get((colset, values))
            if fid is None:
                fid = self._feature(colset, values) if intern else -1
            out.append(fid)
        return out

    def read(self, results: HostSource) -> Iterator[HostData]:
        """Stream ``results``' hosts (any ``HostSource``), the host's identity masked while read."""
        return results.iter_hosts(text_filter=self.mask_text, reuse=self.knows_file)

    def knows_file(self, query: str, digest: str) -> bool:
        """A ``load.Reuse``: the feature ids of an unmasked file with these bytes are cached, so the
        reader need not parse it (most files repeat across an app's hosts; parsing is most of the
        cost of reading)."""
        return (query, digest) in self._file_cache

    def mask_text(self, identity: HostIdentity, query: str, text: str) -> str:
        """A ``load.TextFilter``: the file's text with the host's identity masked (when the rule says
        so). Reading hosts through it parses every file once (``build.build_fleet`` does)."""
        return self.masking.text(identity, query, text)

    def _masked_rows(self, host: HostData, query: str) -> list[dict[str, str]]:
        """The query's rows with the host's identity masked, for hosts read without ``mask_text``
        (the same masker and steps); the very same list when nothing to mask."""
        return self.masking.rows(host.identity, query, host.rows.get(query, []), host.texts.get(query))

    def lookup(self, host: HostData, query: str) -> list[int]:
        """Feature ids (after automatic volatile columns were dropped) of one re-read file's rows, in
        file order; -1 for a row the index never saw. Used to find the raw rows behind findings."""
        ids = self._row_ids(query, self._masked_rows(host, query), intern=False)
        if self.mapping_applied is not None:
            ids = [int(self.mapping_applied[i]) if 0 <= i < len(self.mapping_applied) else i for i in ids]
        return ids

    def add_reference(self, host: HostData) -> HostEntry:
        """Intern a host that is compared with, but not counted as part of the fleet (a baseline)."""
        entry = self.add(host)
        self.hosts.pop()
        self.profile_counts[entry.profile] -= 1
        self.references.append(entry)
        return entry

    def add(self, host: HostData) -> HostEntry:
        """Intern one host's rows and record its profile. The host's rows can be dropped afterwards."""
        ids: list[int] = []
        for query in sorted(host.rows):
            self.queries_seen.add(query)
            if host.filtered is None:  # not read through mask_text: mask here
                rows = self._masked_rows(host, query)
                unchanged = rows is host.rows[query]
            else:
                rows = host.rows[query]
                unchanged = query not in host.filtered
            digest = host.digests.get(query)
            cache_key = (query, digest) if (digest and unchanged) else None
            cached = self._file_cache.get(cache_key) if cache_key else None
            if cached is None and query in host.reused:
                raise RuntimeError(f"{query}: file not parsed by the reader and not in the file cache")
            if cached is not None:
                self.file_cache_hits += 1
                ids.extend(cached.tolist())
                continue
            row_ids = self._row_ids(query, rows)
            if cache_key and len(self._file_cache) < FILE_CACHE_LIMIT:
                self._file_cache[cache_key] = np.asarray(row_ids, dtype=np.int32)
            ids.extend(row_ids)
        self.queries_seen.update(host.queries)
        collected = frozenset(q for q, s in host.queries.items() if s.status == "ok" and q in host.rows)
        gaps = tuple((q, s.status, s.error) for q, s in sorted(host.queries.items()) if s.status != "ok")
        entry = HostEntry(host.ref, host.identity, collected, gaps, tuple(host.notes))
        entry.profile = self._profile(_sorted_unique(ids))
        self.hosts.append(entry)
        return entry

    def _profile(self, features: np.ndarray) -> int:
        # keyed by a 128-bit digest, not by the bytes themselves: on a fleet of unique hosts the
        # bytes would double the memory of the profiles (about 3 KB a host)
        data = features.tobytes()
        key = hashlib.blake2b(data, digest_size=16).digest()
        found = self._profile_ids.get(key)
        if found is not None and not np.array_equal(self.profiles[found], features):
            key = data  # a digest collision (never expected): this profile keeps its exact key
            found = self._profile_ids.get(key)
        if found is None:
            found = self._profile_ids[key] = len(self.profiles)
            self.profiles.append(features)
            self.profile_counts.append(0)
        self.profile_counts[found] += 1
        return found

    # -- after the last host -----------------------------------------------------------------------

    def end_build(self) -> None:
        """The last host was added: drop build-time caches (normalize/build.py calls this)."""
        self._file_cache.clear()
        self._df = None

    def drop_volatile(self, volatile: dict[int, tuple[int, ...]]) -> None:
        """Drop the automatically detected volatile column positions (colset -> positions)."""
        if volatile:
            self._drop_columns(volatile)
        self._df = None

    def _drop_columns(self, volatile: dict[int, tuple[int, ...]]) -> None:
        """Re-map features of colsets with volatile column positions to features without them."""
        mapping = np.arange(len(self.feature_values), dtype=np.int32)
        new_colsets: dict[int, tuple[int, tuple[int, ...]]] = {}
        for colset, positions in volatile.items():
            cs = self.colsets[colset]
            keep = tuple(i for i in range(len(cs.columns)) if i not in positions)
            new_colsets[colset] = (self._colset(cs.query, tuple(cs.columns[i] for i in keep)), keep)
            dropped = tuple(cs.columns[i] for i in positions)
            self.auto_ignored[cs.query] = tuple(
                sorted(set(self.auto_ignored.get(cs.query, ())) | set(dropped))
            )
        for fid in range(len(mapping)):
            colset = self.feature_colset[fid]
            if colset in new_colsets:
                target, keep = new_colsets[colset]
                values = self.feature_values[fid]
                mapping[fid] = self._feature(target, tuple(values[i] for i in keep))
        old_profiles, old_counts = self.profiles, self.profile_counts
        self.profiles, self.profile_counts, self._profile_ids = [], [], {}
        remap = []
        released = np.zeros(0, dtype=np.int32)
        for position, count in enumerate(old_counts):
            # each old profile is let go once re-mapped, so the old and the new profiles are never
            # all held at once (at 100k per-host-unique hosts each set is ~320 MB)
            features, old_profiles[position] = old_profiles[position], released
            new_id = self._profile(np.unique(mapping[features]))
            self.profile_counts[new_id] += count - 1
            remap.append(new_id)
        for host in self.hosts + self.references:
            host.profile = remap[host.profile]
        self.mapping_applied = mapping

    # -- queries over the index ---------------------------------------------------------------------

    @property
    def n_features(self) -> int:
        return len(self.feature_values)

    def profile_matrix(self) -> sparse.csr_matrix:
        """Distinct profiles x features, binary (CSR).

        The 1s are int8, not float: a quarter of the bytes of float32 for the same counts (a product
        with float counts or weights is float64 either way); ~80 million entries at 100k hosts.
        A product of two of them (``M @ M.T``: features shared by two profiles) stays int8 and wraps
        past 127 silently: cast one side first (``M.astype(np.int32)``)."""
        indptr = np.zeros(len(self.profiles) + 1, dtype=np.int64)
        np.cumsum([len(p) for p in self.profiles], out=indptr[1:])
        indices = np.concatenate(self.profiles) if self.profiles else np.zeros(0, dtype=np.int32)
        data = np.ones(len(indices), dtype=np.int8)
        return sparse.csr_matrix((data, indices, indptr), shape=(len(self.profiles), self.n_features))

    def document_frequency(self) -> np.ndarray:
        """Number of hosts having each feature."""
        if self._df is None:
            counts = np.asarray(self.profile_counts, dtype=np.float64)
            self._df = np.rint(self.profile_matrix().T @ counts).astype(np.int64)
        return self._df

    def feature_query_codes(self) -> tuple[np.ndarray, dict[str, int]]:
        """Per feature, a code of its query, and query -> code (numpy selections by table).

        Computed once for the index as it is (recomputed if features were added since)."""
        cached = self._query_codes
        if cached is None or len(cached[0]) != len(self.feature_colset):
            names: dict[str, int] = {}
            per_colset = np.asarray(
                [names.setdefault(cs.query, len(names)) for cs in self.colsets] or [0], dtype=np.int32
            )
            codes = per_colset[np.asarray(self.feature_colset, dtype=np.int64)]
            cached = self._query_codes = (codes, names)
        return cached

    def query_of(self, fid: int) -> str:
        return self.colsets[self.feature_colset[fid]].query

    def columns_of(self, fid: int) -> tuple[str, ...]:
        return self.colsets[self.feature_colset[fid]].columns

    def row(self, fid: int) -> dict[str, str]:
        return dict(zip(self.columns_of(fid), self.feature_values[fid], strict=True))

    def key(self, fid: int) -> tuple[str, tuple[str, ...]]:
        """(query, key column values) of a feature: rows with equal keys are 'the same thing'."""
        cs = self.colsets[self.feature_colset[fid]]
        values = self.feature_values[fid]
        return (cs.query, tuple(cs.columns[i] + "=" + values[i] for i in cs.key_positions))

    def fingerprint(self, fid: int) -> str:
        return row_fingerprint(self.query_of(fid), self.row(fid))

    def significance(self, fid: int) -> float:
        return self.rule(self.query_of(fid)).significance

    def hosts_by_profile(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.profiles]
        for index, host in enumerate(self.hosts):
            out[host.profile].append(index)
        return out


def _sorted_unique(ids: list[int]) -> np.ndarray:
    """``np.unique`` of a host's feature ids, as int32 (sort and drop repeats: twice as fast here)."""
    array = np.asarray(ids, dtype=np.int32)
    array.sort()
    if len(array) > 1:
        array = array[np.concatenate(([True], array[1:] != array[:-1]))]
    return array
