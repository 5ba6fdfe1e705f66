"""The one way to build a fleet index: read every host of a source, intern it, detect volatile columns.

``build_fleet`` is what the analysis (analyze/pipeline.py) and the store's fingerprints
(store/fingerprints.py) both call, so a row's normalized identity is computed one way.  It owns the
order of the build: the reference host (a baseline) first, then the fleet's hosts streamed from the
``HostSource`` with the host's identity masked while read (``FleetIndex.mask_text``) and byte-identical
files not parsed twice (``FleetIndex.knows_file``, the file-digest cache), then automatic
volatile-column detection over the whole fleet (normalize/volatile.py), which index.py no longer
imports.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from dataclasses import dataclass

from diffy_analysis.load import HostData, HostSource
from diffy_analysis.normalize.index import FleetIndex, HostEntry
from diffy_analysis.normalize.rules import Config
from diffy_analysis.normalize.volatile import detect_volatile


@dataclass
class Fleet:
    """A finalized fleet index and, for the baseline method, the entry of the reference host."""

    index: FleetIndex
    reference: HostEntry | None = None


def build_fleet(
    hosts: HostSource | Iterable[HostData], config: Config, *, reference: HostData | None = None
) -> Fleet:
    """Index every host of ``hosts`` (a ``HostSource``; or already read hosts, which ``add`` masks).

    Hosts a source cannot read are appended to its ``skipped`` list.  The returned index is final:
    volatile columns dropped, build-time caches released.
    """
    index = FleetIndex(config=config)
    entry = index.add_reference(reference) if reference is not None else None
    stream = hosts if isinstance(hosts, Iterable) else index.read(hosts)
    # The build allocates millions of short-lived row dicts and keeps every distinct row: the cyclic
    # collector would re-walk the growing index again and again (about a tenth of the build) and
    # find nothing (rows, tuples and host records hold no cycles). Off for the build, back after.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for host in stream:
            index.add(host)
    finally:
        if collecting:
            gc.enable()
    index.end_build()
    index.drop_volatile(detect_volatile(index))
    return Fleet(index, entry)
