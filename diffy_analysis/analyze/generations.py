"""A replacement is not an addition: another generation of a rotated value (entries.py).

EC2 writes an instance's launch key pair into its default user's ``authorized_keys``. Rotate the key
pair and every host launched afterwards holds the new key *instead of* the old one, while the older
hosts keep the old one. By counts alone the new key is a minority row in a security table shared by
several hosts, which is what a campaign looks like. By shape it is not: an intruder's key sits
*beside* the keys a host already has (``>> authorized_keys``: the host then holds one row more in
that file than its peers), whereas a rotation swaps one value for another.

For tables that declare an entry whose value rotates as a whole (``TableSpec.rotates``: the user and
key file of ``authorized_keys``), an added row is **another generation** when

* at least two hosts hold it (one host holding a key nobody else holds stays novelty: an intruder
  who overwrote one host's key file is indistinguishable from that by shape, and decides);
* a more common row of the same entry exists (the generation most hosts hold), and **none** of the
  row's holders holds it: they hold this one instead;
* at least half of its holders hold exactly as many rows in the entry as the hosts of the common
  generation typically do (a swap, not a swap plus additions).

Limits (docs/analysis.md): a campaign that *overwrites* the same key file with the same key on
several hosts has a rotation's shape and gets weak evidence for that key; its other artifacts decide.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from diffy_analysis.tables import REGISTRY

if TYPE_CHECKING:
    from diffy_analysis.analyze.entries import EntryModel

ROTATING = REGISTRY.rotating_entries()
GENERATION_MIN_HOSTS = 2
SWAP_SHARE = 0.5
"""Share of the row's holders that must hold exactly the usual number of rows of the entry."""


class Generations:
    """Lazily built per column set, from the entry model's profiles (hosts counted by weight)."""

    def __init__(self, model: EntryModel):
        self.model = model
        self._entries: dict[int, dict[tuple[str, ...], list[int]] | None] = {}
        self._cache: dict[int, str | None] = {}

    def _entry_table(self, colset: int) -> dict[tuple[str, ...], list[int]] | None:
        if colset not in self._entries:
            cs = self.model.index.colsets[colset]
            columns = ROTATING.get(cs.query, ())
            table: dict[tuple[str, ...], list[int]] | None = None
            if columns and all(c in cs.columns for c in columns):
                positions = [cs.columns.index(c) for c in columns]
                grouped: dict[tuple[str, ...], list[int]] = defaultdict(list)
                for fid in self.model._colset_features(colset).tolist():
                    values = self.model.index.feature_values[fid]
                    grouped[tuple(values[p] for p in positions)].append(fid)
                table = dict(grouped)
            self._entries[colset] = table
        return self._entries[colset]

    def generation_of(self, fid: int) -> str | None:
        """Why this added row is another generation of a rotated value, or None (module docstring)."""
        if fid in self._cache:
            return self._cache[fid]
        self._cache[fid] = answer = self._judge(fid)
        return answer

    def _judge(self, fid: int) -> str | None:
        model, index = self.model, self.model.index
        matrix = model._matrix
        if matrix is None or int(model.df[fid]) < GENERATION_MIN_HOSTS:
            return None
        colset = index.feature_colset[fid]
        table = self._entry_table(colset)
        if table is None:
            return None
        cs = index.colsets[colset]
        columns = ROTATING[cs.query]
        entry = tuple(index.feature_values[fid][cs.columns.index(c)] for c in columns)
        siblings = [f for f in table.get(entry, []) if f != fid]
        if not siblings:
            return None
        usual = max(siblings, key=lambda f: int(model.df[f]))
        if int(model.df[usual]) <= int(model.df[fid]):
            return None  # this row is (one of) the most common: nothing was replaced by it
        fids = np.asarray([fid, *siblings], dtype=np.int64)
        held = np.asarray(matrix[:, fids].todense()) > 0  # profiles x (this row, its siblings)
        mine = held[:, 0]
        theirs = held[:, 1 + siblings.index(usual)]
        if (mine & theirs).any():
            return None  # beside the usual value on some host: an addition
        counts = held.sum(axis=1)
        weights = model.weights
        if not theirs.any():
            return None
        usual_counts = counts[theirs]
        typical = int(np.bincount(usual_counts, weights=weights[theirs]).argmax())
        swapped = float(weights[mine & (counts == typical)].sum())
        if swapped < SWAP_SHARE * float(weights[mine].sum()):
            return None
        where = " ".join(v for v in entry if v)
        return (
            f"another generation of {where}: {int(model.df[fid])} hosts hold it instead of the value "
            f"{int(model.df[usual])} hosts hold (a rotation, not an addition)"
        )
