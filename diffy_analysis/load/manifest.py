"""The one manifest reader: ``manifest.json`` of a run, read with one size limit and one symlink rule.

The loader, ``diffy verify`` and the baselines all read manifests here: never through a symlink
(``O_NOFOLLOW``), at most :data:`MAX_MANIFEST_BYTES`, format ``diffy-results/1``, checked against
the manifest schema (its two big maps entry by entry, by the caller that walks them).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from diffy_analysis import contract
from diffy_analysis.errors import HostDataError, ResultsError
from diffy_analysis.load.files import MAX_META_BYTES, parse_json_bytes, read_bytes
from diffy_analysis.load.model import RunInfo

MAX_MANIFEST_BYTES = 1024 * 1024 * 1024
"""Largest manifest.json read (a 100k-host run lists ~2M files: a few hundred MB)."""


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The manifest document of ``run_dir``; :class:`ResultsError` when it cannot be used.

    Checked: a regular file (no symlink), at most MAX_MANIFEST_BYTES, valid UTF-8 JSON, the right
    format, the schema for everything but ``hosts`` and ``files`` (which must be objects; a
    100k-host manifest lists millions of files, jsonschema over them would take minutes).
    """
    try:
        data = read_bytes(run_dir / contract.MANIFEST_NAME, limit=MAX_MANIFEST_BYTES)
        doc = parse_json_bytes(data, contract.MANIFEST_NAME)
        del data
    except HostDataError as err:
        raise ResultsError(
            f"{run_dir}: not a usable results directory: {err}",
            hint="expected manifest.json (diffy-results/1), or a host directory with host.json",
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != contract.RESULTS_FORMAT:
        fmt = doc.get("format") if isinstance(doc, dict) else None
        raise ResultsError(f"{run_dir}: manifest format is {fmt!r}, expected {contract.RESULTS_FORMAT!r}")
    hosts, files = doc.get("hosts"), doc.get("files")
    problems = contract.schema_errors("manifest", {**doc, "hosts": {}, "files": {}})
    if problems or not isinstance(hosts, dict) or not isinstance(files, dict):
        problems = problems or ["hosts/files must be objects"]
        raise ResultsError(f"{run_dir}: manifest.json is invalid: " + "; ".join(problems))
    return doc


def run_info(run_dir: Path) -> RunInfo:
    """The :class:`RunInfo` of a run directory, from its manifest (and pack.json's query names)."""
    doc = read_manifest(run_dir)
    pack = doc.get("pack") or {}
    return RunInfo(
        path=run_dir,
        run_id=doc["run_id"],
        app=doc.get("app"),
        pack=dict(pack),
        collector=doc.get("collector"),
        started_at=doc.get("started_at"),
        finished_at=doc.get("finished_at"),
        limit=doc.get("limit"),
        hosts=doc["hosts"],
        files=host_file_digests(doc["files"]),
        pack_queries=_pack_queries(run_dir, pack.get("sha256") if isinstance(pack, dict) else None),
    )


NOT_HEX = b"x"
"""The digest kept for a manifest sha256 that is not 64 lower-case hex digits: never equal to one."""


def host_file_digests(files: dict[str, Any]) -> dict[str, dict[str, bytes]]:
    """The manifest's ``files`` reduced to what the reader checks: host id -> file name -> digest.

    Same answers as the full entries (``file_entry_ok`` decides invalid, ``b""``), in about a
    quarter of the memory: file names are shared between hosts and digests are 32 bytes, not text.
    """
    prefix = contract.HOSTS_DIR + "/"
    start = len(prefix)
    names: dict[str, str] = {}
    out: dict[str, dict[str, bytes]] = {}
    # a manifest lists a host's files together: one look-up per host
    current_id: str | None = None
    current: dict[str, bytes] | None = None
    fullmatch = _LOWER_HEX.fullmatch
    for path, entry in files.items():
        if not path.startswith(prefix):
            continue
        host_id, sep, name = path[start:].partition("/")
        if not sep or "/" in name:
            continue  # never looked up: the reader asks for hosts/<id>/<name> only
        name = names.setdefault(name, name)
        # the exact types orjson gives first; anything else is decided by file_entry_ok
        found = entry.get("sha256") if type(entry) is dict else None
        text: str | None = None
        if type(found) is str and len(found) == 64 and type(entry.get("bytes")) is int:
            text = found
        elif file_entry_ok(entry):
            text = entry["sha256"]
        digest = b"" if text is None else bytes.fromhex(text) if fullmatch(text) else NOT_HEX
        if host_id != current_id or current is None:
            current_id, current = host_id, out.get(host_id)
            if current is None:
                current = out[host_id] = {}
        current[name] = digest
    return out


_LOWER_HEX = re.compile(r"[0-9a-f]{64}")


def _pack_queries(run_dir: Path, sha256: Any) -> frozenset[str] | None:
    """Query names of the run's pack.json; None when absent, unreadable or not the manifest's pack."""
    try:
        data = read_bytes(run_dir / contract.PACK_COPY_NAME, limit=MAX_META_BYTES)
        if hashlib.sha256(data).hexdigest() != sha256:
            return None
        return pack_query_names(json.loads(data))
    except (HostDataError, ValueError, RecursionError):
        return None


def pack_query_names(pack: Any) -> frozenset[str] | None:
    """The query names of a pack document (None when it is not a pack)."""
    queries = pack.get("queries") if isinstance(pack, dict) else None
    return frozenset(map(str, queries)) if isinstance(queries, dict) else None


def manifest_entry_problem(entry: Any) -> str | None:
    if not isinstance(entry, dict) or entry.get("status") not in contract.HOST_STATUSES:
        return "its manifest entry is invalid"
    return None


def file_entry_ok(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("sha256"), str)
        and len(entry["sha256"]) == 64
        and isinstance(entry.get("bytes"), int)
    )
