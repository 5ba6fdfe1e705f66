"""Index names, versioned index templates and fixed mappings of Diffy's Elasticsearch store.

Why fixed mappings: osquery prints every value as a string, but hosts (or other tools writing the
results format) may send numbers, booleans or null, and a column's type may differ between rows.
With dynamic mapping the first document would decide a field's type and later rows would be
rejected.  So every template is ``dynamic: false``; osquery columns are mapped explicitly by Diffy
(always ``keyword``, with a ``num`` double sub-field when every value seen is numeric, see
:func:`column_mapping`), never guessed by Elasticsearch.  The raw row, exactly as collected, is kept
as JSON text under ``diffy.row_json`` when a column name is odd, which is what read-back uses then.

Field names follow ECS where one exists (``@timestamp``, ``host.*``, ``cloud.*``); Diffy's own live
under ``diffy.*``.  Bumping ``MAPPING_VERSION`` changes every index name (``-v2``), so old and new
documents never share a mapping.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from diffy_analysis.errors import UsageError

MAPPING_VERSION = 1
ECS_VERSION = "8.11.0"
TEMPLATE_PRIORITY = 500  # above the built-in logs/metrics templates (priority 100..200)
MAX_MAPPED_COLUMNS = 500  # per query index: a hostile host cannot explode the mapping
TOTAL_FIELDS_LIMIT = 2000
KEYWORD_IGNORE_ABOVE = 8191  # longer values stay in _source, unindexed (Lucene term limit is 32 KiB)

_PREFIX = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_INDEX_SAFE = re.compile(r"[^a-z0-9_-]")

KEYWORD = {"type": "keyword", "ignore_above": 1024}
RAW = {"type": "object", "enabled": False}
STORED_TEXT = {"type": "keyword", "index": False, "doc_values": False}
"""Kept in _source only. Used where order matters: a JSON object's key order is not guaranteed to
survive every server's _source handling, a list's order and a string's bytes are."""


def check_prefix(prefix: str) -> str:
    if not _PREFIX.match(prefix):
        raise UsageError("the index prefix must be lower-case letters, digits, '-' or '_' (at most 41)")
    return prefix


@dataclass(frozen=True)
class IndexNames:
    """The names of every index (and template) under one prefix."""

    prefix: str = "diffy"

    def _name(self, kind: str) -> str:
        return f"{self.prefix}-{kind}-v{MAPPING_VERSION}"

    @property
    def runs(self) -> str:
        return self._name("runs")

    @property
    def hosts(self) -> str:
        """One document per host of a run: identity, status, its host.json."""
        return self._name("hosts")

    @property
    def analyses(self) -> str:
        return self._name("analyses")

    @property
    def host_results(self) -> str:
        """One document per host of an analysis: score, outlier, cluster."""
        return self._name("host-results")

    @property
    def findings(self) -> str:
        return self._name("findings")

    def rows(self, query: str) -> str:
        """One index per query.  Index names must be lower case; a query name that had to be
        changed gets a short hash so ``Procs`` and ``procs`` never share an index."""
        safe = _INDEX_SAFE.sub("_", query.lower()).lstrip("_-") or "q"
        if safe != query or len(safe) > 120:
            digest = hashlib.sha256(query.encode("utf-8")).hexdigest()[:8]
            safe = f"{safe[:120]}-{digest}"
        return self._name(f"rows-{safe}")

    @property
    def rows_pattern(self) -> str:
        return f"{self.prefix}-rows-*-v{MAPPING_VERSION}"

    def templates(self) -> dict[str, dict[str, Any]]:
        """template name -> put_index_template arguments."""
        single = {
            "runs": (self.runs, RUN_PROPERTIES),
            "hosts": (self.hosts, HOST_PROPERTIES),
            "analyses": (self.analyses, ANALYSIS_PROPERTIES),
            "host-results": (self.host_results, HOST_RESULT_PROPERTIES),
            "findings": (self.findings, FINDING_PROPERTIES),
            "rows": (self.rows_pattern, ROW_PROPERTIES),
        }
        return {
            f"{self.prefix}-{kind}-v{MAPPING_VERSION}": {
                "index_patterns": [pattern],
                "priority": TEMPLATE_PRIORITY,
                "version": MAPPING_VERSION,
                "_meta": {"managed_by": "diffy", "kind": kind},
                "template": {
                    "settings": {
                        "index": {
                            "number_of_replicas": 1,
                            "refresh_interval": "1s",
                            # Room for MAX_MAPPED_COLUMNS columns with their numeric sub-fields.
                            "mapping": {"total_fields": {"limit": TOTAL_FIELDS_LIMIT}},
                        }
                    },
                    "mappings": {"dynamic": False, "properties": properties},
                },
            }
            for kind, (pattern, properties) in single.items()
        }


def column_mapping(values_numeric: bool) -> dict[str, Any]:
    """The fixed mapping of one osquery column: keyword, plus ``num`` when values look numeric."""
    mapping: dict[str, Any] = {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}
    if values_numeric:
        mapping["fields"] = {"num": {"type": "double", "ignore_malformed": True}}
    return mapping


@functools.lru_cache(maxsize=65536)
def is_mappable_column(name: str) -> bool:
    """Column names Diffy maps under ``osquery.*``; others stay in ``diffy.row_json`` only (a dot or an
    odd character in a hostile column name must not create objects or collide with sub-fields)."""
    return bool(_COLUMN.match(name))


