"""Per-host random values, one part of the entry model (entries.py ``EntryModel.random_column``).

A row *template* is the row with some columns blanked ("rpc.statd listens on tcp 0.0.0.0:<port>").
A template is per-host random when most of the HOSTS holding it hold a value of it (almost) nobody
else holds; a template on a minority of hosts must also be rooted in what those hosts are (the
JVM's random port and the hosts' ``java`` process). Below ``RANDOM_MIN_HOSTS`` holders the template's
own count is shrunk towards its table's per-column novelty rate (two hosts each with their own port,
where the table's port column is per-host on almost every host, are random). Such evidence never
decides a verdict, however rare each value is. Counted in hosts, so one host's 300 rows are one host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from diffy_analysis.analyze.entries import EntryModel

RANDOM_MIN_HOSTS = 3
"""Per-host randomness is estimated from at least this many hosts holding the template (whatever
share of the fleet they are: a JVM's ephemeral port may live in one sub-population only)."""
RANDOM_NOVELTY = 0.5
"""A template is per-host random when at least this share of the hosts holding it hold a value of
it (almost) no other host holds: a new value there is what a healthy host shows, not evidence."""
SMALL_TEMPLATE_HOSTS = 2
"""Below ``RANDOM_MIN_HOSTS`` a template's randomness is judged with the table's column rate as a
prior (shrinkage); one host alone never says anything about randomness."""
COSIGNATURE_JACCARD = 0.8
"""Two sets of hosts are "the same hosts" from this Jaccard index on (a template rooted in another
table's row; a difference travelling with a package version, entries.py)."""


def blank(row: tuple[str, ...], positions: tuple[int, ...]) -> tuple[str, ...]:
    """The row with the columns at ``positions`` blanked: its template."""
    if len(positions) == 1:  # the common case, by slicing (no Python step per column)
        p = positions[0]
        if 0 <= p < len(row):
            return (*row[:p], "", *row[p + 1 :])
        return row
    return tuple("" if i in positions else v for i, v in enumerate(row))


class RandomValues:
    """Lazily computed per (column set, blanked positions) from the entry model's host counts."""

    def __init__(self, model: EntryModel):
        # the model's counts, read as they are (no copies): hosts per profile, rows per feature
        self.index = model.index
        self.n_hosts = model.n_hosts
        self.df = model.df
        self.weights = model.weights
        self.rare_max = model.rare_max
        self._matrix = model._matrix
        self._colset_features = model._colset_features
        self._hosts_of_groups = model._hosts_of_groups
        self._random: dict[
            tuple[int, tuple[int, ...]], dict[tuple[str, ...], tuple[int, int, int, int, int]]
        ] = {}
        self._template_fids: dict[tuple[int, tuple[int, ...]], tuple[np.ndarray, np.ndarray, dict]] = {}
        self._fquery: np.ndarray | None = None
        self._cache_rooted: dict[tuple[int, tuple[int, ...], tuple[str, ...]], bool] = {}
        self._cache_random: dict[int, str | None] = {}
        self._random_cols: dict[int, tuple[int, ...]] = {}
        self._column_novelty: dict[int, tuple[float, ...]] = {}
        self._table_hosts: dict[int, float] = {}

    def templates(
        self, colset: int, positions: tuple[int, ...]
    ) -> dict[tuple[str, ...], tuple[int, int, int, int, int]]:
        """template (the row with ``positions`` blanked) -> (hosts holding it, hosts holding a rare
        value of it, hosts of its commonest value, distinct values, rows summed over hosts)."""
        key = (colset, positions)
        found = self._random.get(key)
        if found is not None:
            return found
        fids = self._colset_features(colset)
        ids: dict[tuple[str, ...], int] = {}
        values, setdefault = self.index.feature_values, ids.setdefault
        groups = np.fromiter(
            (setdefault(blank(values[f], positions), len(ids)) for f in fids.tolist()),
            dtype=np.int64,
            count=len(fids),
        )
        hosts = self._hosts_of_groups(fids, groups, len(ids))
        rare = self.df[fids] <= self.rare_max
        rare_hosts = self._hosts_of_groups(fids[rare], groups[rare], len(ids))
        top = np.zeros(len(ids))
        np.maximum.at(top, groups, self.df[fids].astype(np.float64))
        distinct = np.bincount(groups, minlength=len(ids))
        rows = np.bincount(groups, weights=self.df[fids].astype(np.float64), minlength=len(ids))
        found = {
            t: (int(hosts[g]), int(rare_hosts[g]), int(top[g]), int(distinct[g]), int(rows[g]))
            for t, g in ids.items()
        }
        self._random[key] = found
        self._template_fids[key] = (fids, groups, ids)
        return found

    def _held_counts(self, profiles: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Per feature, the summed ``weights`` of the given profiles holding it (the index's own
        profile arrays, the rows of the model's matrix: no second copy of the matrix)."""
        arrays = [self.index.profiles[p] for p in profiles.tolist()]
        if not arrays:
            return np.zeros(self.index.n_features)
        features = np.concatenate(arrays)
        per_row = np.repeat(weights[profiles], [len(a) for a in arrays])
        return np.bincount(features, weights=per_row, minlength=self.index.n_features)

    def _feature_query(self) -> np.ndarray:
        if self._fquery is None:
            names: dict[str, int] = {}
            per_colset = np.asarray(
                [names.setdefault(cs.query, len(names)) for cs in self.index.colsets] or [0], dtype=np.int64
            )
            self._fquery = per_colset[np.asarray(self.index.feature_colset, dtype=np.int64)]
        return self._fquery

    def _rooted(self, colset: int, positions: tuple[int, ...], template: tuple[str, ...]) -> bool:
        """Is a template held by a minority of hosts part of what those hosts *are*?

        Its holders are, to ``COSIGNATURE_JACCARD``, the holders of some row of another table (the
        JVM's random port and the ``java`` process or package of the hosts that run it). Otherwise a
        handful of hosts each holding their own value are what independent compromises of the same
        kind look like (each intruder's own preload library), not noise."""
        key = (colset, positions, template)
        found = self._cache_rooted.get(key)
        if found is None:
            found = False
            fids, groups, ids = self._template_fids[(colset, positions)]
            mine = fids[groups == ids[template]]
            if self._matrix is not None and len(mine):
                held = np.asarray(self._matrix[:, mine].sum(axis=1)).ravel() > 0
                holders = held * self.weights
                size = float(holders.sum())
                # hosts of the template that hold each feature: summed over the holders' rows only
                # (a minority of the profiles), not a product with the whole matrix per template,
                # which made this step quadratic in the fleet (36 of 120 s at 10k hosts). Sums of
                # whole host counts: exactly the same numbers.
                inter = self._held_counts(np.flatnonzero(held), holders)
                union = self.df + size - inter
                jaccard = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
                other = self._feature_query() != self._feature_query()[mine[0]]
                found = bool(np.any((jaccard >= COSIGNATURE_JACCARD) & other & (self.df >= 2)))
            self._cache_rooted[key] = found
        return found

    def _random_positions(self, colset: int) -> tuple[int, ...]:
        """Columns in which most hosts holding the table hold a value (almost) nobody else holds."""
        found = self._random_cols.get(colset)
        if found is None:
            novelty = self.column_novelty(colset)
            found = tuple(p for p, rate in enumerate(novelty) if rate >= RANDOM_NOVELTY)
            self._random_cols[colset] = found
        return found

    def table_hosts(self, colset: int) -> float:
        """Hosts holding at least one row of the column set (counted once each)."""
        found = self._table_hosts.get(colset)
        if found is None:
            fids = self._colset_features(colset)
            found = self._table_hosts[colset] = float(
                self._hosts_of_groups(fids, np.zeros(len(fids), dtype=np.int64), 1)[0]
            )
        return found

    def column_novelty(self, colset: int) -> tuple[float, ...]:
        """Per column: the share of the hosts holding the table that hold a value of that column
        (almost) no other host holds - the table's own rate of per-host values in that column,
        learned from the fleet (0 for every column when too few hosts hold the table to tell)."""
        found = self._column_novelty.get(colset)
        if found is None:
            fids = self._colset_features(colset)
            n_cols = len(self.index.colsets[colset].columns)
            table_hosts = self.table_hosts(colset)
            rates = [0.0] * n_cols
            for position in range(n_cols if self._enough(table_hosts) else 0):
                ids: dict[str, int] = {}
                groups = np.asarray(
                    [ids.setdefault(self.index.feature_values[f][position], len(ids)) for f in fids.tolist()],
                    dtype=np.int64,
                )
                if len(groups) == 0:
                    continue
                value_hosts = self._hosts_of_groups(fids, groups, len(ids))
                rare_values = np.flatnonzero(value_hosts <= self.rare_max)
                holders = self._hosts_of_groups(
                    fids[np.isin(groups, rare_values)],
                    np.zeros(int(np.isin(groups, rare_values).sum()), int),
                    1,
                )[0]
                rates[position] = float(holders / table_hosts)
            found = self._column_novelty[colset] = tuple(rates)
        return found

    def _enough(self, hosts: float) -> bool:
        return hosts >= RANDOM_MIN_HOSTS

    def _is_random(self, colset: int, positions: tuple[int, ...], template: tuple[str, ...]) -> bool:
        """The template's novelty rate: the share of its hosts holding a value nobody else holds.

        Counted in hosts, so one host's 300 rows are one host; a common value next to the novel ones
        (the ``-.mount`` unit beside per-host container mounts) does not make the template fixed. A
        template on a minority of hosts must also be rooted in what those hosts are (``_rooted``)."""
        entry = self.templates(colset, positions).get(template)
        if entry is None:
            return False
        hosts, rare_hosts = entry[0], entry[1]
        alone = self._enough(hosts) and rare_hosts >= RANDOM_NOVELTY * hosts
        # too few hosts hold the template to tell alone (a 2-host canary's JVM with its own
        # ephemeral port each): borrow the table's rate for the blanked columns (shrinkage)
        if not alone and not (
            hosts >= SMALL_TEMPLATE_HOSTS and self.shrunk_novelty(colset, positions, hosts, rare_hosts)
        ):
            return False
        return hosts > 0.5 * self.n_hosts or self._rooted(colset, positions, template)

    def shrunk_novelty(
        self, colset: int, positions: tuple[int, ...], hosts: float, rare_hosts: float
    ) -> bool:
        """Is a small template per-host random, its own count shrunk towards the table's?

        ``(rare + K * prior) / (hosts + K)`` with ``K = RANDOM_MIN_HOSTS`` and ``prior`` the table's
        novelty rate in the blanked columns (their lowest: every blanked column must be random
        across the table). Two hosts each holding their own port, where the table's port column is
        per-host on almost every host, are random; two hosts each holding their own cron command,
        where nobody else's commands are, are not."""
        rates = self.column_novelty(colset)
        prior = min(rates[p] for p in positions) if positions else 0.0
        k = float(RANDOM_MIN_HOSTS)
        shrunk = (rare_hosts + k * prior) / (hosts + k)
        return shrunk >= RANDOM_NOVELTY and rare_hosts >= RANDOM_NOVELTY * hosts

    def random_column(self, fid: int) -> str | None:
        """The column whose values are per-host random for this row's template, or None.

        Two views: blank one column (a random port next to a fixed process), or blank every column
        that is random across the table (a table of per-host ids and sizes, where no single blanked
        column leaves anything shared)."""
        if fid in self._cache_random:
            return self._cache_random[fid]
        colset = self.index.feature_colset[fid]
        columns = self.index.colsets[colset].columns
        row = self.index.feature_values[fid]
        answer = None
        if len(columns) > 1:
            for position, column in enumerate(columns):
                if self._is_random(colset, (position,), blank(row, (position,))):
                    answer = column
                    break
            if answer is None:
                positions = self._random_positions(colset)
                if len(positions) > 1 and self._is_random(colset, positions, blank(row, positions)):
                    answer = "+".join(columns[p] for p in positions)
        self._cache_random[fid] = answer
        return answer
