"""Bulk indexing through the official client's ``streaming_bulk`` helper, with honest counts.

Chunks go out one after another; documents rejected with 429 or a 5xx are retried with exponential
backoff (the client's transport retries are switched off for bulk requests so there is exactly one
retry policy, this one).  Every document ends up counted as indexed or failed, per index, with the
first few reasons, so the CLI can say what was lost and exit 2.
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from diffy_analysis.extras import missing_extra

try:
    from elasticsearch.helpers import streaming_bulk
except ImportError as err:
    raise missing_extra("elasticsearch", "es", "Elasticsearch") from err


RETRY_STATUSES = (429, 500, 502, 503, 504)
# elasticsearch-py < 8.16 retries 429 only (``retry_on_status`` arrived in 8.16): 5xx documents are
# then counted as failed at once, never silently dropped.
_HELPER_RETRIES_5XX = "retry_on_status" in inspect.signature(streaming_bulk).parameters
MAX_REASONS = 5


@dataclass(frozen=True)
class BulkSettings:
    chunk_size: int = 500
    max_chunk_bytes: int = 10 * 1024 * 1024
    max_retries: int = 5
    initial_backoff: float = 1.0
    max_backoff: float = 30.0
    refresh: bool = False
    """Refresh the written indices at the end, so the documents are searchable right away."""


@dataclass
class BulkReport:
    """What happened to every document sent."""

    indexed: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    reasons: list[str] = field(default_factory=list)
    """The first few failure reasons, one line each: ``index: HTTP status type: reason``."""

    @property
    def total_indexed(self) -> int:
        return sum(self.indexed.values())

    @property
    def total_failed(self) -> int:
        return sum(self.failed.values())

    @property
    def ok(self) -> bool:
        return self.total_failed == 0

    def merge(self, other: BulkReport) -> None:
        self.indexed.update(other.indexed)
        self.failed.update(other.failed)
        self.reasons.extend(other.reasons[: max(0, MAX_REASONS - len(self.reasons))])

    def summary(self) -> str:
        text = f"{self.total_indexed} document(s) indexed"
        if self.total_failed:
            per_index = ", ".join(f"{name}: {count}" for name, count in sorted(self.failed.items()))
            text += f", {self.total_failed} NOT indexed ({per_index})"
        return text


def bulk_index(
    client: Any,
    actions: Iterable[dict[str, Any]],
    settings: BulkSettings | None = None,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> BulkReport:
    """Send ``actions`` (``{"_index", "_id", "_source"}``; op type ``index``) and count the outcome.

    Request-level failures (a 5xx answer to the whole bulk request) are retried like per-document
    ones and, when retries run out, counted as failures of every document in the chunk.  A lost
    connection raises (the caller turns it into a StoreError with the counts so far).
    """
    settings = settings or BulkSettings()
    report = BulkReport()
    written: set[str] = set()
    bulk_client = client.options(max_retries=0)
    retry: dict[str, Any] = {}
    if _HELPER_RETRIES_5XX:
        retry["retry_on_status"] = RETRY_STATUSES
    results = streaming_bulk(
        bulk_client,
        actions,
        chunk_size=settings.chunk_size,
        max_chunk_bytes=settings.max_chunk_bytes,
        raise_on_error=False,
        raise_on_exception=False,
        max_retries=settings.max_retries,
        initial_backoff=settings.initial_backoff,
        max_backoff=settings.max_backoff,
        **retry,
    )
    for done, (ok, item) in enumerate(results, start=1):
        _, info = next(iter(item.items()))
        index = str(info.get("_index") or "?")
        if ok:
            report.indexed[index] += 1
            written.add(index)
        else:
            report.failed[index] += 1
            if len(report.reasons) < MAX_REASONS:
                report.reasons.append(f"{index}: {_reason(info)}")
        if on_progress and done % 1000 == 0:
            on_progress(done)
    if settings.refresh and written:
        client.indices.refresh(index=",".join(sorted(written)))
    return report


def _reason(info: dict[str, Any]) -> str:
    error = info.get("error")
    status = info.get("status")
    body = getattr(info.get("exception"), "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]  # a whole-request failure: the cluster's own words, not the client's
    if isinstance(error, dict):
        text = f"{error.get('type')}: {error.get('reason')}"
    else:
        text = str(error or "unknown error")
    text = " ".join(text.split())
    return f"HTTP {status} {text[:300]}"
