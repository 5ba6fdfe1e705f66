"""Read results directories (docs/results-format.md) host by host, validating as we go.

Two ways in:

* :func:`open_results` + :meth:`Results.iter_hosts` stream one host at a time (what the analysis
  uses; memory stays flat however many hosts a run has);
* :func:`load_frames` returns tidy pandas frames for small runs and notebooks.

Rules, decided here once for every caller:

* A run directory without a readable ``manifest.json`` of format ``diffy-results/1`` raises
  :class:`ResultsError`.  A bare host directory (one that holds ``host.json``) is accepted too, as a
  baseline; it has no manifest, so there is no manifest hash to check.
* A host whose data cannot be trusted is **skipped with a one-line reason** and never sinks the run:
  missing or schema-invalid ``host.json``; a result file that is missing, a symlink, larger than
  ``max_file_bytes``, truncated or malformed JSON, not an array of flat objects, nested too deeply;
  a hash that differs from the manifest (or from ``host.json``); a manifest status of ``failed`` or
  ``unreachable``; a host directory the manifest does not list.
* Invalid UTF-8 is **decoded with U+FFFD replacement and noted** on the host, not skipped: data written
  by an attacker-controlled host must not be able to hide that host from the analysis with one bad byte.
  The bytes are still hashed as they are, so tampering after collection is still caught.
* Symlinks are never followed: files are opened with ``O_NOFOLLOW`` and directories checked with
  ``lstat``.
* Values are read as text: numbers keep their JSON spelling (``5``, ``1.50``), ``true``/``false`` become
  ``"true"``/``"false"``, ``null`` becomes ``""`` (osquery prints empty strings for NULL), and nested
  arrays/objects become compact JSON text (numbers inside them quoted, as read).
* Validation is cheap on purpose: the manifest and every ``host.json`` go through the JSON Schemas;
  result files (millions of rows on a large run) are checked for structure inside the reader, which
  is what the ``query-result`` schema says (an array of objects with scalar values).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

from diffy_analysis import contract
from diffy_analysis.errors import HostDataError, ResultsError

try:  # 2-3x faster than json on result files; json stays the reference and names every problem
    import orjson as _orjson
except ImportError:  # pragma: no cover - a declared dependency, but the loader works without it
    _orjson = None

DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024
"""Largest result file read (64 MiB). A busy host's process list is a few MB; anything far bigger is
either hostile or broken, and reading it whole could exhaust memory."""
MAX_META_BYTES = 8 * 1024 * 1024
"""Largest host.json read."""
MAX_MANIFEST_BYTES = 1024 * 1024 * 1024
"""Largest manifest.json read (a 100k-host run lists ~2M files: a few hundred MB)."""
SKIP_STATUSES = ("failed", "unreachable")
_SAFE_HOST_ID = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


@dataclass(frozen=True)
class LoadOptions:
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    verify_hashes: bool = True
    """Compare every file's sha256 with the manifest (and host.json). Costs one hash per byte read."""


@dataclass(frozen=True)
class RunInfo:
    """One run directory (or a bare host directory, ``bare=True``)."""

    path: Path
    run_id: str | None
    app: str | None = None
    pack: dict[str, Any] = field(default_factory=dict)
    collector: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    limit: str | None = None
    bare: bool = False
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    """Manifest ``hosts`` entries (status, error, host)."""
    files: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    """Manifest ``files`` entries (sha256, bytes), keyed by path relative to the run."""
    pack_queries: frozenset[str] | None = field(default=None, repr=False)
    """Query names of the run's pack.json (when present and matching the manifest's hash): a host
    cannot report queries the pack did not ask for (see :func:`read_host`)."""
    source: Any = field(default=None, repr=False, compare=False)
    """Where hosts are read from when the run is not a directory (e.g. the Elasticsearch store's
    ``store.readback.EsResults``): an object with ``read_host(ref, options, queries=...)`` and
    ``pack_copy(run)``. None for results directories."""


@dataclass(frozen=True)
class HostRef:
    """Where one host's files are: enough to (re-)read it later, e.g. for evidence rows."""

    run: RunInfo
    host_id: str
    path: Path

    @property
    def label(self) -> str:
        entry = self.run.hosts.get(self.host_id) or {}
        return str(entry.get("host") or self.host_id)


