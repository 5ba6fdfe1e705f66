"""The results stage's model: what a reader of runs hands to normalization, and the HostSource seam.

A :class:`HostSource` is anything that lists runs and streams their hosts as :class:`HostData`:
the results-directory reader (``load.directory.Results``) and the Elasticsearch reader
(``store.readback.EsResults``) both implement it, each holding a :class:`RunListing` (composition,
no shared base class).  Normalization and the analysis only ever see this protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from diffy_analysis.errors import ResultsError

DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024
"""Largest result file read (64 MiB). A busy host's process list is a few MB; anything far bigger is
either hostile or broken, and reading it whole could exhaust memory."""


@dataclass(frozen=True)
class LoadOptions:
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    verify_hashes: bool = True
    """Compare every file's sha256 with the manifest (and host.json). Costs one hash per byte read."""
    jobs: int = 1
    """Processes reading a run's hosts while the fleet is built (``diffy-analyze --jobs``): 1 reads
    in this process; more fork workers that read, hash, check, decode and mask files while this
    process parses and interns them, in host order (same output); 0 is automatic: up to 2 workers
    (the CPUs this process may use) for runs of ``AUTO_JOBS_MIN_HOSTS`` hosts or more, else 1."""


AUTO_JOBS_MIN_HOSTS = 500
"""Below this many hosts starting worker processes costs more than it saves (``LoadOptions.jobs=0``)."""


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
    files: dict[str, dict[str, bytes]] = field(default_factory=dict, repr=False)
    """The manifest's sha256 of each host file, compact (a 100k-host manifest lists 2.1 million
    files; as parsed JSON objects they took about 1 GB): host id -> file name -> the 32-byte digest,
    ``b""`` for an invalid entry, a 1-byte marker for a digest that is not lower-case hex (it can
    never match). Built by ``load.manifest.run_info``; only ``hosts/<id>/<name>`` entries are kept."""
    pack_queries: frozenset[str] | None = field(default=None, repr=False)
    """Query names of the run's pack.json (when present and matching the manifest's hash): a host
    cannot report queries the pack did not ask for (see :func:`read_host`)."""


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


# The cloud fields the flat identity carries (``HostIdentity.as_dict``), read back by ``from_flat``.
_FLAT_CLOUD_KEYS = ("region", "instance_type", "image_id", "autoscaling_group", "account_id")


@dataclass(frozen=True)
class HostIdentity:
    """Who a host is (host.json). Every shape it takes elsewhere is made here, in one place: the
    whole record (``to_record``/``from_record``: the store's host documents and their read-back) and
    the flat identity of reports (``as_dict``, and back with ``from_flat`` for the store's finding
    documents)."""

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
        for key in _FLAT_CLOUD_KEYS:
            if self.cloud.get(key):
                doc[key] = self.cloud[key]
        if self.ipv4:
            doc["ipv4"] = list(self.ipv4)
        if self.ipv6:
            doc["ipv6"] = list(self.ipv6)
        if self.mac:
            doc["mac"] = list(self.mac)
        return doc

    @staticmethod
    def from_flat(flat: Mapping[str, Any] | None) -> dict[str, Any]:
        """The record-shaped identity (what ``to_record`` gives, as far as the flat one has it) of an
        ``as_dict()`` identity, e.g. a saved analysis's ``HostResult.identity``."""
        doc = dict(flat or {})
        cloud: dict[str, Any] = {k: doc[k] for k in _FLAT_CLOUD_KEYS if k in doc}
        if doc.get("instance_id"):
            cloud["instance_id"] = doc["instance_id"]
        return {
            "hostname": doc.get("hostname"),
            "instance_id": doc.get("instance_id"),
            "ipv4": doc.get("ipv4") or (),
            "ipv6": doc.get("ipv6") or (),
            "mac": doc.get("mac") or (),
            "collected_at": doc.get("collected_at"),
            "cloud": cloud,
        }

    def to_record(self) -> dict[str, Any]:
        """The whole identity as plain data (the store keeps it; ``from_record`` reads it back)."""
        return asdict(self)

    @classmethod
    def from_record(cls, doc: Mapping[str, Any]) -> HostIdentity:
        """The identity ``to_record`` wrote (JSON turned its tuples into lists)."""
        fields = dict(doc)
        for key in ("ipv4", "ipv6", "mac"):
            fields[key] = tuple(fields.get(key) or ())
        fields["cloud"] = dict(fields.get("cloud") or {})
        fields["os"] = dict(fields.get("os") or {})
        return cls(**fields)


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


@dataclass
class RunListing:
    """The runs a source holds, the hosts to read, and the hosts known to be unusable.

    ``refs`` is in a deterministic order (runs in the order given, host ids sorted); ``skipped``
    grows as a source meets broken hosts while streaming.
    """

    runs: list[RunInfo]
    refs: list[HostRef]
    skipped: list[Skip]

    @property
    def run_ids(self) -> tuple[str, ...]:
        return tuple(r.run_id for r in self.runs if r.run_id)

    @property
    def app(self) -> str | None:
        apps = {r.app for r in self.runs if r.app}
        return apps.pop() if len(apps) == 1 else None

    def nothing_usable(self) -> ResultsError:
        """The error to raise when no host could be analysed, with the first reasons."""
        reasons = "; ".join(f"{s.host}: {s.reason}" for s in self.skipped[:3])
        more = f" (+{len(self.skipped) - 3} more)" if len(self.skipped) > 3 else ""
        where = ", ".join(str(r.path) for r in self.runs)
        return ResultsError(f"{where}: no host could be analysed" + (f": {reasons}{more}" if reasons else ""))


class ListingView:
    """What every host source answers from its ``RunListing``: the runs, the hosts to read, the
    hosts found unusable. The directory reader and the Elasticsearch reader both hold a listing and
    take these from here (one delegation, not one copy per source)."""

    listing: RunListing

    @property
    def runs(self) -> list[RunInfo]:
        return self.listing.runs

    @property
    def refs(self) -> list[HostRef]:
        return self.listing.refs

    @property
    def skipped(self) -> list[Skip]:
        return self.listing.skipped

    @property
    def run_ids(self) -> tuple[str, ...]:
        return self.listing.run_ids

    @property
    def app(self) -> str | None:
        return self.listing.app

    def nothing_usable(self) -> ResultsError:
        return self.listing.nothing_usable()


class HostSource(Protocol):
    """Where hosts come from: a results directory, or a run stored in Elasticsearch."""

    listing: RunListing
    options: LoadOptions

    @property
    def runs(self) -> list[RunInfo]: ...

    @property
    def refs(self) -> list[HostRef]: ...

    @property
    def skipped(self) -> list[Skip]: ...

    @property
    def run_ids(self) -> tuple[str, ...]: ...

    @property
    def app(self) -> str | None: ...

    def iter_hosts(
        self, text_filter: TextFilter | None = None, reuse: Reuse | None = None
    ) -> Iterator[HostData]:
        """Yield each readable host once; unreadable ones are appended to ``skipped``.

        ``text_filter(identity, query, text) -> text`` rewrites each result's text before it is
        parsed (``HostData.filtered`` names what it changed); ``reuse(query, sha256)`` says which
        unchanged results need no parse (``HostData.reused``)."""
        ...

    def read_host(self, ref: HostRef, *, queries: Iterable[str] | None = None) -> HostData:
        """One host again (e.g. for evidence rows); raises HostDataError with a one-line reason."""
        ...

    def pack_copy(self, run: RunInfo) -> Any:
        """The run's pack document (pack.json) when it has one and it can be read, else None."""
        ...

    def nothing_usable(self) -> ResultsError: ...
