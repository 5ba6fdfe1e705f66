"""Normalized row fingerprints for indexing: the same identity of a row that the analysis uses.

``diffy.fingerprint`` on every row document is :func:`diffy_analysis.normalize.row_fingerprint` of
the query and the row *after* normalization (volatile columns dropped, the host's own identity
masked), exactly as the peers method computes it, so prevalence counted by Elasticsearch
(store/stacking.py) can stand in for prevalence counted in memory.

Automatic volatile-column detection looks at the whole fleet, so the fingerprints of one host
depend on the others: the fleet index (compact: distinct rows only) comes from the analysis itself
(``analyze.pipeline.analyze_fleet``, so the store indexes exactly what the analysis used), or, when
indexing without analysing (``diffy index``), from one streaming pass of ``normalize.build_fleet``;
the indexing pass then looks every host's rows up in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from diffy_analysis.load import HostData, LoadOptions, open_results
from diffy_analysis.normalize.build import build_fleet
from diffy_analysis.normalize.index import FleetIndex
from diffy_analysis.normalize.rules import Config
from diffy_analysis.store.documents import raw_row_digest


class NormalizedFingerprints:
    """A ``RowFingerprints`` callable backed by a finalized :class:`FleetIndex`."""

    def __init__(self, index: FleetIndex):
        self.index = index
        self._cache: dict[int, str] = {}  # feature id -> fingerprint, computed once per distinct row

    @classmethod
    def build(
        cls, run_dirs: Sequence[Path | str], config: Config, options: LoadOptions | None = None
    ) -> NormalizedFingerprints:
        """Stream the runs once and build the fleet index with ``config`` (as the analysis does)."""
        return cls(build_fleet(open_results(run_dirs, options), config).index)

    def __call__(self, host: HostData) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        cache = self._cache
        for query, rows in host.rows.items():
            prints = []
            for fid, row in zip(self.index.lookup(host, query), rows, strict=True):
                if fid < 0:
                    # A row the first pass never saw (only possible when hashes are not verified and
                    # the file changed in between): index it under the sha256 of the raw row, which
                    # is longer than a normalized fingerprint and so never counted with them.
                    prints.append(raw_row_digest(row))
                    continue
                found = cache.get(fid)
                if found is None:
                    found = cache[fid] = self.index.fingerprint(fid)
                prints.append(found)
            out[query] = prints
        return out
