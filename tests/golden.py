"""The golden analyses: the full ``diffy-analysis/1`` JSON of a few generated fleets, as digests.

A refactor must change no output.  This module generates small fleets with fleetgen (20 and 60
hosts, each with one unreachable host), analyses them with the peers method and against the clean
baseline, indexes the small one into the Elasticsearch EMULATOR (osmem-server, tests/es_emulator.py)
the way ``diffy-analyze RUN --es-url`` does, and analyses the stored run read back from it.  Each
case is the JSON report exactly as ``--format json`` writes it (the temporary directory replaced by
``<ROOT>``), plus the normalized row fingerprints the store indexed (sorted lines of run, host,
query, fingerprint).  tests/test_golden.py compares the sha256 of every case with
tests/data/golden/digests.json, byte for byte.

Regenerate deliberately (after a change that is MEANT to change the engine's output) with ONE command:

    .venv/bin/python tests/golden.py --update

which rewrites tests/data/golden/digests.json (commit it with the change that explains why).
Each analysis JSON also has a "NAME without facts" case: the document with the findings' ``facts``
removed (``without_facts``), whose digest must not move when only facts are added or reworded.
``.venv/bin/python tests/golden.py --out DIR`` writes the case files themselves, to diff two trees.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DIGESTS = HERE / "data" / "golden" / "digests.json"
FLEETS = {"fleet20": (20, 1501), "fleet60": (60, 1502)}
"""Fleet name -> (analysable hosts, fleetgen seed)."""
ES_FLEET = "fleet20"
ES_PREFIX = "golden"


def _json_report(analysis: Any, root: Path) -> bytes:
    from diffy_analysis.report.json import render

    out = io.StringIO()
    render(analysis, out)
    text = out.getvalue()
    # Paths of the temporary directory appear in baseline labels; JSON escapes nothing in them.
    return text.replace(str(root), "<ROOT>").encode("utf-8")


def _fingerprints(client: Any, names: Any) -> bytes:
    """The normalized fingerprints of every indexed row: what prevalence in the store counts."""
    from elasticsearch.helpers import scan

    lines = []
    for hit in scan(client, index=names.rows_pattern, query={"query": {"match_all": {}}}, size=500):
        src = hit["_source"]
        diffy = src["diffy"]
        lines.append(
            "\t".join(
                map(
                    str,
                    (
                        diffy["run_id"],
                        src["host"]["id"],
                        diffy["query"],
                        diffy["row_index"],
                        diffy["fingerprint"],
                    ),
                )
            )
        )
    return ("\n".join(sorted(lines)) + "\n").encode()


WITHOUT_FACTS = " without facts"
"""Suffix of the derived cases: an analysis JSON with every finding's ``facts`` removed."""


def without_facts(data: bytes) -> bytes:
    """The analysis JSON as it was before findings carried ``facts`` (issue 15): those objects
    removed from findings, population differences and campaign artifacts, and nothing else, written
    the way ``--format json`` writes (report/json.py).  Its digest staying put while the full one
    changes is what shows the facts were purely additive."""
    doc = json.loads(data)
    for item in [
        *(f for h in doc.get("hosts") or () for f in h.get("findings") or ()),
        *(doc.get("population_differences") or ()),
        *(a for c in doc.get("campaigns") or () for a in c.get("artifacts") or ()),
    ]:
        item.pop("facts", None)
    text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(doc, indent=2, ensure_ascii=True, allow_nan=False)
    return (text + "\n").encode("utf-8")


def cases(root: Path, es_client: Any | None) -> Iterator[tuple[str, bytes]]:
    """Yield (case name, bytes) for every golden case, and for each analysis JSON its form without
    ``facts`` (``without_facts``); ES cases only when a client is given."""
    for name, data in _cases(root, es_client):
        yield name, data
        if name.endswith(".json"):
            yield name + WITHOUT_FACTS, without_facts(data)


def _cases(root: Path, es_client: Any | None) -> Iterator[tuple[str, bytes]]:
    from diffy_analysis.api import analyze
    from diffy_fleetgen import FleetOptions, generate_fleet

    fleets = {}
    for name, (hosts, seed) in FLEETS.items():
        fleet = generate_fleet(root / name, FleetOptions(hosts=hosts, seed=seed, unreachable=1), workers=1)
        fleets[name] = fleet
        yield f"{name}.peers.json", _json_report(analyze([fleet.run_dir], method="peers"), root)
        base = analyze([fleet.run_dir], baseline=fleet.baseline_dir, method="baseline")
        yield f"{name}.baseline.json", _json_report(base, root)
    if es_client is None:
        return
    from diffy_analysis.store.analysis import analyze_and_index, analyze_stored
    from diffy_analysis.store.bulk import BulkSettings
    from diffy_analysis.store.mapping import IndexNames

    fleet = fleets[ES_FLEET]
    names = IndexNames(ES_PREFIX)
    bulk = BulkSettings(chunk_size=500, max_retries=2, initial_backoff=0.01, refresh=True)
    indexed = analyze_and_index(es_client, names, [fleet.run_dir], method="peers", bulk=bulk)
    assert indexed.indexed is not None and indexed.indexed.report.ok, "the emulator refused documents"
    yield f"{ES_FLEET}.es-index.peers.json", _json_report(indexed.analysis, root)
    yield f"{ES_FLEET}.es-index.fingerprints.txt", _fingerprints(es_client, names)
    run_ids = list(indexed.run_ids)
    stored = analyze_stored(es_client, names, run_ids, method="peers")
    yield f"{ES_FLEET}.es-readback.peers.json", _json_report(stored.analysis, root)
    stored = analyze_stored(es_client, names, run_ids, baseline=str(fleet.baseline_dir), method="baseline")
    yield f"{ES_FLEET}.es-readback.baseline.json", _json_report(stored.analysis, root)


def digest(data: bytes) -> dict[str, Any]:
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def with_emulator(work: Callable[[Any], Any]) -> Any:
    """Run ``work(es_client)`` against a fresh osmem-server EMULATOR (tests/es_emulator.py)."""
    sys.path.insert(0, str(HERE))
    from es_emulator import start_emulator, stop_emulator
    from es_transport import CompatHeaderNode

    from diffy_analysis.store.connection import EsSettings, build_client

    emulator = start_emulator()
    try:
        client = build_client(
            EsSettings(url=emulator.url, index_prefix=ES_PREFIX, request_timeout=30.0),
            node_class=CompatHeaderNode,
        )
        return work(client)
    finally:
        stop_emulator(emulator)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--update", action="store_true", help=f"rewrite {DIGESTS.relative_to(HERE.parent)}")
    parser.add_argument("--out", type=Path, help="also write every case's bytes into this directory")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="diffy-golden-") as tmp:
        found = with_emulator(lambda client: dict(cases(Path(tmp), client)))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, data in found.items():
            (args.out / name).write_bytes(data)
    digests = {name: digest(data) for name, data in found.items()}
    if args.update:
        DIGESTS.parent.mkdir(parents=True, exist_ok=True)
        DIGESTS.write_text(json.dumps(digests, indent=2, sort_keys=True) + "\n")
        print(f"wrote {len(digests)} digests to {DIGESTS}")
        return 0
    expected = json.loads(DIGESTS.read_text())
    changed = sorted(n for n in set(expected) | set(digests) if expected.get(n) != digests.get(n))
    for name in changed:
        print(f"differs: {name}")
    print(f"{len(digests) - len(changed)} of {len(digests)} cases equal the goldens")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
