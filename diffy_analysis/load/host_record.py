"""host.json checked in plain Python, and the host identity it records.

jsonschema takes milliseconds per document, which is minutes on a 100k-host run. The check here is
the schema (schemas/host.schema.json) written out for speed, NOT a second definition:
tests/test_load.py checks that both agree on generated documents, and when a document fails here
the message given is the schema's own (``contract.schema_errors``).
"""

from __future__ import annotations

import re
from typing import Any

from diffy_analysis import contract
from diffy_analysis.load.model import HostIdentity

_HOST_ID = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
_TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|\+00:00)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_STR_OR_NULL = (str, type(None))


def _number(value: Any, *, minimum: float | None = None, integer: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if integer and not (isinstance(value, int) or value == int(value)):
        return False
    return minimum is None or value >= minimum


def _query_problem(name: Any, entry: Any) -> str | None:
    if not isinstance(name, str) or not _HOST_ID.match(name):
        return f"queries: invalid query name {name!r:.60}"
    if not isinstance(entry, dict) or entry.get("status") not in contract.QUERY_STATUSES:
        return f"queries/{name}: status must be one of {', '.join(contract.QUERY_STATUSES)}"
    rows, duration, sha = entry.get("rows"), entry.get("duration_s"), entry.get("sha256")
    # exact-type fast paths first (the common case: an int count, a float duration); anything
    # else gets the full check (bool is not int here, as in the schema)
    if (
        rows is not None
        and not (type(rows) is int and rows >= 0)
        and not _number(rows, minimum=0, integer=True)
    ):
        return f"queries/{name}/rows: not a count"
    if (
        duration is not None
        and not (type(duration) in (float, int) and duration >= 0)
        and not _number(duration, minimum=0)
    ):
        return f"queries/{name}/duration_s: not a duration"
    if not isinstance(entry.get("error"), _STR_OR_NULL):
        return f"queries/{name}/error: not a string"
    if sha is not None and not (isinstance(sha, str) and _SHA256.match(sha)):
        return f"queries/{name}/sha256: not a sha256"
    return None


def _cloud_problems(cloud: Any) -> list[str]:
    if cloud is None:
        return []
    if not isinstance(cloud, dict):
        return ["cloud: not an object"]
    problems = []
    if "provider" in cloud and not isinstance(cloud["provider"], str):
        problems.append("cloud/provider: not a string")
    for key in ("instance_id", "image_id", "region", "account_id", "autoscaling_group", "instance_type"):
        if key in cloud and not isinstance(cloud[key], _STR_OR_NULL):
            problems.append(f"cloud/{key}: not a string")
    tags = cloud.get("tags", {})
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        problems.append("cloud/tags: not an object of strings")
    return problems


def host_record_problems(doc: Any) -> list[str]:
    """The host.json schema (schemas/host.schema.json), checked in plain Python.

    jsonschema takes milliseconds per document, which is minutes on a 100k-host run; this check is
    equivalent (tests/test_load.py compares both on generated documents) and ~100x faster.
    """
    if not isinstance(doc, dict):
        return ["(top level): not an object"]
    required = ("host", "host_id", "hostname", "collected_at", "collector", "collector_version", "queries")
    missing = [k for k in required if k not in doc]
    if missing:
        return [f"(top level): missing {', '.join(missing)}"]
    host_id = doc["host_id"]
    checks = [
        (isinstance(doc["host"], str) and doc["host"] != "", "host: not a non-empty string"),
        (
            isinstance(host_id, str) and bool(_HOST_ID.match(host_id)) and host_id not in (".", ".."),
            "host_id",
        ),
        (isinstance(doc["hostname"], str), "hostname: not a string"),
        (
            isinstance(doc["collected_at"], str) and bool(_TIMESTAMP.match(doc["collected_at"])),
            "collected_at",
        ),
        (doc["collector"] in ("osquery", "native"), "collector: not osquery or native"),
        (isinstance(doc["collector_version"], str), "collector_version: not a string"),
        (isinstance(doc["queries"], dict), "queries: not an object"),
    ]
    problems = [message for ok, message in checks if not ok]
    os_doc = doc.get("os", {})
    os_keys = ("family", "distribution", "version", "kernel", "arch")
    if not (isinstance(os_doc, dict) and all(isinstance(os_doc[k], str) for k in os_keys if k in os_doc)):
        problems.append("os: not an object of strings")
    problems.extend(_cloud_problems(doc.get("cloud")))
    addresses = doc.get("addresses", {})
    if not isinstance(addresses, dict) or not all(
        isinstance(addresses[k], list) and all(isinstance(a, str) for a in addresses[k])
        for k in ("ipv4", "ipv6", "mac")
        if k in addresses
    ):
        problems.append("addresses: not lists of strings")
    if isinstance(doc["queries"], dict):
        for name, entry in doc["queries"].items():
            problem = _query_problem(name, entry)
            if problem:
                problems.append(problem)
                break
    return problems


def identity_of(doc: dict[str, Any]) -> HostIdentity:
    cloud = doc.get("cloud") or {}
    addresses = doc.get("addresses") or {}
    return HostIdentity(
        host=doc["host"],
        host_id=doc["host_id"],
        hostname=doc.get("hostname") or "",
        instance_id=cloud.get("instance_id"),
        ipv4=tuple(addresses.get("ipv4") or ()),
        ipv6=tuple(addresses.get("ipv6") or ()),
        mac=tuple(addresses.get("mac") or ()),
        collected_at=doc.get("collected_at"),
        collector=doc.get("collector"),
        collector_version=doc.get("collector_version"),
        collector_reason=doc.get("collector_reason")
        if isinstance(doc.get("collector_reason"), str)
        else None,
        cloud=dict(cloud),
        os=dict(doc.get("os") or {}),
    )
