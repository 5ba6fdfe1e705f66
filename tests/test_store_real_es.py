"""Opt-in tests against a REAL Elasticsearch cluster (marker ``real_es``).

Skipped unless DIFFY_TEST_ES_URL is set. They use a unique index prefix (``diffy-test-...``) and
delete their indices and templates afterwards. Credentials come from DIFFY_ES_API_KEY or
DIFFY_ES_USER/DIFFY_ES_PASSWORD, a CA bundle from DIFFY_TEST_ES_CA_CERTS. See docs/elasticsearch.md:

    DIFFY_TEST_ES_URL=https://localhost:9200 DIFFY_ES_USER=elastic DIFFY_ES_PASSWORD=... \\
    DIFFY_TEST_ES_CA_CERTS=http_ca.crt python -m pytest -m real_es tests/test_store_real_es.py

The same checks run against the emulator in the other tests/test_store_*.py modules; here nothing
is rewritten: the product's client talks to the cluster as it would in production.
"""

from __future__ import annotations

import json

import pytest
from runbuilder import build_run, fleet

from diffy_analysis.analyze.pipeline import analyze
from diffy_analysis.load import open_results
from diffy_analysis.normalize import default_config
from diffy_analysis.store.bulk import BulkSettings
from diffy_analysis.store.fingerprints import NormalizedFingerprints
from diffy_analysis.store.indexer import index_results
from diffy_analysis.store.mapping import IndexNames
from diffy_analysis.store.readback import EsResults
from diffy_analysis.store.stacking import StackScope, iter_prevalence, local_prevalence

pytest_plugins = ["es_emulator"]
pytestmark = pytest.mark.real_es

ROWS = {
    "listening_ports": [{"protocol": "6", "address": "0.0.0.0", "port": "22", "name": "sshd", "pid": "811"}],
    "users": [{"username": "root", "uid": "0"}, {"username": "app", "uid": "1000"}],
}
EVIL = {
    "listening_ports": [{"protocol": "6", "address": "0.0.0.0", "port": "4444", "name": "nc", "pid": "7"}]
}


def test_index_reindex_read_back_and_stack_on_a_real_cluster(tmp_path, real_es_client, real_es_settings):
    run = build_run(tmp_path, fleet(10, ROWS, extra={"web-004": EVIL}), statuses={"web-011": "unreachable"})
    names = IndexNames(real_es_settings.index_prefix)
    bulk = BulkSettings(refresh=True)
    first = index_results(real_es_client, names, open_results([run]), bulk=bulk)
    assert first.report.ok, first.report.reasons
    again = index_results(real_es_client, names, open_results([run]), bulk=bulk)
    assert again.report.ok
    real_es_client.indices.refresh(index=f"{names.prefix}-*")
    assert real_es_client.count(index=names.rows("users"))["count"] == 20
    assert real_es_client.count(index=names.hosts)["count"] == 11

    from_disk = analyze([run])
    stored = EsResults(real_es_client, names, ["20261129T101500Z-a1b2c3"], page_size=7)
    from_es = analyze((), results=stored)
    assert json.dumps(from_es.to_json()) == json.dumps(from_disk.to_json())

    memory = NormalizedFingerprints.build([run], default_config()).index
    scope = StackScope(run_ids=("20261129T101500Z-a1b2c3",))
    for counting in ("per-host", "cardinality"):
        assert dict(iter_prevalence(real_es_client, names, scope, counting=counting, page_size=2)) == (
            local_prevalence(memory)
        )
