"""Read a run stored in Elasticsearch back into the loader's dataclasses (``diffy_analysis.load``).

:class:`EsResults` is a :class:`~diffy_analysis.load.HostSource` whose hosts come from Elasticsearch
instead of a results directory (it holds a ``RunListing``, as the directory reader does): same
``runs``, same host order, same ``skipped`` list (unreachable and failed hosts, and hosts that were
unusable when the run was indexed, in the order the loader found them), and ``HostData`` equal to
what the loader produced from disk (identity, query statuses, rows as text in file order, notes,
file digests).  The analysis then runs unchanged and gives the same result as from disk.

Hosts stream one at a time: one cursor per query index, sorted by ``host.id`` then the row's
position in its file (``search_after`` paging), merged with the host documents in the same order.
A host whose rows are not all in Elasticsearch (an interrupted indexing) is skipped with a reason,
never analysed on partial data.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diffy_analysis.errors import HostDataError, ResultsError
from diffy_analysis.load import (
    HostData,
    HostIdentity,
    HostRef,
    ListingView,
    LoadOptions,
    QueryStatus,
    Reuse,
    RunInfo,
    RunListing,
    Skip,
    TextFilter,
    pack_query_names,
    parse_rows,
)
from diffy_analysis.store.documents import doc_id
from diffy_analysis.store.mapping import IndexNames

PAGE_SIZE = 5000
MAX_PAGES = 10_000_000  # bound on every paging loop (far beyond any real run)
_ROW_SOURCE = ["host.id", "diffy.row_index", "diffy.row_json", "diffy.columns", "osquery"]


def es_run_path(names: IndexNames, run_id: str) -> Path:
    """The stand-in path of a run read from Elasticsearch (shown in messages; never opened)."""
    return Path(f"elasticsearch:{names.prefix}/{run_id}")


def _search_after(
    client: Any, index: str, query: dict[str, Any], sort: list[Any], *, source: list[str] | None, size: int
) -> Iterator[dict[str, Any]]:
    after: list[Any] | None = None
    for _ in range(MAX_PAGES):
        kwargs: dict[str, Any] = {"index": index, "query": query, "sort": sort, "size": size}
        kwargs["ignore_unavailable"] = True
        kwargs["allow_no_indices"] = True
        if source is not None:
            kwargs["source_includes"] = source
        if after is not None:
            kwargs["search_after"] = after
        hits = client.search(**kwargs).body["hits"]["hits"]
        yield from hits
        if len(hits) < size:
            return
        after = hits[-1]["sort"]


def run_documents(client: Any, names: IndexNames, run_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """run id -> its run document's ``diffy`` part; a ResultsError names the runs not found."""
    wanted = list(run_ids)
    found = client.mget(index=names.runs, ids=wanted).body["docs"]
    docs = {d["_id"]: d["_source"]["diffy"] for d in found if d.get("found")}
    missing = [r for r in wanted if r not in docs]
    if missing:
        raise ResultsError(f"run(s) not found in Elasticsearch (index {names.runs}): {', '.join(missing)}")
    return docs


def latest_run_id(client: Any, names: IndexNames, app: str) -> str:
    """The most recent run of ``app`` (by start time) stored under ``names``."""
    found = client.search(
        index=names.runs,
        query={"term": {"diffy.app": app}},
        sort=[{"diffy.started_at": "desc"}, {"diffy.run_id": "desc"}],
        size=1,
        source_includes=["diffy.run_id"],
        ignore_unavailable=True,
    ).body["hits"]["hits"]
    if not found:
        raise ResultsError(f"no run of app {app!r} in Elasticsearch (index {names.runs})")
    return str(found[0]["_source"]["diffy"]["run_id"])


@dataclass
class _HostDoc:
    host_id: str
    source: dict[str, Any]

    @property
    def diffy(self) -> dict[str, Any]:
        return self.source["diffy"]

    @functools.cached_property
    def record(self) -> dict[str, Any]:
        text = self.diffy.get("record_json")
        return json.loads(text) if isinstance(text, str) else {}


def _row_of(source: dict[str, Any]) -> dict[str, str]:
    diffy = source.get("diffy") or {}
    text = diffy.get("row_json")
    if isinstance(text, str):
        return json.loads(text)  # a row with odd column names, kept whole as text
    values = source.get("osquery") or {}
    columns = diffy.get("columns")
    if isinstance(columns, list) and set(columns) == set(values):
        return {c: values[c] for c in columns}  # the column order of the file, not of _source
    return dict(values)