def _props(**fields: Any) -> dict[str, Any]:
    return {"properties": fields}


_HOST = _props(
    name=KEYWORD,
    id=KEYWORD,
    hostname=KEYWORD,
    architecture=KEYWORD,
    ip={"type": "ip", "ignore_malformed": True},
    mac=KEYWORD,
    os=_props(family=KEYWORD, name=KEYWORD, version=KEYWORD, kernel=KEYWORD),
)
_CLOUD = _props(
    provider=KEYWORD,
    region=KEYWORD,
    instance=_props(id=KEYWORD),
    account=_props(id=KEYWORD),
    machine=_props(type=KEYWORD),
)
_PACK = _props(name=KEYWORD, sha256=KEYWORD)
_IDENTITY = {
    "@timestamp": {"type": "date"},
    "ecs": _props(version=KEYWORD),
    "host": _HOST,
    "cloud": _CLOUD,
}
_ANALYSIS_REF = _props(id=KEYWORD, method=KEYWORD, baseline=KEYWORD, digest=KEYWORD)

ROW_PROPERTIES: dict[str, Any] = {
    **_IDENTITY,
    "diffy": _props(
        run_id=KEYWORD,
        app=KEYWORD,
        query=KEYWORD,
        pack=_PACK,
        fingerprint=KEYWORD,
        occurrence={"type": "integer"},
        row_index={"type": "integer"},
        columns=STORED_TEXT,
        row_json=STORED_TEXT,
    ),
    "osquery": {"type": "object", "dynamic": False, "properties": {}},
}

HOST_PROPERTIES: dict[str, Any] = {
    **_IDENTITY,
    "diffy": _props(
        run_id=KEYWORD,
        app=KEYWORD,
        pack=_PACK,
        status=KEYWORD,
        error={"type": "text"},
        collector=KEYWORD,
        collector_version=KEYWORD,
        autoscaling_group=KEYWORD,
        image_id=KEYWORD,
        queries_ok=KEYWORD,
        gaps=KEYWORD,
        has_record={"type": "boolean"},
        skip_phase=KEYWORD,
        manifest_entry_json=STORED_TEXT,
        record_json=STORED_TEXT,
    ),
}

RUN_PROPERTIES: dict[str, Any] = {
    "@timestamp": {"type": "date"},
    "ecs": _props(version=KEYWORD),
    "diffy": _props(
        run_id=KEYWORD,
        app=KEYWORD,
        limit=KEYWORD,
        pack=_PACK,
        collector=KEYWORD,
        version=KEYWORD,
        started_at={"type": "date"},
        finished_at={"type": "date"},
        collected_by=_props(user=KEYWORD, host=KEYWORD),
        hosts=_props(
            total={"type": "integer"},
            ok={"type": "integer"},
            partial={"type": "integer"},
            failed={"type": "integer"},
            unreachable={"type": "integer"},
            invalid={"type": "integer"},
        ),
        queries=KEYWORD,
        hosts_analysed={"type": "integer"},
        rows={"type": "long"},
        skipped=_props(host=KEYWORD, status=KEYWORD, reason={"type": "text"}),
        manifest=RAW,
        pack_json=STORED_TEXT,
        indexed_by=KEYWORD,
    ),
}

ANALYSIS_PROPERTIES: dict[str, Any] = {
    "@timestamp": {"type": "date"},
    "ecs": _props(version=KEYWORD),
    "diffy": _props(
        run_ids=KEYWORD,
        app=KEYWORD,
        analysis=_ANALYSIS_REF,
        hosts_analysed={"type": "integer"},
        hosts_skipped={"type": "integer"},
        outliers={"type": "integer"},
        outlier_hosts=KEYWORD,
        document=RAW,
    ),
}

HOST_RESULT_PROPERTIES: dict[str, Any] = {
    **_IDENTITY,
    "diffy": _props(
        run_id=KEYWORD,
        app=KEYWORD,
        analysis=_ANALYSIS_REF,
        rank={"type": "integer"},
        score={"type": "double"},
        outlier={"type": "boolean"},
        cluster={"type": "integer"},
        findings_count={"type": "integer"},
        gaps=KEYWORD,
        result=RAW,
    ),
}

FINDING_PROPERTIES: dict[str, Any] = {
    **_IDENTITY,
    "diffy": _props(
        run_id=KEYWORD,
        app=KEYWORD,
        analysis=_ANALYSIS_REF,
        query=KEYWORD,
        outlier={"type": "boolean"},
        finding=_props(
            rank={"type": "integer"},
            kind=KEYWORD,
            explanation={"type": "text", "fields": {"keyword": KEYWORD}},
            weight={"type": "double"},
            strength=KEYWORD,
            changed_columns=KEYWORD,
            hosts_with_row={"type": "integer"},
            hosts_compared={"type": "integer"},
            prevalence={"type": "double"},
            row=RAW,
            reference_row=RAW,
            facts=_props(
                subject_column=KEYWORD,
                subject=KEYWORD,
                statement={"type": "text", "fields": {"keyword": KEYWORD}},
                compared_with=KEYWORD,
                changes=RAW,
                peers_with_row={"type": "integer"},
                peers={"type": "integer"},
                weak=KEYWORD,
                significance={"type": "double"},
            ),
        ),
    ),
}
