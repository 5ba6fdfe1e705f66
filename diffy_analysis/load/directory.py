"""The results-directory reader: a :class:`~diffy_analysis.load.model.HostSource` over run directories.

:func:`open_results` reads each run's manifest and lists its hosts (cheap: no result file opened);
:meth:`Results.iter_hosts` then streams one host at a time (memory stays flat however many hosts a
run has), skipping every host whose data cannot be trusted with a one-line reason (see the package
docstring, ``diffy_analysis/load/__init__.py``, for the rules).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from diffy_analysis import contract
from diffy_analysis.errors import HostDataError, ResultsError
from diffy_analysis.load.files import (
    MAX_META_BYTES,
    decode,
    is_plain_dir,
    open_dir,
    parse_json,
    parse_rows,
    read_bytes,
)
from diffy_analysis.load.host_record import host_record_problems, identity_of
from diffy_analysis.load.manifest import manifest_entry_problem, run_info
from diffy_analysis.load.model import (
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
)

_DEFAULT_OPTIONS = LoadOptions()
SKIP_STATUSES = ("failed", "unreachable")
_SAFE_HOST_ID = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


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
    options: LoadOptions = _DEFAULT_OPTIONS,
    *,
    queries: Iterable[str] | None = None,
    text_filter: TextFilter | None = None,
    reuse: Reuse | None = None,
) -> HostData:
    """Read and check one host. Raises :class:`HostDataError` with a one-line reason.

    ``queries`` limits which result files are read (used to fetch evidence rows lazily).
    ``reuse`` skips parsing files the caller already parsed (see :data:`Reuse`, ``HostData.reused``).
    """
    dir_fd = open_dir(ref.path) if is_plain_dir(ref.path) else None
    if dir_fd is None:
        raise HostDataError("host directory is missing or is a symlink")
    try:
        return _read_host_at(
            ref, dir_fd, options=options, queries=queries, text_filter=text_filter, reuse=reuse
        )
    finally:
        os.close(dir_fd)


def _read_host_at(
    ref: HostRef,
    dir_fd: int,
    *,
    options: LoadOptions,
    queries: Iterable[str] | None,
    text_filter: TextFilter | None,
    reuse: Reuse | None,
) -> HostData:
    """``read_host`` on the open host directory ``dir_fd`` (its files opened by name)."""
    run = ref.run
    host_files = run.files.get(ref.host_id, {})

    def checked(name: str, data: bytes, expected: str | None = None) -> str:
        """sha256 of ``data``, after comparing it with the manifest (and host.json) when asked."""
        digest = (hashed := hashlib.sha256(data)).hexdigest()
        if not options.verify_hashes:
            return digest
        if not run.bare:
            listed = host_files.get(name)
            if listed is None:
                raise HostDataError(f"{name} is not listed in the manifest")
            if not listed:
                raise HostDataError(f"the manifest entry for {name} is invalid")
            if hashed.digest() != listed:
                raise HostDataError(f"{name} sha256 differs from the manifest (changed after collection)")
        if expected and digest != expected:
            raise HostDataError(f"{name} sha256 differs from host.json")
        return digest

    meta_bytes = read_bytes(contract.HOST_RECORD_NAME, limit=MAX_META_BYTES, dir_fd=dir_fd)
    checked(contract.HOST_RECORD_NAME, meta_bytes)
    meta = parse_json(decode(meta_bytes, "host.json", None), "host.json")
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
    identity = identity_of(meta)
    for name in sorted(wanted):
        status = statuses[name]
        if status.status != "ok":
            continue
        filename = f"{name}.json"
        data = read_bytes(filename, limit=options.max_file_bytes, dir_fd=dir_fd)
        digests[name] = checked(filename, data, meta["queries"][name].get("sha256"))
        text = decode(data, filename, notes)
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


class Results(ListingView):
    """One or more results directories, read host by host (a ``HostSource``)."""

    def __init__(self, listing: RunListing, options: LoadOptions):
        self.listing = listing
        self.options = options
        self.hosts_read = 0

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

    def read_host(self, ref: HostRef, *, queries: Iterable[str] | None = None) -> HostData:
        return read_host(ref, self.options, queries=queries)

    def pack_copy(self, run: RunInfo) -> Any:
        if run.bare:
            return None
        try:
            data = read_bytes(run.path / contract.PACK_COPY_NAME, limit=MAX_META_BYTES)
            return parse_json(decode(data, contract.PACK_COPY_NAME, None), contract.PACK_COPY_NAME)
        except HostDataError:
            return None


def _bare_host_run(path: Path) -> tuple[RunInfo, list[HostRef]]:
    run = RunInfo(path=path.parent, run_id=None, bare=True)
    return run, [HostRef(run, path.name, path)]


def open_run(path: Path | str) -> tuple[RunInfo, list[HostRef], list[Skip]]:
    """Read one run directory's manifest and list its hosts (cheap: no result file is opened)."""
    path = Path(path)
    if not is_plain_dir(path):
        raise ResultsError(f"{path}: not a directory (or a symlink, which is never followed)")
    if not (path / contract.MANIFEST_NAME).exists() and (path / contract.HOST_RECORD_NAME).exists():
        bare, bare_refs = _bare_host_run(path)
        return bare, bare_refs, []
    run = run_info(path)
    hosts_dir = path / contract.HOSTS_DIR
    on_disk: set[str] = set()
    if hosts_dir.exists():
        if not is_plain_dir(hosts_dir):
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
        problem = manifest_entry_problem(entry)
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
    return Results(RunListing(runs, refs, skipped), options or LoadOptions())
