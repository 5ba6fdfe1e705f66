"""The results stage: read results directories (docs/results-format.md) host by host, validating as we go.

Modules: ``model`` (the dataclasses and the :class:`HostSource` protocol the Elasticsearch reader
implements too), ``files`` (safe reads, JSON as text), ``manifest`` (the one manifest reader),
``host_record`` (host.json), ``directory`` (:func:`open_results`, :class:`Results`).
:func:`open_results` + :meth:`Results.iter_hosts` stream one host at a time (memory stays flat
however many hosts a run has).

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

from diffy_analysis.load.directory import Results, open_results, open_run, read_host
from diffy_analysis.load.files import MAX_META_BYTES, parse_rows, read_bytes
from diffy_analysis.load.host_record import host_record_problems
from diffy_analysis.load.manifest import MAX_MANIFEST_BYTES, pack_query_names, read_manifest
from diffy_analysis.load.model import (
    DEFAULT_MAX_FILE_BYTES,
    HostData,
    HostIdentity,
    HostRef,
    HostSource,
    ListingView,
    LoadOptions,
    QueryStatus,
    Reuse,
    RunInfo,
    RunListing,
    Skip,
    TextFilter,
)

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "MAX_MANIFEST_BYTES",
    "MAX_META_BYTES",
    "HostData",
    "HostIdentity",
    "HostRef",
    "HostSource",
    "ListingView",
    "LoadOptions",
    "QueryStatus",
    "Results",
    "Reuse",
    "RunInfo",
    "RunListing",
    "Skip",
    "TextFilter",
    "host_record_problems",
    "open_results",
    "open_run",
    "pack_query_names",
    "parse_rows",
    "read_bytes",
    "read_host",
    "read_manifest",
]
