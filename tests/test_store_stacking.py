"""Stacking in Elasticsearch (osmem-server EMULATOR, see tests/es_emulator.py): row prevalence counted
by composite aggregations equals the counts of the in-memory fleet index on the same run, and the
peers method fed with it gives the same analysis."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from runbuilder import build_run, fleet

from diffy_analysis.analyze.pipeline import analyze
from diffy_analysis.load import open_results
from diffy_analysis.normalize import default_config
from diffy_analysis.store.bulk import BulkSettings
from diffy_analysis.store.fingerprints import NormalizedFingerprints
from diffy_analysis.store.indexer import index_results
from diffy_analysis.store.mapping import IndexNames
from diffy_analysis.store.stacking import (
    StackScope,
    es_prevalence,
    hosts_total,
    iter_prevalence,
    local_prevalence,
)

pytest_plugins = ["es_emulator"]


def pandas_prevalence(run_dir) -> dict[str, int]:
    """Stacking the plain way: every row with its normalized fingerprint in a frame, hosts per row."""
    prints = NormalizedFingerprints.build([run_dir], default_config())
    records = []
    for host in open_results([run_dir]).iter_hosts():
        for fingerprints in prints(host).values():
            records.extend({"host": host.ref.host_id, "fingerprint": fp} for fp in fingerprints)
    frame = pd.DataFrame(records)
    return frame.groupby("fingerprint")["host"].nunique().astype(int).to_dict()


@pytest.mark.parametrize("counting", ["per-host", "cardinality"])
def test_aggregated_prevalence_equals_in_memory_and_pandas(indexed_fleet, counting):
    names = IndexNames("fleet")
    scope = StackScope(run_ids=(indexed_fleet.run_id,))
    # Small pages, so the composite aggregation is paged many times over.
    from_es = dict(iter_prevalence(indexed_fleet.client, names, scope, counting=counting, page_size=97))
    memory = NormalizedFingerprints.build([indexed_fleet.fleet.run_dir], default_config()).index
    assert from_es == local_prevalence(memory)
    assert from_es == pandas_prevalence(indexed_fleet.fleet.run_dir)
    assert len(from_es) > 500 and max(from_es.values()) == 8 and min(from_es.values()) == 1
    assert hosts_total(indexed_fleet.client, names, scope, counting=counting) == 8


def test_duplicate_rows_count_one_host(tmp_path, es_client, es_settings):
    """A row twice on one host is on one host; a row on two hosts is on two."""
    row = {"username": "app", "uid": "1000"}
    hosts = fleet(3, {"users": [{"username": "root", "uid": "0"}]}, extra={"web-001": {"users": [row, row]}})
    hosts["web-002"]["users"].append(row)
    run = build_run(tmp_path, hosts)
    names = IndexNames(es_settings.index_prefix)
    index_results(es_client, names, open_results([run]), bulk=BulkSettings(refresh=True))
    scope = StackScope(run_ids=("20261129T101500Z-a1b2c3",))
    counts = sorted(n for _, n in iter_prevalence(es_client, names, scope))
    assert counts == [2, 3]  # app on web-001 (twice) and web-002; root everywhere


def test_scope_by_app_and_by_query(tmp_path, es_client, es_settings):
    names = IndexNames(es_settings.index_prefix)
    base = {"users": [{"username": "root", "uid": "0"}], "groups": [{"groupname": "root", "gid": "0"}]}
    run_a = build_run(tmp_path / "a", fleet(2, base), app="app_a", run_id="20261129T101500Z-aaaaaa")
    run_b = build_run(
        tmp_path / "b", fleet(3, base, prefix="db-"), app="app_b", run_id="20261129T101500Z-bbbbbb"
    )
    for run in (run_a, run_b):
        index_results(es_client, names, open_results([run]), bulk=BulkSettings(refresh=True))
    everything = dict(iter_prevalence(es_client, names, StackScope()))
    assert sorted(everything.values()) == [5, 5]
    only_b = dict(iter_prevalence(es_client, names, StackScope(app="app_b")))
    assert sorted(only_b.values()) == [3, 3]
    users_a = dict(iter_prevalence(es_client, names, StackScope(app="app_a", queries=("users",))))
    assert list(users_a.values()) == [2]
    # The same host name in two runs: counted per run with per-host, once with cardinality.
    run_c = build_run(tmp_path / "c", fleet(2, base), app="app_a", run_id="20261130T101500Z-cccccc")
    index_results(es_client, names, open_results([run_c]), bulk=BulkSettings(refresh=True))
    app_a = StackScope(app="app_a", queries=("users",))
    assert list(dict(iter_prevalence(es_client, names, app_a)).values()) == [4]
    assert list(dict(iter_prevalence(es_client, names, app_a, counting="cardinality")).values()) == [2]


def test_peers_fed_with_elasticsearch_prevalence_gives_the_same_analysis(indexed_fleet):
    names = IndexNames("fleet")
    scope = StackScope(run_ids=(indexed_fleet.run_id,))
    prevalence = es_prevalence(indexed_fleet.client, names, scope)
    assert prevalence.hosts_total == 8
    plain = analyze([indexed_fleet.fleet.run_dir], method="peers")
    fed = analyze([indexed_fleet.fleet.run_dir], method="peers", prevalence=prevalence)
    plain_doc, fed_doc = plain.to_json(), fed.to_json()
    assert fed_doc["settings"].pop("external_prevalence_hosts") == 8
    plain_doc["settings"].pop("external_prevalence_hosts")
    assert json.dumps(fed_doc, sort_keys=True) == json.dumps(plain_doc, sort_keys=True)


def test_prevalence_from_a_bigger_fleet_changes_reported_prevalence(
    indexed_fleet, tmp_path, es_settings, es_client
):
    """Counts from Elasticsearch over more hosts than the run: the findings say "on N of <fleet>"."""
    names = IndexNames("fleet")
    scope = StackScope(run_ids=(indexed_fleet.run_id,))
    prevalence = es_prevalence(indexed_fleet.client, names, scope)
    wider = type(prevalence)(hosts_total=800, counts={fp: n * 100 for fp, n in prevalence.counts.items()})
    fed = analyze([indexed_fleet.fleet.run_dir], method="peers", prevalence=wider)
    compared = {f.hosts_compared for h in fed.hosts for f in h.findings}
    assert compared == {800}
