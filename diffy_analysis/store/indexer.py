"""Index a run (its rows, hosts and manifest summary) and, optionally, an analysis of it.

One pass over the run, host by host (``load.Results.iter_hosts``), so memory stays flat however big
the run is.  Before a host's rows go out, any column not yet mapped in its query's index is mapped
explicitly (``indices.add_columns``): the mapping grows only by Diffy's own fixed types.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from diffy_analysis import contract
from diffy_analysis.errors import HostDataError, UsageError
from diffy_analysis.findings import Analysis
from diffy_analysis.load import HostData, Results, RunInfo, read_bytes
from diffy_analysis.normalize.rules import Config, default_config
from diffy_analysis.store import documents
from diffy_analysis.store.bulk import BulkReport, BulkSettings, bulk_index
from diffy_analysis.store.fingerprints import NormalizedFingerprints
from diffy_analysis.store.indices import add_columns, ensure_indices, ensure_templates
from diffy_analysis.store.mapping import IndexNames

RowFingerprints = Callable[[HostData], Mapping[str, Sequence[str]]]
"""host -> {query: one normalized fingerprint per row, in row order}."""

MAX_PACK_BYTES = 4 * 1024 * 1024


def raw_fingerprints(host: HostData) -> dict[str, list[str]]:
    """Fingerprints of the rows exactly as collected (no normalization)."""
    return {query: [documents.raw_row_digest(r) for r in rows] for query, rows in host.rows.items()}


@dataclass
class IndexOutcome:
    report: BulkReport
    run_ids: list[str] = field(default_factory=list)
    hosts_indexed: int = 0
    hosts_skipped: int = 0
    rows: int = 0
    unmapped_columns: dict[str, list[str]] = field(default_factory=dict)
    analysis_id: str | None = None
    stale_deleted: int = 0


class _RunWriter:
    """Generates the actions of one ``Results`` and keeps the counts the run documents need."""

    def __init__(self, client: Any, names: IndexNames, results: Results, fingerprints: RowFingerprints):
        self.client = client
        self.names = names
        self.results = results
        self.fingerprints = fingerprints
        self.known_indices: set[str] = set()
        self.mapped: dict[str, set[str]] = {}
        self.unmapped: dict[str, list[str]] = {}
        self.hosts_indexed = 0
        self.rows = 0
        self.rows_per_run: dict[str | None, int] = {}
        self.hosts_per_run: dict[str | None, int] = {}
        self.queries_per_run: dict[str | None, set[str]] = {}

    def _prepare_index(self, index: str, rows: Sequence[Mapping[str, str]]) -> None:
        if index not in self.known_indices:
            ensure_indices(self.client, [index])
            self.known_indices.add(index)
            self.mapped[index] = set()
        profile = documents.column_profile(rows)
        new = {c: numeric for c, numeric in profile.items() if c not in self.mapped[index]}
        if new:
            unmapped = add_columns(self.client, index, new)
            self.mapped[index].update(new)
            if unmapped:
                self.unmapped.setdefault(index, []).extend(unmapped)

    def actions(self) -> Iterator[dict[str, Any]]:
        manifest_phase = len(self.results.skipped)
        for host in self.results.iter_hosts():
            run = host.ref.run
            ctx = documents.RunContext.of(run)
            base = documents.ecs_identity(host.label, host.ref.host_id, documents.identity_dict(host))
            prints = self.fingerprints(host)
            for query in sorted(host.rows):
                rows = host.rows[query]
                if not rows:
                    continue
                self._prepare_index(self.names.rows(query), rows)
                yield from documents.row_actions(
                    self.names, ctx, host, query, fingerprints=prints[query], base=base
                )
                self.rows += len(rows)
                self.rows_per_run[run.run_id] = self.rows_per_run.get(run.run_id, 0) + len(rows)
            self.queries_per_run.setdefault(run.run_id, set()).update(host.queries)
            self.hosts_per_run[run.run_id] = self.hosts_per_run.get(run.run_id, 0) + 1
            self.hosts_indexed += 1
            yield documents.host_action(self.names, ctx, run, host_id=host.ref.host_id, host=host)
        runs = {r.run_id: r for r in self.results.runs}
        for order, skip in enumerate(self.results.skipped):
            skip_run = runs.get(skip.run_id)
            if skip_run is None or not skip_run.run_id:
                continue
            phase = "manifest" if order < manifest_phase else "read"
            yield documents.host_action(
                self.names,
                documents.RunContext.of(skip_run),
                skip_run,
                host_id=skip.host_id,
                skip=skip,
                skip_phase=phase,
                skip_order=order,
            )
        for run in self.results.runs:
            if not run.run_id:
                continue
            yield documents.run_action(
                self.names,
                run,
                skipped=[s for s in self.results.skipped if s.run_id == run.run_id],
                hosts_analysed=self.hosts_per_run.get(run.run_id, 0),
                rows=self.rows_per_run.get(run.run_id, 0),
                queries=sorted(self.queries_per_run.get(run.run_id, set())),
                pack_json=read_pack_copy(run),
            )


def read_pack_copy(run: RunInfo) -> Any:
    """The run's pack.json (a copy of the query pack), or None when absent or unreadable."""
    try:
        data = read_bytes(run.path / contract.PACK_COPY_NAME, limit=MAX_PACK_BYTES)
        pack = json.loads(data.decode("utf-8"))
    except (HostDataError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    return pack if isinstance(pack, dict) else None


def prepare(client: Any, names: IndexNames) -> None:
    """Templates and the fixed indices, created on first use."""
    ensure_templates(client, names)
    ensure_indices(client, [names.runs, names.hosts, names.analyses, names.host_results, names.findings])


def index_results(
    client: Any,
    names: IndexNames,
    results: Results,
    *,
    fingerprints: RowFingerprints | None = None,
    config: Config | None = None,
    analysis: Analysis | None = None,
    bulk: BulkSettings | None = None,
) -> IndexOutcome:
    """Index every readable host of ``results`` (rows + host documents), its skipped hosts, one
    run document per run, and ``analysis`` when given.  Raises on a lost connection; documents
    rejected by Elasticsearch are counted in ``outcome.report``.

    ``fingerprints`` default: normalized fingerprints computed with ``config`` (default rules) in a
    first pass over the runs, the same the analysis computes (store/fingerprints.py).
    """
    bare = [str(r.path) for r in results.runs if r.bare or not r.run_id]
    if bare:
        raise UsageError(
            f"only run directories (with a manifest and run id) can be indexed: {', '.join(bare)}"
        )
    bulk = bulk or BulkSettings()
    if fingerprints is None:
        paths = [r.path for r in results.runs]
        fingerprints = NormalizedFingerprints.build(paths, config or default_config(), results.options)
    prepare(client, names)
    writer = _RunWriter(client, names, results, fingerprints)
    report = bulk_index(client, writer.actions(), bulk)
    outcome = IndexOutcome(
        report=report,
        run_ids=[r.run_id for r in results.runs if r.run_id],
        hosts_indexed=writer.hosts_indexed,
        hosts_skipped=len(results.skipped),
        rows=writer.rows,
        unmapped_columns=writer.unmapped,
    )
    if analysis is not None:
        index_analysis(client, names, analysis, bulk=bulk, outcome=outcome, timestamp=_finished(results))
    return outcome


def _finished(results: Results) -> str | None:
    stamps = [r.finished_at for r in results.runs if r.finished_at]
    return max(stamps) if stamps else None


def index_analysis(
    client: Any,
    names: IndexNames,
    analysis: Analysis,
    *,
    bulk: BulkSettings | None = None,
    outcome: IndexOutcome | None = None,
    timestamp: str | None = None,
) -> IndexOutcome:
    """Index ``analysis``; once every document is in, delete the documents of an earlier,
    different analysis with the same id (same method, runs and baseline)."""
    bulk = bulk or BulkSettings()
    outcome = outcome or IndexOutcome(report=BulkReport())
    prepare(client, names)
    stamp = timestamp or dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    report = bulk_index(client, documents.analysis_actions(names, analysis, timestamp=stamp), bulk)
    outcome.report.merge(report)
    aid = documents.analysis_id(analysis)
    outcome.analysis_id = aid
    if report.ok:
        digest = documents.analysis_digest(analysis)
        stale = {
            "bool": {
                "filter": [{"term": {"diffy.analysis.id": aid}}],
                "must_not": [{"term": {"diffy.analysis.digest": digest}}],
            }
        }
        deleted = client.delete_by_query(
            index=f"{names.host_results},{names.findings}", query=stale, refresh=True, conflicts="proceed"
        )
        outcome.stale_deleted = int(deleted.get("deleted", 0))
    return outcome
