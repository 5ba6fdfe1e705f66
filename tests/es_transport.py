"""TEST-SIDE transport pieces for the Elasticsearch store tests (used with tests/es_emulator.py).

elasticsearch-py 8/9 always sends the compatibility media type
``application/vnd.elasticsearch+json; compatible-with=N``, which the osmem-server EMULATOR rejects
with 406.  :class:`CompatHeaderNode` rewrites it to plain JSON / NDJSON; the product code takes a node
class as a parameter and needs none of this against a real cluster.  :func:`fault_node_class` adds
injected faults (429 and 5xx answers) for the retry and error-reporting tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from elastic_transport import ApiResponseMeta, HttpHeaders, Urllib3HttpNode
from elastic_transport._node import NodeApiResponse


def _rewrite(value: str | None) -> str | None:
    """``application/vnd.elasticsearch+x-ndjson; compatible-with=9`` -> ``application/x-ndjson``."""
    if not value or "compatible-with" not in value:
        return value
    return "application/x-ndjson" if "x-ndjson" in value else "application/json"


class CompatHeaderNode(Urllib3HttpNode):
    """TEST-SIDE node: rewrites the ES 8/9 compatibility media types to plain JSON / NDJSON."""

    def perform_request(self, method, target, body=None, headers=None, **kwargs) -> NodeApiResponse:
        fixed = HttpHeaders(headers or {})
        for name in ("accept", "content-type"):
            if name in fixed:
                fixed[name] = _rewrite(fixed[name])
        return super().perform_request(method, target, body=body, headers=fixed, **kwargs)


@dataclass
class FaultPlan:
    """Faults to inject into the next ``_bulk`` requests (one entry per request, consumed in order).

    ``request_statuses``: answer the whole bulk request with this HTTP status (e.g. 500, 429).
    ``item_statuses``: answer HTTP 200 but reject every document of the request with this status
    (what a cluster under pressure does: per-item 429 es_rejected_execution_exception).
    Requests with no fault left go to the emulator.
    """

    request_statuses: list[int] = field(default_factory=list)
    item_statuses: list[int] = field(default_factory=list)
    echo_headers: bool = False
    """Quote the request's Authorization header in injected errors (a careless proxy or cluster):
    the product must still never print it."""
    bulk_requests: int = 0
    requests_seen: list[tuple[str, str]] = field(default_factory=list)
    authorization: list[str] = field(default_factory=list)
    """Authorization headers the client really sent (to prove a secret was in play)."""


def fault_node_class(plan: FaultPlan) -> type[CompatHeaderNode]:
    """A TEST-SIDE node class that injects the faults of ``plan`` (a fault-injecting transport)."""

    class FaultInjectingNode(CompatHeaderNode):
        def perform_request(self, method, target, body=None, headers=None, **kwargs) -> NodeApiResponse:
            plan.requests_seen.append((method, target))
            sent = HttpHeaders(headers or {}).get("authorization")
            if sent:
                plan.authorization.append(sent)
            if target.split("?")[0].endswith("/_bulk"):
                plan.bulk_requests += 1
                if plan.request_statuses:
                    status = plan.request_statuses.pop(0)
                    reason = f"fault injected by the test ({status})"
                    if plan.echo_headers:
                        reason += f"; request had Authorization: {sent}"
                    error = {"type": "injected_fault", "reason": reason}
                    return self._fake(status, {"error": error, "status": status})
                if plan.item_statuses:
                    return self._fake(200, _reject_all(body or b"", plan.item_statuses.pop(0)))
            return super().perform_request(method, target, body=body, headers=headers, **kwargs)

        def _fake(self, status: int, doc: dict[str, Any]) -> NodeApiResponse:
            headers = HttpHeaders({"content-type": "application/json", "x-elastic-product": "Elasticsearch"})
            meta = ApiResponseMeta(
                status=status, http_version="1.1", headers=headers, duration=0.0, node=self.config
            )
            return NodeApiResponse(meta, json.dumps(doc).encode())

    return FaultInjectingNode


def _reject_all(body: bytes, status: int) -> dict[str, Any]:
    lines = [json.loads(line) for line in body.splitlines() if line.strip()]
    items = []
    for line in lines:
        if len(line) == 1 and next(iter(line)) in ("index", "create", "update", "delete"):
            op, meta = next(iter(line.items()))
            error = {"type": "es_rejected_execution_exception", "reason": "injected: queue full"}
            items.append(
                {op: {"_index": meta.get("_index"), "_id": meta.get("_id"), "status": status, "error": error}}
            )
    return {"took": 0, "errors": True, "items": items}


def count(client: Any, index: str, query: dict[str, Any] | None = None) -> int:
    client.indices.refresh(index=index)
    return client.count(index=index, query=query or {"match_all": {}})["count"]