@dataclass(frozen=True)
class HostIdentity:
    host: str
    host_id: str
    hostname: str
    instance_id: str | None = None
    ipv4: tuple[str, ...] = ()
    ipv6: tuple[str, ...] = ()
    mac: tuple[str, ...] = ()
    collected_at: str | None = None
    collector: str | None = None
    collector_version: str | None = None
    collector_reason: str | None = None
    """Why the native collector ran when ``auto`` was asked for (host.json), for mixed fleets."""
    cloud: dict[str, Any] = field(default_factory=dict)
    os: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Flat identity for reports and stores (no tags: they can be large and sensitive)."""
        doc: dict[str, Any] = {"hostname": self.hostname}
        for key in ("instance_id", "collected_at", "collector", "collector_version", "collector_reason"):
            value = getattr(self, key)
            if value:
                doc[key] = value
        for key in ("region", "instance_type", "image_id", "autoscaling_group", "account_id"):
            if self.cloud.get(key):
                doc[key] = self.cloud[key]
        if self.ipv4:
            doc["ipv4"] = list(self.ipv4)
        if self.ipv6:
            doc["ipv6"] = list(self.ipv6)
        if self.mac:
            doc["mac"] = list(self.mac)
        return doc


@dataclass(frozen=True)
class QueryStatus:
    name: str
    status: str  # ok | error | unsupported | timeout | gap
    rows: int | None = None
    error: str | None = None


TextFilter = Callable[[HostIdentity, str, str], str]
"""``(host identity, query name, file text) -> text to parse``; see :meth:`Results.iter_hosts`."""
Reuse = Callable[[str, str], bool]
"""``(query name, sha256 of the file) -> True`` when the caller already holds the rows parsed from
byte-identical file text (most files repeat across the hosts of an app): the file is still read,
hashed, checked and decoded, but not parsed again; see :meth:`Results.iter_hosts`."""


@dataclass
class HostData:
    """One host, fully read and checked. Only one is kept in memory at a time when streaming."""

    ref: HostRef
    identity: HostIdentity
    queries: dict[str, QueryStatus]
    rows: dict[str, list[dict[str, str]]]
    """Rows per successful query, every value a str."""
    texts: dict[str, str] = field(default_factory=dict, repr=False)
    """Decoded text of each result file: lets normalization skip masking for files that do not
    mention the host's identity with one fast scan. Dropped with the host."""
    digests: dict[str, str] = field(default_factory=dict, repr=False)
    """sha256 of each result file as read (lets normalization reuse work for byte-identical files)."""
    filtered: frozenset[str] | None = None
    """Queries whose rows were parsed from text changed by a ``text_filter`` (e.g. identity masking);
    None when no filter was given."""
    notes: list[str] = field(default_factory=list)
    """Non-fatal observations, e.g. invalid UTF-8 replaced."""
    reused: frozenset[str] = frozenset()
    """Queries whose file the ``reuse`` callback already knew and that the ``text_filter`` left
    unchanged: not parsed, their ``rows`` entry is empty (the caller holds the rows)."""

    @property
    def label(self) -> str:
        return self.identity.host


@dataclass(frozen=True)
class Skip:
    """A host that was not analysed, and why (one line)."""

    host: str
    host_id: str
    reason: str
    status: str = "invalid"  # failed | unreachable | invalid
    run_id: str | None = None


# --------------------------------------------------------------------------------------------------
# Reading files safely


def _open_nofollow(path: Path) -> int:
    try:
        # O_NONBLOCK: opening a named pipe planted in a results directory must not hang the loader.
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        return os.open(path, flags)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise HostDataError(f"{path.name} is a symlink (never followed)") from None
        if err.errno == errno.ENOENT:
            raise HostDataError(f"{path.name} is missing") from None
        raise HostDataError(f"{path.name} cannot be read: {err.strerror}") from None


def read_bytes(path: Path, *, limit: int) -> bytes:
    """Read a regular file without following symlinks, refusing files over ``limit`` bytes."""
    fd = _open_nofollow(path)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise HostDataError(f"{path.name} is not a regular file")
        if info.st_size > limit:
            raise HostDataError(f"{path.name} is {info.st_size} bytes, over the {limit}-byte limit")
        chunks = []
        remaining = limit + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 22))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limit:
            raise HostDataError(f"{path.name} grew over the {limit}-byte limit while read")
        return data
    finally:
        os.close(fd)


