"""Turn a loaded run (``diffy_analysis.load``) and an ``Analysis`` into Elasticsearch bulk actions.

Document ids are deterministic, so indexing the same run twice overwrites instead of duplicating:

* row:          sha256(run_id, host_id, query, raw_row_digest(row), occurrence)
* host:         sha256(run_id, host_id)
* run:          the run id itself
* analysis:     analysis id (method, run ids, baseline)
* host result:  sha256(analysis id, run_id, host_id)
* finding:      sha256(analysis id, run_id, host_id, rank)

The row id uses the digest of the row *as collected* (``raw_row_digest``, not the normalized
fingerprint) plus the occurrence index among identical rows on that host, so it stays the same when
normalization rules change; the normalized fingerprint (``diffy.fingerprint``) is a field,
rewritten on re-indexing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from diffy_analysis.findings import Analysis, HostResult
from diffy_analysis.load import HostData, HostIdentity, RunInfo, Skip
from diffy_analysis.store.mapping import ECS_VERSION, IndexNames, is_mappable_column
from diffy_analysis.tables import REGISTRY

Action = dict[str, Any]
_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$")

# Columns osquery declares as INTEGER/BIGINT/DOUBLE in its table specs (specs/**/*.table) that the
# default pack selects (declared per table in the registry, diffy_analysis/tables/): they get a numeric
# ``num`` sub-field whatever values the first host shows.
NUMERIC_COLUMNS = REGISTRY.numeric_columns()


def doc_id(*parts: str) -> str:
    """A stable id from parts that cannot contain the separator (ids, names, hex digests)."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:40]


def raw_row_digest(row: Mapping[str, str]) -> str:
    """sha256 of a row's canonical JSON as collected (sorted keys): the id part of a row document.

    Not the normalized ``normalize.row_fingerprint`` (``diffy.fingerprint``, what prevalence counts).
    """
    text = json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def is_numeric(value: str) -> bool:
    return bool(_NUMBER.match(value))


@dataclass(frozen=True)
class RunContext:
    """What every document of one run carries."""

    run_id: str
    app: str | None
    pack_name: str | None
    pack_sha256: str | None

    @classmethod
    def of(cls, run: RunInfo) -> RunContext:
        return cls(
            run_id=run.run_id or "",
            app=run.app,
            pack_name=(run.pack or {}).get("name"),
            pack_sha256=(run.pack or {}).get("sha256"),
        )

    def diffy(self, **extra: Any) -> dict[str, Any]:
        doc: dict[str, Any] = {"run_id": self.run_id}
        if self.app:
            doc["app"] = self.app
        if self.pack_name or self.pack_sha256:
            doc["pack"] = {"name": self.pack_name, "sha256": self.pack_sha256}
        doc.update(extra)
        return doc


def ecs_identity(host: str, host_id: str, identity: Mapping[str, Any] | None) -> dict[str, Any]:
    """ECS ``host.*`` and ``cloud.*`` fields from a host's identity (``HostIdentity`` as a dict)."""
    identity = identity or {}
    doc: dict[str, Any] = {"ecs": {"version": ECS_VERSION}, "host": {"name": host, "id": host_id}}
    if identity.get("hostname"):
        doc["host"]["hostname"] = identity["hostname"]
    addresses = list(identity.get("ipv4") or ()) + list(identity.get("ipv6") or ())
    if addresses:
        doc["host"]["ip"] = addresses
    if identity.get("mac"):
        doc["host"]["mac"] = list(identity["mac"])
    os_info = identity.get("os") or {}
    os_doc = {
        k: os_info[src]
        for k, src in (
            ("family", "family"),
            ("name", "distribution"),
            ("version", "version"),
            ("kernel", "kernel"),
        )
        if os_info.get(src)
    }
    if os_doc:
        doc["host"]["os"] = os_doc
    if os_info.get("arch"):
        doc["host"]["architecture"] = os_info["arch"]
    cloud = identity.get("cloud") or {}
    cloud_doc: dict[str, Any] = {}
    if cloud.get("provider"):
        cloud_doc["provider"] = cloud["provider"]
    if cloud.get("region"):
        cloud_doc["region"] = cloud["region"]
    if cloud.get("instance_id") or identity.get("instance_id"):
        cloud_doc["instance"] = {"id": cloud.get("instance_id") or identity.get("instance_id")}
    if cloud.get("account_id"):
        cloud_doc["account"] = {"id": cloud["account_id"]}
    if cloud.get("instance_type"):
        cloud_doc["machine"] = {"type": cloud["instance_type"]}
    if cloud_doc:
        doc["cloud"] = cloud_doc
    if identity.get("collected_at"):
        doc["@timestamp"] = identity["collected_at"]
    return doc


def identity_dict(host: HostData) -> dict[str, Any]:
    return host.identity.to_record()


