"""A security row that differs only as the echo of a value the host's software was started with.

Docker gave the container on some hosts 172.17.0.3 instead of 172.17.0.2. Two rows change on those
hosts: the ``DOCKER`` chain's ACCEPT rule (a security table: ``dst 172.17.0.2`` replaced by
``.3``) and the ``docker-proxy`` process (``-container-ip 172.17.0.2`` replaced by ``.3``). The
firewall row is a one-per-host thing whose value was *assigned* on this host, and the same
replacement sits in the command line of a process every host runs: the rule follows the process.

A candidate is an **echo** when (counted in HOSTS):

* it is one value ``v`` of a one-per-host thing whose other hosts mostly hold ``u``
  (``EntryModel.swap_column``: the row with one column blanked is held once by every host);
* every host holding it runs a process whose command line carries ``v`` as a word, and the same
  command line with ``u`` in its place is run by most of the other hosts: the process was started
  with the other value, so the row records the host's assignment, not a change made to it.

Only process command lines echo (what the software was started with): a connection to an address
(``process_open_sockets``) or another security row never explains a security row, so an
``/etc/hosts`` entry pointed at an intruder's address is not excused by the app connecting there.
Rows severe by their content are never weakened (verdict.py checks first). Limit: an intruder who
rewrites a unit's argument AND restarts the process with it on the same hosts changes both.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from diffy_analysis.analyze.randomness import blank

if TYPE_CHECKING:
    from diffy_analysis.analyze.entries import EntryModel

SOURCE = ("processes", "cmdline")
"""Where a host's software says what it was started with (table, column)."""
REST_MIN = 0.5
"""Share of the other hosts that must run the process with the usual value."""
_WORD = re.compile(r"[^\s=,:;'\"]+")


def _replace_word(command: str, word: str, by: str) -> str:
    return re.sub(rf"(?<![^\s=,:;'\"]){re.escape(word)}(?![^\s=,:;'\"])", by, command)


class Echo:
    def __init__(self, model: EntryModel):
        self.model = model
        self._commands: dict[str, list[int]] | None = None
        self._by_word: dict[str, list[str]] | None = None
        self._cache: dict[tuple[int, str], str | None] = {}

    def _index_commands(self) -> None:
        """Command line -> the process rows carrying it, and word -> command lines (built once)."""
        model, index = self.model, self.model.index
        commands: dict[str, list[int]] = {}
        for colset, cs in enumerate(index.colsets):
            if cs.query != SOURCE[0] or SOURCE[1] not in cs.columns:
                continue
            position = cs.columns.index(SOURCE[1])
            for fid in model._colset_features(colset).tolist():
                command = index.feature_values[fid][position]
                if command:
                    commands.setdefault(command, []).append(fid)
        by_word: dict[str, list[str]] = {}
        for command in commands:
            for word in set(_WORD.findall(command)):
                by_word.setdefault(word, []).append(command)
        self._commands, self._by_word = commands, by_word

    def _held(self, command: str) -> np.ndarray:
        assert self._commands is not None and self.model._matrix is not None
        return np.asarray(self.model._matrix[:, self._commands[command]].sum(axis=1)).ravel() > 0

    def _swap(self, fid: int) -> tuple[int, list[int]] | None:
        """(column position, the other rows of the one-per-host thing) when ``fid`` is one of its values."""
        model, index = self.model, self.model.index
        column = model.swap_column(fid)
        if column is None:
            return None
        colset = index.feature_colset[fid]
        position = index.colsets[colset].columns.index(column)
        template = blank(index.feature_values[fid], (position,))
        siblings = [
            f
            for f in model._colset_features(colset).tolist()
            if f != fid and blank(index.feature_values[f], (position,)) == template
        ]
        return (position, siblings) if siblings else None

    def echo_of(self, fid: int, kind: str) -> str | None:
        """The process command line this row's difference echoes, described, or None. ``added``: the
        host holds value v where most hold u; ``missing``: the host lacks u because it holds v."""
        key = (fid, kind)
        if key in self._cache:
            return self._cache[key]
        answer = None
        model, index = self.model, self.model.index
        if model._matrix is None or kind not in ("added", "missing"):
            self._cache[key] = None
            return None
        column = np.asarray(model._matrix[:, fid].todense()).ravel() > 0
        if kind == "added":
            swap = self._swap(fid)
            if swap is not None:
                position, siblings = swap
                usual = max(siblings, key=lambda f: (int(model.df[f]), -f))
                mine, theirs = index.feature_values[fid][position], index.feature_values[usual][position]
                answer = self._echo(mine, theirs, column)
        else:
            # the hosts lacking the usual row hold another value of the same one-per-host thing
            lacking = ~column
            colset = index.feature_colset[fid]
            row = index.feature_values[fid]
            for sibling in model._colset_features(colset).tolist():
                values = index.feature_values[sibling]
                if sum(a != b for a, b in zip(values, row, strict=True)) != 1:
                    continue  # another value of the same thing differs in exactly one column
                held = np.asarray(model._matrix[:, sibling].todense()).ravel() > 0
                swap = self._swap(sibling) if sibling != fid and (held & lacking).any() else None
                if swap is None or fid not in swap[1]:
                    continue
                position = swap[0]
                mine, theirs = index.feature_values[sibling][position], index.feature_values[fid][position]
                answer = self._echo(mine, theirs, held & lacking)
                if answer is not None:
                    break
        self._cache[key] = answer
        return answer

    def _echo(self, mine: str, theirs: str, group: np.ndarray) -> str | None:
        if self._commands is None:
            self._index_commands()
        assert self._by_word is not None and self._commands is not None
        weights = self.model.weights
        rest = float(weights[~group].sum())
        for command in self._by_word.get(mine, []):
            held = self._held(command)
            if (group & ~held).any():
                continue  # every host of the group must run it
            other = _replace_word(command, mine, theirs)
            if other == command or other not in self._commands:
                continue
            if float(weights[self._held(other) & ~group].sum()) >= REST_MIN * rest > 0:
                return f"the host's process was started with {mine} where others have {theirs}"
        return None
