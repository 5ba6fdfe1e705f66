"""A row no other host holds, made only of parts other hosts hold: a new combination, not new content.

Real fleets are cross products: instance sizes times releases times zones. The one host that is both
``large`` and on release 2.0.0 runs workers ``--id 3 --batch 50`` from ``/srv/app/releases/2.0.0``
that no other host runs (large hosts on 1.4.2 run ``--id 3`` without ``--batch``; small 2.0.0 hosts
run ``--id 1 --batch 50``), and each worker listens on its own ephemeral port. Every such row is
unique to its host, yet every word of its command line is on other hosts' rows of the same table.
An intruder's listener brings words nobody else's processes use (``nc -lvp``, ``-c 'import
socket...'``, a path under ``/tmp``).

A row is **recombined** when (counted in HOSTS, against the hosts NOT holding the row, and a part is
on other hosts when at least ``KNOWN_SHARE`` of the hosts holding the table hold it, 2 at least):

* its process command line (a ``cmdline`` column) is new as a whole but each of its words is in
  the same column of other hosts' rows, and
* every other column's value is on other hosts' rows too, or is a number in a column where most
  hosts holding the table hold a value nobody else does (the table's own per-host rate,
  randomness.py ``column_novelty``: an ephemeral port).

Only command lines recombine: a sudoers rule or cron line made of known words (``admin`` plus
another account's ``NOPASSWD:ALL``) grants something new and stays evidence. Rows severe by their
content (tables/severity.py) are never weakened (verdict.py checks that first).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from diffy_analysis.analyze.randomness import RANDOM_NOVELTY

if TYPE_CHECKING:
    from diffy_analysis.analyze.entries import EntryModel

COMMAND_COLUMN = "cmdline"
KNOWN_SHARE = 0.05
"""A value or word is known when this share of the hosts holding the table hold it besides the row's
own holders: a population's part (a release on 4 of 12 hosts, a 3-host canary of 40), not the words
of one tool that independent intruders ran on a few hosts each (``nc -lknp <port> -e /bin/bash``,
ports and flags varied, on a handful of a 3,000-host fleet: read as known words, they hid 2 of its
bind shells)."""
KNOWN_MIN_HOSTS = 2


class Recombination:
    """Lazily built per (column set, column): hosts holding each value and each word of it."""

    def __init__(self, model: EntryModel):
        self.model = model
        self._values: dict[tuple[int, int], dict[str, float]] = {}
        self._words: dict[tuple[int, int], dict[str, float]] = {}
        self._cache: dict[int, bool] = {}

    def _hosts_per(self, colset: int, position: int, *, words: bool) -> dict[str, float]:
        store = self._words if words else self._values
        key = (colset, position)
        found = store.get(key)
        if found is None:
            model = self.model
            fids = model._colset_features(colset)
            ids: dict[str, int] = {}
            owner: list[int] = []
            groups: list[int] = []
            for i, f in enumerate(fids.tolist()):
                value = model.index.feature_values[f][position]
                for part in set(value.split()) if words else (value,):
                    groups.append(ids.setdefault(part, len(ids)))
                    owner.append(i)
            hosts = (
                model._hosts_of_groups(fids[np.asarray(owner, dtype=np.int64)], np.asarray(groups), len(ids))
                if ids
                else np.zeros(0)
            )
            found = store[key] = {part: float(hosts[g]) for part, g in ids.items()}
        return found

    def recombined(self, fid: int) -> bool:
        """Is this row a new combination of values and command-line words other hosts hold?"""
        found = self._cache.get(fid)
        if found is not None:
            return found
        model = self.model
        colset = model.index.feature_colset[fid]
        columns = model.index.colsets[colset].columns
        values = model.index.feature_values[fid]
        mine = float(model.df[fid])
        rates = model.randomness.column_novelty(colset)

        table_hosts = model.randomness.table_hosts(colset)
        known = max(KNOWN_MIN_HOSTS, KNOWN_SHARE * table_hosts)

        def elsewhere(counts: dict[str, float], part: str) -> bool:
            # every holder of this row holds the part; the OTHER hosts holding it must be a share of
            # the fleet a population makes up, not a few hosts where the same tool was also run
            return counts.get(part, 0.0) - mine >= known

        found = False
        if COMMAND_COLUMN in columns:
            found = True
            for position, value in enumerate(values):
                if not value or elsewhere(self._hosts_per(colset, position, words=False), value):
                    continue
                if columns[position] == COMMAND_COLUMN:
                    words = self._hosts_per(colset, position, words=True)
                    if all(elsewhere(words, w) for w in value.split()):
                        continue
                elif value.isdigit() and rates[position] >= RANDOM_NOVELTY:
                    continue  # a per-host number (an ephemeral port)
                found = False
                break
            else:
                # only a command line that is itself new counts as a recombination; a row whose
                # every value is known is a new pairing (a port moved to another program): evidence
                found = any(
                    columns[p] == COMMAND_COLUMN
                    and v
                    and not elsewhere(self._hosts_per(colset, p, words=False), v)
                    for p, v in enumerate(values)
                )
        self._cache[fid] = found
        return found