def row_actions(
    names: IndexNames,
    ctx: RunContext,
    host: HostData,
    query: str,
    *,
    fingerprints: Sequence[str],
    base: Mapping[str, Any] | None = None,
) -> Iterator[Action]:
    """One action per row of ``query`` on ``host``; ``fingerprints[i]`` is row i's normalized one."""
    rows = host.rows[query]
    if len(fingerprints) != len(rows):
        raise ValueError(f"{len(fingerprints)} fingerprints for {len(rows)} rows of {query}")
    base = base if base is not None else ecs_identity(host.label, host.ref.host_id, identity_dict(host))
    index = names.rows(query)
    seen_raw: dict[str, int] = {}
    seen_norm: dict[str, int] = {}
    for position, (row, fingerprint) in enumerate(zip(rows, fingerprints, strict=True)):
        raw = raw_row_digest(row)
        raw_occurrence = seen_raw[raw] = seen_raw.get(raw, -1) + 1
        occurrence = seen_norm[fingerprint] = seen_norm.get(fingerprint, -1) + 1
        source = dict(base)
        source["diffy"] = ctx.diffy(
            query=query,
            fingerprint=fingerprint,
            occurrence=occurrence,
            row_index=position,
            columns=list(row),  # the row's column order, restored on read-back
        )
        if all(is_mappable_column(column) for column in row):
            source["osquery"] = row
        else:
            # Odd column names (dots, spaces...) would create objects or collide with sub-fields;
            # keep the whole row as JSON text (servers may rewrite dotted keys of _source objects)
            # and index only its well-formed columns.
            source["diffy"]["row_json"] = json.dumps(row, ensure_ascii=False)
            source["osquery"] = {k: v for k, v in row.items() if is_mappable_column(k)}
        yield {
            "_index": index,
            "_id": doc_id(ctx.run_id, host.ref.host_id, query, raw, str(raw_occurrence)),
            "_source": source,
        }


def column_profile(rows: Sequence[Mapping[str, str]]) -> dict[str, bool]:
    """column -> whether it should get a numeric sub-field (known numeric, or every value numeric)."""
    profile: dict[str, bool] = {}
    for row in rows:
        for column, value in row.items():
            if column in NUMERIC_COLUMNS:
                profile[column] = True
            elif value == "":
                profile.setdefault(column, False)
            else:
                profile[column] = profile.get(column, True) and is_numeric(value)
    return profile


def host_action(
    names: IndexNames,
    ctx: RunContext,
    run: RunInfo,
    *,
    host_id: str,
    host: HostData | None = None,
    skip: Skip | None = None,
    skip_phase: str | None = None,
    skip_order: int | None = None,
) -> Action:
    """One document per host of the run: analysed (``host``) or skipped (``skip``), with its
    manifest entry, identity and query statuses (what read-back rebuilds ``HostData`` from)."""
    entry = run.hosts.get(host_id) if isinstance(run.hosts.get(host_id), dict) else None
    label = host.label if host else (skip.host if skip else host_id)
    identity = identity_dict(host) if host else {}
    source = ecs_identity(label, host_id, identity)
    status = (entry or {}).get("status") or ("invalid" if skip else "ok")
    diffy = ctx.diffy(status=skip.status if skip else status, has_record=host is not None)
    record: dict[str, Any] = {}
    if entry is not None:
        diffy["manifest_entry_json"] = json.dumps(entry, ensure_ascii=False)
    if host is not None:
        diffy["collector"] = host.identity.collector
        diffy["collector_version"] = host.identity.collector_version
        cloud = host.identity.cloud or {}
        if cloud.get("autoscaling_group"):
            diffy["autoscaling_group"] = cloud["autoscaling_group"]
        if cloud.get("image_id"):
            diffy["image_id"] = cloud["image_id"]
        diffy["queries_ok"] = [q.name for q in host.queries.values() if q.status == "ok"]
        diffy["gaps"] = [f"{q.name}:{q.status}" for q in host.queries.values() if q.status != "ok"]
        record = {
            "identity": identity,
            "queries": [asdict(q) for q in host.queries.values()],
            "notes": list(host.notes),
            "digests": dict(host.digests),
            "row_counts": {q: len(rows) for q, rows in host.rows.items()},
        }
    if skip is not None:
        diffy["error"] = skip.reason
        diffy["skip_phase"] = skip_phase
        record = {"skip": asdict(skip), "phase": skip_phase, "order": skip_order}
    if host is not None or skip is not None:
        # As JSON text: what read-back rebuilds HostData from must survive byte for byte (tags
        # and other keys may contain dots, which some servers rewrite inside _source objects).
        diffy["record_json"] = json.dumps(record, ensure_ascii=False)
    source["diffy"] = diffy
    return {"_index": names.hosts, "_id": doc_id(ctx.run_id, host_id), "_source": source}


