"""store/indexer.py without a cluster: what it refuses before connecting, and the raw fingerprints.

Indexing itself, against the Elasticsearch EMULATOR, is in tests/test_store_index.py."""

from __future__ import annotations

import pytest
from runbuilder import build_run

from diffy_analysis.errors import UsageError
from diffy_analysis.load import open_results
from diffy_analysis.store.documents import raw_row_digest
from diffy_analysis.store.indexer import index_results, raw_fingerprints
from diffy_analysis.store.mapping import IndexNames

USERS = [{"username": "root", "uid": "0"}, {"username": "app", "uid": "1000"}]


class NoClient:
    """Any use of the client fails the test: the refusal must come first."""

    def __getattr__(self, name):
        raise AssertionError(f"the client was used ({name}) before the input was checked")


def test_bare_host_directories_are_refused_before_any_request(tmp_path):
    run = build_run(tmp_path, {"web-1": {"users": USERS}})
    results = open_results([run / "hosts" / "web-1"])
    with pytest.raises(UsageError, match="only run directories"):
        index_results(NoClient(), IndexNames("t"), results)


def test_raw_fingerprints_are_one_digest_per_row_in_order(tmp_path):
    run = build_run(tmp_path, {"web-1": {"users": USERS}})
    (host,) = list(open_results([run]).iter_hosts())
    assert raw_fingerprints(host) == {"users": [raw_row_digest(r) for r in USERS]}
