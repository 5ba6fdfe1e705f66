"""The results-directory reader: a :class:`~diffy_analysis.load.model.HostSource` over run directories.

:func:`open_results` reads each run's manifest and lists its hosts (cheap: no result file opened);
:meth:`Results.iter_hosts` then streams one host at a time (memory stays flat however many hosts a
run has), skipping every host whose data cannot be trusted with a one-line reason (see the package
docstring, ``diffy_analysis/load/__init__.py``, for the rules).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
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
    AUTO_JOBS_MIN_HOSTS,
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
    changed: str | None,
    filename: str,
    *,
    name: str,
    filtered: set[str],
    known: bool = False,
    reused: set[str] | None = None,
) -> list[dict[str, str]]:
    """Rows of one file, parsed from the ``text_filter``'s text (``changed``: set only when the filter
    changed anything) when that parses (one parse).

    When the raw text is ``known`` (byte-identical to a file the caller already parsed) and is what
    the rows would come from, it is not parsed again: the query goes into ``reused``, rows are [].
    """
    if changed is not None:
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


@dataclass
class _ReadFiles:
    """What reading one host gives before any result file is parsed (:func:`_read_files`): its record,
    each file's decoded text and sha256 and, where the ``text_filter`` changed it, the filtered text.
    ``error`` is the first problem met while reading, after the files before it (the parse of those
    files still comes first: a broken file 3 is reported before a tampered file 4, as when read and
    parsed file by file). Picklable: a worker process reads hosts into it (:class:`_Pool`)."""

    statuses: dict[str, QueryStatus] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    identity: HostIdentity | None = None
    names: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    changed: dict[str, str] = field(default_factory=dict)
    error: str | None = None


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
    read = _read_files(ref, options, queries=queries, text_filter=text_filter)
    return _parse_host(ref, read, filtering=text_filter is not None, reuse=reuse)


def _read_files(
    ref: HostRef,
    options: LoadOptions,
    *,
    queries: Iterable[str] | None = None,
    text_filter: TextFilter | None = None,
) -> _ReadFiles:
    """Read, check, decode and filter one host's files (no parse); a problem goes into ``error``."""
    out = _ReadFiles()
    dir_fd = open_dir(ref.path) if is_plain_dir(ref.path) else None
    if dir_fd is None:
        out.error = "host directory is missing or is a symlink"
        return out
    try:
        _read_files_at(ref, dir_fd, out, options=options, queries=queries, text_filter=text_filter)
    except HostDataError as err:
        out.error = err.message
    finally:
        os.close(dir_fd)
    return out


def _read_files_at(
    ref: HostRef,
    dir_fd: int,
    out: _ReadFiles,
    *,
    options: LoadOptions,
    queries: Iterable[str] | None,
    text_filter: TextFilter | None,
) -> None:
    """``_read_files`` on the open host directory ``dir_fd`` (its files opened by name)."""
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
    statuses = out.statuses = {
        name: QueryStatus(name, q["status"], q.get("rows"), q.get("error"))
        for name, q in meta["queries"].items()
    }
    notes = out.notes
    extra = sorted(set(statuses) - run.pack_queries) if run.pack_queries is not None else []
    if extra:
        # A hostile host.json listing 50000 made-up queries would otherwise give every other host
        # 50000 "not run on this host" gaps (a 3 MB file made a 127 MB report).
        for name in extra:
            del statuses[name]
        shown = ", ".join(extra[:3]) + (f" (+{len(extra) - 3} more)" if len(extra) > 3 else "")
        notes.append(f"host.json reports {len(extra)} queries not in the run's pack, ignored: {shown}")
    wanted = set(statuses) if queries is None else set(queries) & set(statuses)
    identity = out.identity = identity_of(meta)
    for name in sorted(wanted):
        status = statuses[name]
        if status.status != "ok":
            continue
        filename = f"{name}.json"
        data = read_bytes(filename, limit=options.max_file_bytes, dir_fd=dir_fd)
        digest = checked(filename, data, meta["queries"][name].get("sha256"))
        text = decode(data, filename, notes)
        if text_filter is not None:
            changed = text_filter(identity, name, text)
            if changed is not text and changed != text:
                out.changed[name] = changed
        out.names.append(name)
        out.digests[name] = digest
        out.texts[name] = text