def _decode(data: bytes, name: str, notes: list[str] | None) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if notes is None:
            raise HostDataError(f"{name} is not valid UTF-8") from None
        notes.append(f"{name}: invalid UTF-8 replaced with U+FFFD")
        return data.decode("utf-8", "replace")


def _parse_json(text: str, name: str, *, as_text: bool = False) -> Any:
    """Parse JSON; ``as_text`` keeps numbers as their JSON spelling (result files are read as text)."""
    if _orjson is not None and not as_text:
        try:
            return _orjson.loads(text)
        except _orjson.JSONDecodeError:
            pass  # what orjson refuses (NaN, huge integers, lone surrogates...) json decides
    try:
        if as_text:
            return json.loads(text, parse_int=str, parse_float=str, parse_constant=str)
        return json.loads(text)
    except json.JSONDecodeError as err:
        what = "truncated" if err.pos >= len(text.rstrip()) else "malformed JSON"
        raise HostDataError(f"{name} is {what} (line {err.lineno}, column {err.colno})") from None
    except RecursionError:
        raise HostDataError(f"{name} is nested too deeply") from None
    except ValueError as err:  # e.g. a 100000-digit number (Python's int-to-text limit)
        raise HostDataError(f"{name} cannot be read: {str(err).split(':')[0][:120]}") from None


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _orjson_rows(text: str) -> list[dict[str, str]] | None:
    """Rows parsed by orjson when that is exactly what json with numbers as text gives: an array of
    objects whose values are all strings (osquery's output). None otherwise: json decides."""
    if _orjson is None:
        return None
    try:
        rows = _orjson.loads(text)
    except _orjson.JSONDecodeError:
        return None
    if type(rows) is not list or (rows and set(map(type, rows)) != {dict}):
        return None
    if set(map(type, chain.from_iterable(map(dict.values, rows)))) <= {str}:
        return rows
    return None


def parse_rows(text: str, name: str) -> list[dict[str, str]]:
    """Parse one result file's text into rows of str values, checking its structure.

    Fast paths: orjson when every value is a string; otherwise json, and when every value is
    already a string (numbers are parsed as their text), rows are returned as parsed.
    """
    fast = _orjson_rows(text)
    if fast is not None:
        return fast
    rows = _parse_json(text, name, as_text=True)
    if not isinstance(rows, list):
        raise HostDataError(f"{name} is a JSON {type(rows).__name__}, not an array of rows")
    if not rows:
        return rows
    if set(map(type, rows)) != {dict}:
        raise HostDataError(f"{name} has a row that is not an object")
    # osquery output is all strings, the common case, checked as cheaply as possible: first on the
    # text (one "[" and one "{" per row and no bare literal means no nested value and no literal;
    # numbers were parsed as their text), then with one C-level pass over every value's type.
    if (
        text.count("{") == len(rows)
        and text.count("[") == 1
        and "null" not in text
        and "true" not in text
        and "false" not in text
    ):
        return rows
    if set(map(type, chain.from_iterable(map(dict.values, rows)))) <= {str}:
        return rows
    out = []
    for row in rows:
        if any(type(v) is not str for v in row.values()):
            row = {k: _as_text(v) for k, v in row.items()}  # noqa: PLW2901 - coerced copy
        out.append(row)
    return out


# --------------------------------------------------------------------------------------------------
# Runs and hosts


def _read_manifest(run_dir: Path) -> RunInfo:
    try:
        data = read_bytes(run_dir / contract.MANIFEST_NAME, limit=MAX_MANIFEST_BYTES)
        doc = _parse_json(_decode(data, contract.MANIFEST_NAME, None), contract.MANIFEST_NAME)
    except HostDataError as err:
        raise ResultsError(
            f"{run_dir}: not a usable results directory: {err}",
            hint="expected manifest.json (diffy-results/1), or a host directory with host.json",
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != contract.RESULTS_FORMAT:
        fmt = doc.get("format") if isinstance(doc, dict) else None
        raise ResultsError(f"{run_dir}: manifest format is {fmt!r}, expected {contract.RESULTS_FORMAT!r}")
    # The schema check covers everything but the two big maps, which are checked entry by entry
    # below (a 100k-host manifest lists millions of files; jsonschema over them would take minutes).
    hosts, files = doc.get("hosts"), doc.get("files")
    head = {**doc, "hosts": {}, "files": {}}
    problems = contract.schema_errors("manifest", head)
    if problems or not isinstance(hosts, dict) or not isinstance(files, dict):
        problems = problems or ["hosts/files must be objects"]
        raise ResultsError(f"{run_dir}: manifest.json is invalid: " + "; ".join(problems))
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
        hosts=hosts,
        files=files,
        pack_queries=_pack_queries(run_dir, pack.get("sha256") if isinstance(pack, dict) else None),
    )


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
    if rows is not None and not _number(rows, minimum=0, integer=True):
        return f"queries/{name}/rows: not a count"
    if duration is not None and not _number(duration, minimum=0):
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


