"""The results contract (docs/results-format.md): names, formats, ids and schema validation.

The results directory is the only interface between collection and analysis.  This module is the
Python side's single source for its constants and for validating its JSON files.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import re
import secrets
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from diffy_analysis.errors import DiffyError

RESULTS_FORMAT = "diffy-results/1"
ANALYSIS_FORMAT = "diffy-analysis/1"
MANIFEST_NAME = "manifest.json"
PACK_COPY_NAME = "pack.json"
HOSTS_DIR = "hosts"
HOST_RECORD_NAME = "host.json"
DEFAULT_RESULTS_ROOT = "diffy-results"

HOST_STATUSES = ("ok", "partial", "failed", "unreachable")
QUERY_STATUSES = ("ok", "error", "unsupported", "timeout", "gap")
"""``gap``: the query ran but its table cannot see this host's real state (osquery's ``iptables`` on
an nftables host, osquery issue #7323); reported as a gap, never as "ok, 0 rows"."""

SCHEMAS = {
    "manifest": "manifest.schema.json",
    "host": "host.schema.json",
    "query-result": "query-result.schema.json",
    "pack": "pack.schema.json",
    "analysis": "analysis.schema.json",
}

_SAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]")
_RUN_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[a-z0-9]{4,12}$")
MAX_HOST_ID = 200


def safe_host_id(host: str) -> str:
    """Turn an inventory hostname into a path-safe host id (``[A-Za-z0-9._-]``, never ``.``/``..``).

    Unsafe characters become ``_``.  Names that had to be changed, or that are too long, get a short
    hash of the original appended so two different names never collapse onto one directory.
    The same rule is implemented in the collect role (filter in roles/diffy_collect); keep them equal.
    """
    cleaned = _SAFE_CHARS.sub("_", host).strip(".")
    if cleaned != host or len(cleaned) > MAX_HOST_ID or not cleaned:
        digest = hashlib.sha256(host.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        cleaned = f"{cleaned[: MAX_HOST_ID - 11]}-{digest}" if cleaned else f"host-{digest}"
    return cleaned


def new_run_id(now: _dt.datetime | None = None) -> str:
    """A sortable, unique run id: UTC timestamp plus a short random suffix."""
    now = now or _dt.datetime.now(_dt.UTC)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def is_run_id(value: str) -> bool:
    return bool(_RUN_ID.match(value))


def utc_now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@functools.cache
def schema(name: str) -> dict[str, Any]:
    """The JSON Schema named ``name`` (a key of ``SCHEMAS``), shipped inside the package."""
    text = resources.files("diffy_analysis.schemas").joinpath(SCHEMAS[name]).read_text("utf-8")
    return json.loads(text)


@functools.cache
def _validator(name: str) -> jsonschema.protocols.Validator:
    doc = schema(name)
    cls = jsonschema.validators.validator_for(doc)
    cls.check_schema(doc)
    return cls(doc)


def schema_errors(name: str, document: Any, *, limit: int = 3) -> list[str]:
    """Human-readable schema violations of ``document`` (empty when valid)."""
    errors = sorted(_validator(name).iter_errors(document), key=lambda e: list(e.absolute_path))
    out = []
    for err in errors[:limit]:
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        message = err.message if len(err.message) <= 200 else err.message[:197] + "..."
        out.append(f"{where}: {message}")
    return out


def validate(name: str, document: Any, *, what: str) -> None:
    """Raise a DiffyError naming ``what`` if ``document`` does not match schema ``name``."""
    problems = schema_errors(name, document)
    if problems:
        raise DiffyError(f"{what} does not match the {name} schema: " + "; ".join(problems))


def sha256_file(path: Path, *, chunk: int = 1 << 20) -> tuple[str, int]:
    """(sha256 hex digest, size in bytes) of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size