class _RowCursor:
    """One query index's rows of one run, in (host.id, row position) order."""

    def __init__(self, client: Any, index: str, run_id: str, size: int):
        query = {"bool": {"filter": [{"term": {"diffy.run_id": run_id}}]}}
        sort = [{"host.id": "asc"}, {"diffy.row_index": "asc"}]
        self._hits = _search_after(client, index, query, sort, source=_ROW_SOURCE, size=size)
        self._head: dict[str, Any] | None = next(self._hits, None)

    def take(self, host_id: str) -> list[dict[str, str]]:
        """The rows of ``host_id`` (skipping rows of hosts before it, which have no host document)."""
        rows: list[dict[str, str]] = []
        while self._head is not None:
            head_host = self._head["_source"]["host"]["id"]
            if head_host > host_id:
                break
            if head_host == host_id:
                rows.append(_row_of(self._head["_source"]))
            self._head = next(self._hits, None)
        return rows


class EsResults(ListingView):
    """Runs stored in Elasticsearch, read like results directories (see the module docstring)."""

    def __init__(
        self,
        client: Any,
        names: IndexNames,
        run_ids: Iterable[str],
        options: LoadOptions | None = None,
        *,
        page_size: int = PAGE_SIZE,
    ):
        self.client = client
        self.names = names
        self.page_size = page_size
        run_ids = list(dict.fromkeys(run_ids))
        if not run_ids:
            raise ResultsError("no run id given")
        docs = run_documents(client, names, run_ids)
        self._queries = {r: list(docs[r].get("queries") or ()) for r in run_ids}
        self._packs = {r: _pack_of(docs[r].get("pack_json")) for r in run_ids}
        runs: list[RunInfo] = []
        refs: list[HostRef] = []
        skipped: list[Skip] = []
        for run_id in run_ids:
            run, run_refs, run_skipped = self._open_run(run_id, docs[run_id])
            runs.append(run)
            refs.extend(run_refs)
            skipped.extend(run_skipped)
        self.listing = RunListing(runs, refs, skipped)
        self.options = options or LoadOptions()
        self.hosts_read = 0

    # -- opening --------------------------------------------------------------------------------

    def _host_docs(self, run_id: str, *, light: bool) -> Iterator[_HostDoc]:
        source = [
            "host.id",
            "diffy.status",
            "diffy.manifest_entry_json",
            "diffy.has_record",
            "diffy.record_json",
        ]
        query = {"bool": {"filter": [{"term": {"diffy.run_id": run_id}}]}}
        hits = _search_after(
            self.client,
            self.names.hosts,
            query,
            [{"host.id": "asc"}],
            source=source if light else None,
            size=self.page_size,
        )
        for hit in hits:
            yield _HostDoc(hit["_source"]["host"]["id"], hit["_source"])

    def _open_run(self, run_id: str, doc: dict[str, Any]) -> tuple[RunInfo, list[HostRef], list[Skip]]:
        manifest = doc.get("manifest") or {}
        hosts: dict[str, dict[str, Any]] = {}
        listed: list[_HostDoc] = []
        for host_doc in self._host_docs(run_id, light=True):
            text = host_doc.diffy.get("manifest_entry_json")
            entry = json.loads(text) if isinstance(text, str) else None
            if isinstance(entry, dict):
                hosts[host_doc.host_id] = entry
            listed.append(host_doc)
        run = RunInfo(
            path=es_run_path(self.names, run_id),
            run_id=run_id,
            app=manifest.get("app"),
            pack=dict(manifest.get("pack") or {}),
            collector=manifest.get("collector"),
            started_at=manifest.get("started_at"),
            finished_at=manifest.get("finished_at"),
            limit=manifest.get("limit"),
            hosts=hosts,
            pack_queries=pack_query_names(self._packs.get(run_id)),
        )
        refs = []
        skipped = []
        for host_doc in listed:
            phase = (host_doc.record or {}).get("phase")
            if phase == "manifest":
                skipped.append(self._skip_from(host_doc, run_id))
            else:
                refs.append(HostRef(run, host_doc.host_id, run.path / "hosts" / host_doc.host_id))
        return run, refs, skipped

    @staticmethod
    def _skip_from(host_doc: _HostDoc, run_id: str) -> Skip:
        skip = host_doc.record.get("skip")
        if isinstance(skip, dict):
            return Skip(**skip)
        status = host_doc.diffy.get("status") or "invalid"
        return Skip(host_doc.host_id, host_doc.host_id, f"collection {status}", status, run_id)

    # -- streaming ------------------------------------------------------------------------------

    def iter_hosts(
        self, text_filter: TextFilter | None = None, reuse: Reuse | None = None
    ) -> Iterator[HostData]:
        """Yield each host once, as ``load.Results.iter_hosts`` does (``text_filter`` included: it is
        applied to each query's rows as JSON text, and ``filtered`` names the queries it changed).
        ``reuse`` is accepted and not needed: rows come parsed from the store, there is no parse to
        save, so ``HostData.reused`` stays empty."""
        del reuse
        for run in self.runs:
            run_refs = {ref.host_id: ref for ref in self.refs if ref.run is run}
            cursors = {
                query: _RowCursor(self.client, self.names.rows(query), run.run_id or "", self.page_size)
                for query in self._queries.get(run.run_id or "", [])
            }
            for host_doc in self._host_docs(run.run_id or "", light=False):
                ref = run_refs.get(host_doc.host_id)
                if ref is None:
                    continue  # a manifest-phase skip, already listed
                rows_by_query = {q: cursor.take(host_doc.host_id) for q, cursor in cursors.items()}
                if not host_doc.diffy.get("has_record"):
                    self.skipped.append(self._skip_from(host_doc, run.run_id or ""))
                    continue
                host = self._host_data(ref, host_doc, rows_by_query)
                if isinstance(host, Skip):
                    self.skipped.append(host)
                    continue
                self.hosts_read += 1
                yield _filtered(host, text_filter) if text_filter is not None else host

    def _host_data(
        self, ref: HostRef, host_doc: _HostDoc, rows_by_query: dict[str, list[dict[str, str]]]
    ) -> HostData | Skip:
        record = host_doc.record
        counts: dict[str, int] = record.get("row_counts") or {}
        rows: dict[str, list[dict[str, str]]] = {}
        for query in sorted(counts):
            got = rows_by_query.get(query) or []
            if len(got) != counts[query]:
                reason = (
                    f"Elasticsearch holds {len(got)} of the {counts[query]} rows of {query} "
                    "(incomplete indexing: index the run again)"
                )
                return Skip(ref.label, ref.host_id, reason, "invalid", ref.run.run_id)
            rows[query] = got
        return HostData(
            ref=ref,
            identity=HostIdentity.from_record(record.get("identity") or {}),
            queries={q["name"]: QueryStatus(**q) for q in record.get("queries") or ()},
            rows=rows,
            texts={q: _text_of(r) for q, r in rows.items()},
            digests=dict(record.get("digests") or {}),
            notes=list(record.get("notes") or ()),
        )

    def pack_copy(self, run: RunInfo) -> Any:
        """The run's pack.json as indexed (None when the run had none)."""
        return self._packs.get(run.run_id or "")

    def read_host(self, ref: HostRef, *, queries: Iterable[str] | None = None) -> HostData:
        """One host again (for evidence rows), from Elasticsearch."""
        run_id = ref.run.run_id or ""
        found = self.client.get(index=self.names.hosts, id=_host_doc_id(run_id, ref.host_id))
        host_doc = _HostDoc(ref.host_id, found["_source"])
        wanted = set(queries) if queries is not None else set(host_doc.record.get("row_counts") or {})
        rows_by_query = {}
        for query in sorted(wanted):
            query_filter = {
                "bool": {"filter": [{"term": {"diffy.run_id": run_id}}, {"term": {"host.id": ref.host_id}}]}
            }
            hits = _search_after(
                self.client,
                self.names.rows(query),
                query_filter,
                [{"diffy.row_index": "asc"}],
                source=_ROW_SOURCE,
                size=self.page_size,
            )
            rows_by_query[query] = [_row_of(h["_source"]) for h in hits]
        counts = {q: n for q, n in (host_doc.record.get("row_counts") or {}).items() if q in wanted}
        host_doc.record["row_counts"] = counts
        host = self._host_data(ref, host_doc, rows_by_query)
        if isinstance(host, Skip):
            raise HostDataError(host.reason)
        return host


def _filtered(host: HostData, text_filter: TextFilter) -> HostData:
    """``host`` with its rows re-parsed from ``text_filter``'s output where it changed anything."""
    changed: set[str] = set()
    for query, rows in host.rows.items():
        text = json.dumps(rows, ensure_ascii=False)
        new = text_filter(host.identity, query, text)
        if new != text:
            host.rows[query] = parse_rows(new, f"{query}.json")
            changed.add(query)
    host.filtered = frozenset(changed)
    return host


def _pack_of(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _host_doc_id(run_id: str, host_id: str) -> str:
    return doc_id(run_id, host_id)


def _text_of(rows: list[dict[str, str]]) -> str:
    """Stand-in for the file text the loader keeps: every value, so identity masking's quick
    "is the host's identity mentioned at all?" check sees exactly what the rows hold."""
    return "\n".join(v for row in rows for v in row.values())