def _manifest_entry_problem(entry: Any) -> str | None:
    if not isinstance(entry, dict) or entry.get("status") not in contract.HOST_STATUSES:
        return "its manifest entry is invalid"
    return None


def _file_entry_ok(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("sha256"), str)
        and len(entry["sha256"]) == 64
        and isinstance(entry.get("bytes"), int)
    )


def _is_plain_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _identity(doc: dict[str, Any]) -> HostIdentity:
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


def _parse_filtered(
    text: str,
    filename: str,
    *,
    name: str,
    identity: HostIdentity,
    text_filter: TextFilter | None,
    filtered: set[str],
    known: bool = False,
    reused: set[str] | None = None,
) -> list[dict[str, str]]:
    """Rows of one file, parsed from the ``text_filter``'s text when it changed anything (one parse).

    When the raw text is ``known`` (byte-identical to a file the caller already parsed) and is what
    the rows would come from, it is not parsed again: the query goes into ``reused``, rows are [].
    """
    if text_filter is not None:
        changed = text_filter(identity, name, text)
        if changed is not text and changed != text:
            try:
                rows = parse_rows(changed, filename)
            except HostDataError:
                pass  # the raw text decides below, and names the real problem
            else:
                filtered.add(name)
                return rows
    if known and reused is not None:
        reused.add(name)
        return []
    return parse_rows(text, filename)


def read_host(
    ref: HostRef,
    options: LoadOptions = LoadOptions(),
    *,
    queries: Iterable[str] | None = None,
    text_filter: TextFilter | None = None,
    reuse: Reuse | None = None,
) -> HostData:
    """Read and check one host. Raises :class:`HostDataError` with a one-line reason.

    ``queries`` limits which result files are read (used to fetch evidence rows lazily).
    ``reuse`` skips parsing files the caller already parsed (see :data:`Reuse`, ``HostData.reused``).
    """
    if ref.run.source is not None:
        return ref.run.source.read_host(ref, options, queries=queries)
    if not _is_plain_dir(ref.path):
        raise HostDataError("host directory is missing or is a symlink")
    run = ref.run

    def checked(name: str, data: bytes, expected: str | None = None) -> str:
        """sha256 of ``data``, after comparing it with the manifest (and host.json) when asked."""
        digest = hashlib.sha256(data).hexdigest()
        if not options.verify_hashes:
            return digest
        if not run.bare:
            entry = run.files.get(f"{contract.HOSTS_DIR}/{ref.host_id}/{name}")
            if entry is None:
                raise HostDataError(f"{name} is not listed in the manifest")
            if not _file_entry_ok(entry):
                raise HostDataError(f"the manifest entry for {name} is invalid")
            if digest != entry["sha256"]:
                raise HostDataError(f"{name} sha256 differs from the manifest (changed after collection)")
        if expected and digest != expected:
            raise HostDataError(f"{name} sha256 differs from host.json")
        return digest

    meta_bytes = read_bytes(ref.path / contract.HOST_RECORD_NAME, limit=MAX_META_BYTES)
    checked(contract.HOST_RECORD_NAME, meta_bytes)
    meta = _parse_json(_decode(meta_bytes, "host.json", None), "host.json")
    problems = host_record_problems(meta)
    if problems:
        # the schema's own words when it agrees (it always should; tests check both agree)
        problems = contract.schema_errors("host", meta) or problems
        raise HostDataError("host.json is invalid: " + "; ".join(problems))
    if meta["host_id"] != ref.host_id:
        raise HostDataError(f"host.json names host_id {meta['host_id']!r}, not its directory's")
    statuses = {
        name: QueryStatus(name, q["status"], q.get("rows"), q.get("error"))
        for name, q in meta["queries"].items()
    }
    notes: list[str] = []
    extra = sorted(set(statuses) - run.pack_queries) if run.pack_queries is not None else []
    if extra:
        # A hostile host.json listing 50000 made-up queries would otherwise give every other host
        # 50000 "not run on this host" gaps (a 3 MB file made a 127 MB report).
        for name in extra:
            del statuses[name]
        shown = ", ".join(extra[:3]) + (f" (+{len(extra) - 3} more)" if len(extra) > 3 else "")
        notes.append(f"host.json reports {len(extra)} queries not in the run's pack, ignored: {shown}")
    wanted = set(statuses) if queries is None else set(queries) & set(statuses)
    rows: dict[str, list[dict[str, str]]] = {}
    texts: dict[str, str] = {}
    digests: dict[str, str] = {}
    filtered, reused = set[str](), set[str]()  # queries changed by text_filter / not parsed (reuse)
    identity = _identity(meta)
    for name in sorted(wanted):
        status = statuses[name]
        if status.status != "ok":
            continue
        filename = f"{name}.json"
        data = read_bytes(ref.path / filename, limit=options.max_file_bytes)
        digests[name] = checked(filename, data, meta["queries"][name].get("sha256"))
        text = _decode(data, filename, notes)
        rows[name] = _parse_filtered(
            text,
            filename,
            name=name,
            identity=identity,
            text_filter=text_filter,
            filtered=filtered,
            known=reuse is not None and reuse(name, digests[name]),
            reused=reused,
        )
        texts[name] = text
    return HostData(
        ref=ref,
        identity=identity,
        queries=statuses,
        rows=rows,
        texts=texts,
        digests=digests,
        filtered=frozenset(filtered) if text_filter is not None else None,
        notes=notes,
        reused=frozenset(reused),
    )


