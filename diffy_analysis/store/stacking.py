"""Stacking in Elasticsearch: on how many hosts each normalized row was seen, counted by the cluster.

"Stacking" (least-frequency-of-occurrence analysis) needs, for every distinct normalized row, the
number of hosts that have it.  In memory the fleet index counts it; for a fleet stored in
Elasticsearch (100k+ hosts, or many runs) the cluster counts it with a composite aggregation on
``diffy.fingerprint`` over every ``<prefix>-rows-*`` index, paged with ``after_key``, so no row
document ever travels to the client: only one bucket per distinct row.

Two ways of counting hosts (docs/elasticsearch.md says when to use which):

* ``per-host`` (default, exact): only the first occurrence of a fingerprint on a host is counted
  (``diffy.occurrence == 0``; duplicates of a row on one host get 1, 2, ...), so a bucket's
  ``doc_count`` *is* the number of hosts.  A host collected in two runs counts twice: use it over
  one run, or over runs of disjoint hosts.
* ``cardinality``: a ``cardinality`` sub-aggregation on ``host.id`` counts distinct hosts across
  runs (a host collected every day counts once).  Elasticsearch's cardinality is exact up to its
  ``precision_threshold`` (set to the maximum, 40,000) and approximate (about 0.5 % error) above.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from diffy_analysis.analyze.peers import MappingPrevalence
from diffy_analysis.store.mapping import IndexNames

Counting = Literal["per-host", "cardinality"]
PRECISION_THRESHOLD = 40_000
MAX_PAGES = 1_000_000  # a bound on the paging loop: 10^10 distinct rows at the default page size


@dataclass(frozen=True)
class StackScope:
    """Which row documents to count: runs (any of them), and/or an app."""

    run_ids: tuple[str, ...] = ()
    app: str | None = None
    queries: tuple[str, ...] = ()
    """Limit to these queries' indices (default: every rows index)."""

    def filters(self, *, first_occurrence: bool) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.run_ids:
            out.append({"terms": {"diffy.run_id": list(self.run_ids)}})
        if self.app:
            out.append({"term": {"diffy.app": self.app}})
        if first_occurrence:
            out.append({"term": {"diffy.occurrence": 0}})
        return out


def _rows_indices(names: IndexNames, scope: StackScope) -> str:
    if scope.queries:
        return ",".join(names.rows(q) for q in scope.queries)
    return names.rows_pattern


def iter_prevalence(
    client: Any,
    names: IndexNames,
    scope: StackScope,
    *,
    counting: Counting = "per-host",
    page_size: int = 10_000,
) -> Iterator[tuple[str, int]]:
    """(fingerprint, hosts) for every distinct normalized row in ``scope``, paged by the cluster."""
    per_host = counting == "per-host"
    composite: dict[str, Any] = {
        "size": page_size,
        "sources": [{"fingerprint": {"terms": {"field": "diffy.fingerprint"}}}],
    }
    aggs: dict[str, Any] = {"rows": {"composite": composite}}
    if not per_host:
        aggs["rows"]["aggs"] = {
            "hosts": {"cardinality": {"field": "host.id", "precision_threshold": PRECISION_THRESHOLD}}
        }
    query = {"bool": {"filter": scope.filters(first_occurrence=per_host)}}
    index = _rows_indices(names, scope)
    for _ in range(MAX_PAGES):
        found = client.search(
            index=index,
            query=query,
            aggs=aggs,
            size=0,
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        agg = (found.body.get("aggregations") or {}).get("rows") or {}
        buckets = agg.get("buckets") or []
        for bucket in buckets:
            hosts = bucket["doc_count"] if per_host else int(bucket["hosts"]["value"])
            yield bucket["key"]["fingerprint"], int(hosts)
        after = agg.get("after_key")
        if not buckets or after is None or len(buckets) < page_size:
            return
        composite["after"] = after
    raise RuntimeError("composite aggregation did not finish paging")  # pragma: no cover - bound


def hosts_total(client: Any, names: IndexNames, scope: StackScope, *, counting: Counting = "per-host") -> int:
    """How many analysed hosts (host documents with their data) ``scope`` covers."""
    filters = [*scope.filters(first_occurrence=False), {"term": {"diffy.has_record": True}}]
    query = {"bool": {"filter": filters}}
    if counting == "per-host":
        return int(client.count(index=names.hosts, query=query)["count"])
    found = client.search(
        index=names.hosts,
        query=query,
        size=0,
        aggs={"hosts": {"cardinality": {"field": "host.id", "precision_threshold": PRECISION_THRESHOLD}}},
    )
    return int(found["aggregations"]["hosts"]["value"])


def es_prevalence(
    client: Any,
    names: IndexNames,
    scope: StackScope,
    *,
    counting: Counting = "per-host",
    page_size: int = 10_000,
    only: Iterable[str] | None = None,
) -> MappingPrevalence:
    """A PrevalenceSource (analyze/peers.py) holding the cluster's counts for ``scope``.

    ``only``: keep counts for these fingerprints alone (the local fleet's rows), which bounds
    client memory by the local fleet however many distinct rows the cluster holds.
    """
    keep = set(only) if only is not None else None
    counts = {
        fp: hosts
        for fp, hosts in iter_prevalence(client, names, scope, counting=counting, page_size=page_size)
        if keep is None or fp in keep
    }
    return MappingPrevalence(hosts_total=hosts_total(client, names, scope, counting=counting), counts=counts)


def local_prevalence(index: Any) -> dict[str, int]:
    """The same counts computed in memory from a finalized fleet index (for comparison and tests)."""
    df = index.document_frequency()
    return {index.fingerprint(fid): int(df[fid]) for fid in range(index.n_features) if df[fid] > 0}


def scope_for_runs(run_ids: Sequence[str], app: str | None = None) -> StackScope:
    return StackScope(run_ids=tuple(run_ids), app=app)
