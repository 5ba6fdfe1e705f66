"""Which release a group of hosts runs: a population signature beyond packages (entries.py).

A rolling deploy does not always change a package: an app shipped as a tarball into
``/srv/app/releases/2.0.0`` changes the version in the paths and arguments of the processes it
starts, and brings its own listeners, units and cron lines. Those differences are the release's
make-up, exactly as a package upgrade's are. A campaign adds artifacts; it does not move the fleet's
own software from one version to another.

A **version slot** is the place a dotted version number sits in a non-security row: the table, the
column, and the text before the number within its word (``processes`` / ``cmdline`` /
``/srv/app/releases/``). Hosts holding the slot with version ``v`` are counted in HOSTS over every
row carrying it (each worker's ``--id`` makes its own row). A group ``G`` runs a release when, for
some slot, the hosts holding one version are (to ``COSIGNATURE_JACCARD``) ``G``, and most hosts
outside ``G`` hold another version of the same slot that none of ``G`` holds: ``G`` *replaced*
1.4.2 by 2.0.0. A version only the group has, with no counterpart elsewhere (an attacker's
``/tmp/xmrig-6.21.0``), is not a release: nothing was replaced.

Security tables never provide a slot (a campaign rewriting a config file must not co-sign itself),
nor do package tables (their versions are ``travels_with``'s own co-signature).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from diffy_analysis.analyze.randomness import COSIGNATURE_JACCARD

if TYPE_CHECKING:
    from diffy_analysis.analyze.entries import EntryModel

VERSION = re.compile(r"(?<![\d.])(\d+\.\d+(?:\.\d+)?(?:-?[a-z]+\d*)?)(?![\d.]*\d)")
"""A dotted version number (``2.0.0``, ``1.4``, ``2.1.0-rc1``), not a four-part address."""
CONTEXT = re.compile(r"[A-Za-z/]")
"""The text before a version within its word must name something (``/srv/app/releases/``,
``--version=``): a bare number is a measurement, not a version."""
MAX_VERSIONS = 8
"""A slot with more versions than this is a per-host value (a counter, a timestamp), not releases."""
REST_MIN = 0.5
"""Share of the hosts outside the group that must hold the version the group replaced."""


class Releases:
    """Lazily built, once per fleet, from the entry model's host counts."""

    def __init__(self, model: EntryModel):
        self.model = model
        self._slots: dict[tuple[int, int, str], dict[str, np.ndarray]] | None = None

    def _build(self) -> dict[tuple[int, int, str], dict[str, np.ndarray]]:
        """slot -> version -> boolean vector over profiles (holding the slot with that version)."""
        model, index = self.model, self.model.index
        rows: dict[tuple[int, int, str], dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for colset, cs in enumerate(index.colsets):
            if "package" in cs.query:
                continue  # a package's version is travels_with's own co-signature
            for fid in model._colset_features(colset).tolist():
                if model.security_mask[fid]:
                    continue  # security rows never provide a slot (module docstring)
                for position, value in enumerate(index.feature_values[fid]):
                    for word in value.split():
                        for match in VERSION.finditer(word):
                            before = word[: match.start()]
                            if CONTEXT.search(before):
                                rows[(colset, position, before)][match.group(1)].append(fid)
        slots: dict[tuple[int, int, str], dict[str, np.ndarray]] = {}
        matrix = model._matrix
        for slot, versions in rows.items():
            if not 2 <= len(versions) <= MAX_VERSIONS or matrix is None:
                continue
            slots[slot] = {
                v: np.asarray(matrix[:, fids].sum(axis=1)).ravel() > 0 for v, fids in versions.items()
            }
        return slots

    def release_of(self, group: np.ndarray) -> str | None:
        """The release the hosts of ``group`` (a boolean vector over profiles) run, described, or None."""
        if self._slots is None:
            self._slots = self._build()
        weights = self.model.weights
        size = float(weights[group].sum())
        rest = float(weights[~group].sum())
        if size <= 0 or rest <= 0:
            return None
        for (colset, position, before), versions in self._slots.items():
            for version, holders in versions.items():
                inter = float(weights[holders & group].sum())
                union = float(weights[holders | group].sum())
                if union <= 0 or inter / union < COSIGNATURE_JACCARD:
                    continue
                for previous, others in versions.items():
                    if previous == version or (others & group).any():
                        continue
                    if float(weights[others & ~group].sum()) >= REST_MIN * rest:
                        columns = self.model.index.colsets[colset]
                        return (
                            f"release {before}{version} in place of {previous} "
                            f"({columns.query} {columns.columns[position]})"
                        )
        return None