class Results:
    """One or more results directories, read host by host.

    ``refs`` lists the hosts to read (deterministic order: runs in the order given, host ids sorted);
    ``skipped`` holds hosts known to be unusable up front (manifest status, unlisted directories) and
    grows as :meth:`iter_hosts` meets broken hosts.
    """

    def __init__(self, runs: list[RunInfo], refs: list[HostRef], skipped: list[Skip], options: LoadOptions):
        self.runs = runs
        self.refs = refs
        self.skipped = skipped
        self.options = options
        self.hosts_read = 0

    @property
    def run_ids(self) -> tuple[str, ...]:
        return tuple(r.run_id for r in self.runs if r.run_id)

    @property
    def app(self) -> str | None:
        apps = {r.app for r in self.runs if r.app}
        return apps.pop() if len(apps) == 1 else None

    def iter_hosts(
        self, text_filter: TextFilter | None = None, reuse: Reuse | None = None
    ) -> Iterator[HostData]:
        """Yield each readable host once; unreadable ones are appended to ``skipped``.

        ``text_filter(identity, query, text) -> text`` rewrites each result file's text before it is
        parsed (normalization masks the host's identity this way, in one pass, without parsing
        twice); ``HostData.filtered`` names the files it changed. ``texts`` stay the raw text.
        ``reuse(query, sha256)`` says which unchanged files need no parse (``HostData.reused``).
        """
        for ref in self.refs:
            try:
                host = read_host(ref, self.options, text_filter=text_filter, reuse=reuse)
            except HostDataError as err:
                self.skipped.append(Skip(ref.label, ref.host_id, err.message, "invalid", ref.run.run_id))
                continue
            self.hosts_read += 1
            yield host

    def nothing_usable(self) -> ResultsError:
        """The error to raise when no host could be analysed, with the first reasons."""
        reasons = "; ".join(f"{s.host}: {s.reason}" for s in self.skipped[:3])
        more = f" (+{len(self.skipped) - 3} more)" if len(self.skipped) > 3 else ""
        where = ", ".join(str(r.path) for r in self.runs)
        return ResultsError(f"{where}: no host could be analysed" + (f": {reasons}{more}" if reasons else ""))


def _bare_host_run(path: Path) -> tuple[RunInfo, list[HostRef]]:
    run = RunInfo(path=path.parent, run_id=None, bare=True)
    return run, [HostRef(run, path.name, path)]


