"""Indexing runs into the Elasticsearch store, against osmem-server (an ES-API EMULATOR, see
tests/es_emulator.py): templates and fixed mappings, counts per index, idempotent re-indexing,
rejections and injected 429/5xx faults reported with counts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from es_transport import CompatHeaderNode, FaultPlan, count, fault_node_class
from runbuilder import build_run, fleet

from diffy_analysis.load import open_results
from diffy_analysis.store.bulk import BulkSettings
from diffy_analysis.store.connection import build_client
from diffy_analysis.store.indexer import index_results
from diffy_analysis.store.mapping import IndexNames

pytest_plugins = ["es_emulator"]

FAST = BulkSettings(chunk_size=7, max_retries=3, initial_backoff=0.01, max_backoff=0.05, refresh=True)

BASE = {
    "listening_ports": [
        {"protocol": "6", "address": "0.0.0.0", "port": "22", "name": "sshd", "pid": "812"},
        {"protocol": "6", "address": "127.0.0.1", "port": "5432", "name": "postgres", "pid": "990"},
    ],
    "users": [
        {"username": "root", "uid": "0", "shell": "/bin/bash"},
        {"username": "app", "uid": "1000", "shell": ""},
    ],
}
BACKDOOR = {"protocol": "6", "address": "0.0.0.0", "port": "4444", "name": "nc", "pid": "31337"}


def make_run(tmp_path: Path) -> Path:
    hosts = fleet(6, BASE, extra={"web-004": {"listening_ports": [BACKDOOR]}})
    for number, rows in enumerate(hosts.values()):
        rows["listening_ports"][0]["pid"] = str(800 + number)  # volatile: differs on every host
    # Two identical rows on one host (duplicate rows must both be kept, under distinct ids).
    hosts["web-002"]["users"].append({"username": "app", "uid": "1000", "shell": ""})
    # A hostile column name with a dot: kept whole in diffy.row_json, never turned into an object.
    hosts["web-003"]["odd"] = [{"a.b": "x", "port": "1"}]
    return build_run(tmp_path, hosts, statuses={"web-007": "unreachable"})


def index_run(client: Any, names: IndexNames, run: Path, bulk: BulkSettings = FAST):
    return index_results(client, names, open_results([run]), bulk=bulk)


def test_index_counts_per_index_and_reindex_makes_no_duplicates(tmp_path, es_client, es_settings):
    run = make_run(tmp_path)
    names = IndexNames(es_settings.index_prefix)
    outcome = index_run(es_client, names, run)
    assert outcome.report.ok, outcome.report.reasons
    expected = {
        names.rows("listening_ports"): 6 * 2 + 1,
        names.rows("users"): 6 * 2 + 1,
        names.rows("odd"): 1,
        names.hosts: 7,  # 6 analysed + 1 unreachable
        names.runs: 1,
    }
    assert {i: count(es_client, i) for i in expected} == expected
    assert outcome.rows == 27 and outcome.hosts_indexed == 6 and outcome.hosts_skipped == 1

    again = index_run(es_client, names, run)
    assert again.report.total_indexed == outcome.report.total_indexed
    assert {i: count(es_client, i) for i in expected} == expected


def test_fixed_mapping_ecs_fields_and_numeric_subfields(tmp_path, es_client, es_settings):
    names = IndexNames(es_settings.index_prefix)
    index_run(es_client, names, make_run(tmp_path))
    index = names.rows("listening_ports")
    mapping = es_client.indices.get_mapping(index=index).body[index]["mappings"]
    assert mapping["dynamic"] in (False, "false")
    port = mapping["properties"]["osquery"]["properties"]["port"]
    assert port["type"] == "keyword" and port["fields"]["num"]["type"] == "double"
    assert mapping["properties"]["osquery"]["properties"]["name"] == {"type": "keyword", "ignore_above": 8191}

    hits = es_client.search(index=index, query={"range": {"osquery.port.num": {"gte": 1024, "lt": 5000}}})
    doc = hits["hits"]["hits"][0]["_source"]
    assert hits["hits"]["total"]["value"] == 1
    assert doc["osquery"] == BACKDOOR
    assert doc["host"]["id"] == "web-004" and doc["host"]["name"] == "web-004"
    assert doc["cloud"]["instance"]["id"].startswith("i-") and doc["cloud"]["provider"] == "aws"
    assert doc["@timestamp"] == "2026-11-29T10:15:31Z"
    assert doc["diffy"]["run_id"] == "20261129T101500Z-a1b2c3"
    assert doc["diffy"]["query"] == "listening_ports" and doc["diffy"]["app"] == "app_x"
    assert doc["diffy"]["pack"]["name"] == "test-pack" and len(doc["diffy"]["pack"]["sha256"]) == 64
    assert len(doc["diffy"]["fingerprint"]) == 32


def test_fingerprints_are_normalized_like_the_analysis(tmp_path, es_client, es_settings):
    """sshd has a different pid on every host: six raw rows, one normalized fingerprint."""
    from diffy_analysis.normalize import row_fingerprint

    names = IndexNames(es_settings.index_prefix)
    index_run(es_client, names, make_run(tmp_path))
    sshd = es_client.search(
        index=names.rows("listening_ports"), query={"term": {"osquery.name": "sshd"}}, size=50
    )
    hits = sshd["hits"]["hits"]
    assert len({h["_id"] for h in hits}) == 6
    assert len({h["_source"]["osquery"]["pid"] for h in hits}) == 6
    assert {h["_source"]["diffy"]["fingerprint"] for h in hits} == {
        row_fingerprint(
            "listening_ports", {"protocol": "6", "address": "0.0.0.0", "port": "22", "name": "sshd"}
        )
    }


def test_duplicate_rows_get_occurrences_and_odd_columns_stay_raw(tmp_path, es_client, es_settings):
    names = IndexNames(es_settings.index_prefix)
    outcome = index_run(es_client, names, make_run(tmp_path))
    users = es_client.search(
        index=names.rows("users"),
        query={"bool": {"filter": [{"term": {"host.id": "web-002"}}, {"term": {"osquery.username": "app"}}]}},
    )["hits"]["hits"]
    assert sorted(h["_source"]["diffy"]["occurrence"] for h in users) == [0, 1]
    assert len({h["_id"] for h in users}) == 2

    odd = es_client.search(index=names.rows("odd"))["hits"]["hits"][0]["_source"]
    assert json.loads(odd["diffy"]["row_json"]) == {"a.b": "x", "port": "1"}
    assert odd["osquery"] == {"port": "1"}
    assert outcome.unmapped_columns == {names.rows("odd"): ["a.b"]}


def test_run_and_host_documents_report_unreachable_hosts(tmp_path, es_client, es_settings):
    names = IndexNames(es_settings.index_prefix)
    index_run(es_client, names, make_run(tmp_path))
    run_doc = es_client.get(index=names.runs, id="20261129T101500Z-a1b2c3")["_source"]["diffy"]
    assert run_doc["hosts"]["total"] == 7 and run_doc["hosts"]["unreachable"] == 1
    assert run_doc["hosts_analysed"] == 6
    assert run_doc["skipped"] == [
        {"host": "web-007", "status": "unreachable", "reason": "collection unreachable"}
    ]
    assert json.loads(run_doc["pack_json"])["queries"]
    unreachable = es_client.search(index=names.hosts, query={"term": {"diffy.status": "unreachable"}})
    assert [h["_source"]["host"]["id"] for h in unreachable["hits"]["hits"]] == ["web-007"]


def test_templates_are_versioned_and_written_once(tmp_path, es_client, es_settings):
    names = IndexNames(es_settings.index_prefix)
    index_run(es_client, names, make_run(tmp_path))
    for name in names.templates():
        found = es_client.indices.get_index_template(name=name)["index_templates"][0]["index_template"]
        assert found["version"] == 1
    from diffy_analysis.store.indices import ensure_templates

    assert ensure_templates(es_client, names) == []


def test_document_rejected_by_the_mapping_is_counted(tmp_path, es_client, es_settings):
    """Someone created the users index by hand with ``host`` as a keyword: every row is rejected."""
    names = IndexNames(es_settings.index_prefix)
    es_client.indices.create(
        index=names.rows("users"), mappings={"properties": {"host": {"type": "keyword"}}}
    )
    outcome = index_run(es_client, names, make_run(tmp_path))
    assert not outcome.report.ok
    assert outcome.report.failed == {names.rows("users"): 13}
    assert outcome.report.indexed[names.rows("listening_ports")] == 13
    assert "mapper_parsing_exception" in outcome.report.reasons[0] or "HTTP 400" in outcome.report.reasons[0]
    assert "NOT indexed" in outcome.report.summary()


def test_per_item_429_is_retried_with_backoff_until_indexed(tmp_path, es_settings):
    plan = FaultPlan(item_statuses=[429, 429])
    client = build_client(es_settings, node_class=fault_node_class(plan))
    names = IndexNames(es_settings.index_prefix)
    outcome = index_run(client, names, make_run(tmp_path))
    assert outcome.report.ok, outcome.report.reasons
    assert plan.bulk_requests >= 3 + 2  # 35 documents in chunks of 7, plus two rejected attempts
    assert count(client, names.rows("users")) == 13


def test_request_level_500_retried_then_counted_when_it_persists(tmp_path, es_settings):
    plan = FaultPlan(request_statuses=[500])
    client = build_client(es_settings, node_class=fault_node_class(plan))
    names = IndexNames(es_settings.index_prefix)
    assert index_run(client, names, make_run(tmp_path)).report.ok  # one 500, then success

    plan = FaultPlan(request_statuses=[503] * 50)
    client = build_client(es_settings, node_class=fault_node_class(plan))
    outcome = index_run(client, IndexNames(es_settings.index_prefix + "b"), make_run(tmp_path / "b"))
    assert outcome.report.total_failed == 35 and outcome.report.total_indexed == 0
    assert "HTTP 503" in outcome.report.reasons[0]


def test_unreachable_cluster_is_a_store_error():
    from diffy_analysis.errors import StoreError
    from diffy_analysis.store.connection import EsSettings, translate_errors

    settings = EsSettings(url="http://127.0.0.1:9", request_timeout=2)
    client = build_client(settings, node_class=CompatHeaderNode)
    message = "cannot reach Elasticsearch at http://127.0.0.1:9"
    with pytest.raises(StoreError, match=message), translate_errors(settings, "indexing"):
        client.options(max_retries=0).info()


def test_refused_column_mapping_keeps_the_rows(tmp_path, es_client, es_settings):
    """A query index whose field limit someone lowered: rows are still indexed and readable, the
    columns are reported as not searchable by field."""
    from elasticsearch import BadRequestError

    from diffy_analysis.store.indexer import prepare

    names = IndexNames(es_settings.index_prefix)
    prepare(es_client, names)
    index = names.rows("users")
    for limit in range(10, 300):  # the smallest limit that still holds Diffy's own fields
        try:
            es_client.indices.create(
                index=index, settings={"index": {"mapping": {"total_fields": {"limit": limit}}}}
            )
            break
        except BadRequestError:
            continue
    outcome = index_run(es_client, names, make_run(tmp_path))
    assert outcome.report.ok, outcome.report.reasons
    assert count(es_client, index) == 13
    assert sorted(outcome.unmapped_columns[index]) == ["shell", "uid", "username"]
