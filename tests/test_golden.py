"""The refactor guard: the full analysis JSON of generated fleets, byte for byte (tests/golden.py).

Cases: fleetgen fleets of 20 and 60 hosts analysed by peers and against the clean baseline; the
20-host fleet indexed into the Elasticsearch EMULATOR (osmem-server) as ``diffy-analyze RUN
--es-url`` does (its analysis and the normalized fingerprints of every indexed row), and analysed
back from the emulator (peers and baseline).  Each case's sha256 must equal
tests/data/golden/digests.json.

When a change is MEANT to change the engine's output, regenerate the goldens with one command and
commit them with that change:

    .venv/bin/python tests/golden.py --update

(``.venv/bin/python tests/golden.py --out DIR`` writes the cases themselves, to diff before/after.)
Every analysis JSON also has a "NAME without facts" case (its findings' ``facts`` removed): its digest
must hold when a change only adds or rewords facts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from golden import DIGESTS, cases, digest

pytest_plugins = ["es_emulator"]


@pytest.fixture(scope="module")
def produced(tmp_path_factory, es_emulator) -> dict[str, bytes]:
    from es_transport import CompatHeaderNode

    from diffy_analysis.store.connection import EsSettings, build_client

    client = build_client(
        EsSettings(url=es_emulator.url, index_prefix="golden", request_timeout=30.0),
        node_class=CompatHeaderNode,
    )
    client.options(ignore_status=404).indices.delete(index="golden-*")
    root = Path(tmp_path_factory.mktemp("golden"))
    return dict(cases(root, client))


def test_every_golden_case_is_produced(produced):
    assert sorted(produced) == sorted(json.loads(DIGESTS.read_text()))


@pytest.mark.parametrize("name", sorted(json.loads(DIGESTS.read_text())))
def test_output_equals_the_golden_bytes(produced, name, tmp_path_factory):
    expected = json.loads(DIGESTS.read_text())[name]
    got = produced[name]
    if digest(got) != expected:
        kept = Path("test-artifacts") / "golden"
        kept.mkdir(parents=True, exist_ok=True)
        (kept / name).write_bytes(got)
        pytest.fail(
            f"{name}: {digest(got)} != golden {expected}; the bytes are in {kept / name} "
            "(regenerate deliberately with `.venv/bin/python tests/golden.py --update`)"
        )


def test_the_cases_hold_the_analysis_they_claim(produced):
    """The goldens are real analyses: outliers found, the unreachable host skipped, ES equals disk."""
    peers = json.loads(produced["fleet60.peers.json"])
    assert peers["format"] == "diffy-analysis/1" and peers["method"] == "peers"
    assert any(h["outlier"] for h in peers["hosts"]) and peers["skipped"]
    base = json.loads(produced["fleet20.baseline.json"])
    assert base["method"] == "baseline" and "<ROOT>" in base["baseline"]
    assert produced["fleet20.es-readback.peers.json"] == produced["fleet20.peers.json"]
    assert produced["fleet20.es-index.peers.json"] == produced["fleet20.peers.json"]
    assert produced["fleet20.es-readback.baseline.json"] == produced["fleet20.baseline.json"]
    prints = produced["fleet20.es-index.fingerprints.txt"].decode().splitlines()
    # Every indexed row carries the normalized fingerprint (blake2b-128), none the raw fallback.
    assert len(prints) > 1000 and {len(line.split("\t")[-1]) for line in prints} == {32}