def open_run(path: Path | str) -> tuple[RunInfo, list[HostRef], list[Skip]]:
    """Read one run directory's manifest and list its hosts (cheap: no result file is opened)."""
    path = Path(path)
    if not _is_plain_dir(path):
        raise ResultsError(f"{path}: not a directory (or a symlink, which is never followed)")
    if not (path / contract.MANIFEST_NAME).exists() and (path / contract.HOST_RECORD_NAME).exists():
        run, refs = _bare_host_run(path)
        return run, refs, []
    run = _read_manifest(path)
    hosts_dir = path / contract.HOSTS_DIR
    on_disk: set[str] = set()
    if hosts_dir.exists():
        if not _is_plain_dir(hosts_dir):
            raise ResultsError(f"{hosts_dir}: is a symlink or not a directory (never followed)")
        on_disk = {p.name for p in hosts_dir.iterdir()}
    refs: list[HostRef] = []
    skipped: list[Skip] = []
    for host_id in sorted(set(run.hosts) | on_disk):
        entry = run.hosts.get(host_id)
        label = str(entry.get("host") or host_id) if isinstance(entry, dict) else host_id
        if entry is None:
            skipped.append(
                Skip(label, host_id, "host directory is not listed in the manifest", "invalid", run.run_id)
            )
            continue
        problem = _manifest_entry_problem(entry)
        if problem:
            skipped.append(Skip(label, host_id, problem, "invalid", run.run_id))
            continue
        if entry["status"] in SKIP_STATUSES:
            reason = entry.get("error") or f"collection {entry['status']}"
            skipped.append(
                Skip(label, host_id, str(reason).splitlines()[0][:300], entry["status"], run.run_id)
            )
            continue
        if not _SAFE_HOST_ID.match(host_id) or host_id in (".", ".."):
            # never turned into a path: '../x' or 'a/b' would leave hosts/
            reason = "not a safe host id (only [A-Za-z0-9._-], never '.' or '..'); not read"
            skipped.append(Skip(label, host_id, reason, "invalid", run.run_id))
            continue
        refs.append(HostRef(run, host_id, hosts_dir / host_id))
    return run, refs, skipped


def open_results(paths: Iterable[Path | str], options: LoadOptions | None = None) -> Results:
    """Open one or more run directories (or bare host directories) for streaming."""
    runs: list[RunInfo] = []
    refs: list[HostRef] = []
    skipped: list[Skip] = []
    seen: dict[str, Path] = {}
    for path in paths:
        run, run_refs, run_skipped = open_run(path)
        key = str(Path(path).resolve()) if run.bare else str(run.run_id)
        if key in seen:
            # The same run twice (or a copy of it) would count every host twice and skew prevalence.
            reason = f"run {key} was already given ({seen[key]}); its hosts are counted once"
            skipped.extend(Skip(r.label, r.host_id, reason, "invalid", run.run_id) for r in run_refs)
            continue
        seen[key] = Path(path)
        runs.append(run)
        refs.extend(run_refs)
        skipped.extend(run_skipped)
    if not runs:
        raise ResultsError("no results directory given")
    return Results(runs, refs, skipped, options or LoadOptions())


def load_frames(paths: Iterable[Path | str], options: LoadOptions | None = None) -> tuple[Any, Any, Results]:
    """Tidy pandas frames for small runs and notebooks: ``(hosts, rows, results)``.

    ``hosts``: one row per analysed host (run_id, host_id, host, hostname, instance_id, status).
    ``rows``: one row per collected row: run_id, host_id, host, query, then the row's columns (text).
    ``results.skipped`` lists the hosts left out and why. Everything is held in memory: for large
    runs use :func:`open_results` and stream.
    """
    import pandas as pd  # noqa: PLC0415 - pandas is slow to import; only this convenience needs it

    results = open_results(paths, options)
    host_records = []
    row_records = []
    for host in results.iter_hosts():
        run_id = host.ref.run.run_id
        status = (host.ref.run.hosts.get(host.ref.host_id) or {}).get("status", "ok")
        host_records.append(
            {
                "run_id": run_id,
                "host_id": host.ref.host_id,
                "host": host.label,
                "hostname": host.identity.hostname,
                "instance_id": host.identity.instance_id,
                "status": status,
                "notes": "; ".join(host.notes),
            }
        )
        for query, rows in host.rows.items():
            for row in rows:
                row_records.append(
                    {"run_id": run_id, "host_id": host.ref.host_id, "host": host.label, "query": query, **row}
                )
    hosts = pd.DataFrame(
        host_records, columns=["run_id", "host_id", "host", "hostname", "instance_id", "status", "notes"]
    )
    rows = pd.DataFrame(row_records)
    if rows.empty:
        rows = pd.DataFrame(columns=["run_id", "host_id", "host", "query"])
    return hosts, rows, results