def _parse_host(ref: HostRef, read: _ReadFiles, *, filtering: bool, reuse: Reuse | None) -> HostData:
    """Parse what :func:`_read_files` read (in file order), then report its pending problem if any."""
    rows: dict[str, list[dict[str, str]]] = {}
    filtered, reused = set[str](), set[str]()  # queries changed by text_filter / not parsed (reuse)
    for name in read.names:
        rows[name] = _parse_filtered(
            read.texts[name],
            read.changed.get(name),
            f"{name}.json",
            name=name,
            filtered=filtered,
            known=reuse is not None and reuse(name, read.digests[name]),
            reused=reused,
        )
    if read.error is not None:
        raise HostDataError(read.error)
    assert read.identity is not None
    return HostData(
        ref=ref,
        identity=read.identity,
        queries=read.statuses,
        rows=rows,
        texts=read.texts,
        digests=read.digests,
        filtered=frozenset(filtered) if filtering else None,
        notes=read.notes,
        reused=frozenset(reused),
    )


# -- reading hosts in worker processes (LoadOptions.jobs) -----------------------------------------
#
# Workers do what needs no state of the caller: open, read, hash and check every file against the
# manifest and host.json, decode it and run the text filter (identity masking, which depends only
# on the host and the config). The caller parses, in host order, with its own ``reuse`` (the fleet
# index's file cache): hosts, skip reasons and feature ids come in exactly the serial order, so the
# analysis is byte-identical (tests/test_load_parallel.py). Workers are forked (they inherit the
# listing: a host is sent as its position, never its RunInfo) and at most ``_AHEAD`` batches per
# worker are in flight, so memory stays bounded whoever is faster.

_BATCH = 16
_AHEAD = 2
_WORKER: dict[str, Any] = {}


def reader_jobs(jobs: int, hosts: int) -> int:
    """How many processes read ``hosts`` hosts for ``LoadOptions.jobs`` (0: automatic)."""
    if jobs == 0:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        jobs = min(2, cpus) if hosts >= AUTO_JOBS_MIN_HOSTS else 1
    return max(1, min(jobs, hosts))


def fork_is_safe() -> bool:
    """Whether worker processes may be forked now: the platform forks and this process runs one
    thread. A child forked beside another thread inherits whatever lock that thread held at that
    instant and can wait on it for ever (seen: a worker stuck in futex beside a test's HTTP server
    thread); the reads are then done here, serially, with the very same result, only slower."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def _worker_init(refs: list[HostRef], options: LoadOptions, text_filter: TextFilter | None) -> None:
    _WORKER.update(refs=refs, options=options, text_filter=text_filter)


def _worker_read(positions: list[int]) -> list[_ReadFiles]:
    refs, options, text_filter = _WORKER["refs"], _WORKER["options"], _WORKER["text_filter"]
    return [_read_files(refs[i], options, text_filter=text_filter) for i in positions]


def _pooled_reads(
    refs: list[HostRef], options: LoadOptions, text_filter: TextFilter | None, jobs: int
) -> Iterator[_ReadFiles]:
    """``_read_files`` of every ref, in order, read by ``jobs`` forked worker processes."""
    context = multiprocessing.get_context("fork")
    batches = [list(range(i, min(i + _BATCH, len(refs)))) for i in range(0, len(refs), _BATCH)]
    with context.Pool(jobs, initializer=_worker_init, initargs=(refs, options, text_filter)) as pool:
        pending: deque[Any] = deque()
        upcoming = iter(batches)
        for batch in islice(upcoming, jobs * _AHEAD):
            pending.append(pool.apply_async(_worker_read, (batch,)))
        while pending:
            done = pending.popleft().get()
            for batch in islice(upcoming, 1):
                pending.append(pool.apply_async(_worker_read, (batch,)))
            yield from done


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
        refs = self.refs
        jobs = reader_jobs(self.options.jobs, len(refs))
        if jobs > 1 and fork_is_safe():
            reads: Iterator[_ReadFiles] = _pooled_reads(refs, self.options, text_filter, jobs)
        else:
            reads = (_read_files(ref, self.options, text_filter=text_filter) for ref in refs)
        for ref, read in zip(refs, reads, strict=True):
            try:
                host = _parse_host(ref, read, filtering=text_filter is not None, reuse=reuse)
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