def run_action(
    names: IndexNames,
    run: RunInfo,
    *,
    skipped: Sequence[Skip],
    hosts_analysed: int,
    rows: int,
    queries: Sequence[str],
    pack_json: Any = None,
    max_skips_listed: int = 1000,
) -> Action:
    """The run document: manifest summary, host counts by status, skipped and unreachable hosts."""
    ctx = RunContext.of(run)
    counts = {"total": len(run.hosts), "ok": 0, "partial": 0, "failed": 0, "unreachable": 0}
    for entry in run.hosts.values():
        status = entry.get("status") if isinstance(entry, dict) else None
        if status in counts:
            counts[status] += 1
    counts["invalid"] = sum(1 for s in skipped if s.status == "invalid")
    diffy = ctx.diffy(
        started_at=run.started_at,
        finished_at=run.finished_at,
        collector=run.collector,
        hosts=counts,
        hosts_analysed=hosts_analysed,
        queries=sorted(queries),
        rows=rows,
        skipped=[
            {"host": s.host, "status": s.status, "reason": s.reason} for s in skipped[:max_skips_listed]
        ],
        skipped_truncated=len(skipped) > max_skips_listed,
        manifest={
            "run_id": run.run_id,
            "app": run.app,
            "pack": run.pack,
            "collector": run.collector,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "limit": run.limit,
        },
    )
    if run.limit:
        diffy["limit"] = run.limit
    if pack_json is not None:
        # As text: the order of the pack's queries is kept byte for byte.
        diffy["pack_json"] = json.dumps(pack_json, ensure_ascii=False)
    source = {"@timestamp": run.started_at, "ecs": {"version": ECS_VERSION}, "diffy": diffy}
    return {"_index": names.runs, "_id": ctx.run_id, "_source": source}


# --------------------------------------------------------------------------------------------------
# Analysis documents


def analysis_id(analysis: Analysis) -> str:
    """Stable per (method, runs, baseline): re-analysing replaces the previous documents."""
    return doc_id(analysis.method, ",".join(analysis.run_ids), analysis.baseline or "")


def analysis_digest(analysis: Analysis) -> str:
    text = json.dumps(analysis.to_json(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def analysis_actions(
    names: IndexNames, analysis: Analysis, *, timestamp: str | None = None
) -> Iterator[Action]:
    """The analysis document, one document per host result, one per finding."""
    aid = analysis_id(analysis)
    digest = analysis_digest(analysis)
    ref = {"id": aid, "method": analysis.method, "baseline": analysis.baseline, "digest": digest}
    whole = analysis.to_json()
    whole["hosts"] = []  # hosts live in their own documents (one each); read back from there
    yield {
        "_index": names.analyses,
        "_id": aid,
        "_source": {
            "@timestamp": timestamp,
            "ecs": {"version": ECS_VERSION},
            "diffy": {
                "run_ids": list(analysis.run_ids),
                "app": analysis.app,
                "analysis": ref,
                "hosts_analysed": len(analysis.hosts),
                "hosts_skipped": len(analysis.skipped),
                "outliers": len(analysis.outliers),
                "outlier_hosts": [h.host for h in analysis.outliers],
                "document": whole,
            },
        },
    }
    for rank, result in enumerate(analysis.hosts):
        yield from _host_result_actions(names, analysis, result, rank, ref)


def _host_result_actions(
    names: IndexNames, analysis: Analysis, result: HostResult, rank: int, ref: dict[str, Any]
) -> Iterator[Action]:
    run_id = result.run_id or (analysis.run_ids[0] if analysis.run_ids else "")
    identity = HostIdentity.from_flat(result.identity)  # HostResult.identity is the flat as_dict()
    base = ecs_identity(result.host, result.host_id, identity)
    common = {"run_id": run_id, "analysis": ref}
    if analysis.app:
        common["app"] = analysis.app
    yield {
        "_index": names.host_results,
        "_id": doc_id(ref["id"], run_id, result.host_id),
        "_source": {
            **base,
            "diffy": {
                **common,
                "rank": rank,
                "score": result.score,
                "outlier": result.outlier,
                "cluster": result.cluster,
                "findings_count": len(result.findings),
                "gaps": [f"{g.query}:{g.status}" for g in result.gaps],
                "result": result.to_json(),
            },
        },
    }
    for position, finding in enumerate(result.findings):
        yield {
            "_index": names.findings,
            "_id": doc_id(ref["id"], run_id, result.host_id, str(position)),
            "_source": {
                **base,
                "diffy": {
                    **common,
                    "query": finding.query,
                    "outlier": result.outlier,
                    "finding": {
                        "rank": position,
                        "kind": finding.kind,
                        "explanation": finding.explanation,
                        "weight": finding.weight,
                        "strength": finding.strength,
                        "changed_columns": list(finding.changed_columns),
                        "hosts_with_row": finding.hosts_with_row,
                        "hosts_compared": finding.hosts_compared,
                        "prevalence": finding.prevalence,
                        "row": finding.row,
                        "reference_row": finding.reference_row,
                        # What the explanation says, as data: search and aggregate on the subject
                        # (a path, a user) or the peers' count instead of matching the sentence.
                        "facts": finding.facts.to_json() if finding.facts is not None else None,
                    },
                },
            },
        }
