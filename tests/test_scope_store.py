"""`diffy scope --es-url URL --run RUN_ID`: a run stored in Elasticsearch (osmem-server EMULATOR,
tests/es_emulator.py) is scoped exactly as its run directory."""

from __future__ import annotations

import json

import pytest
from es_transport import CompatHeaderNode
from runbuilder import RUN_ID, build_run
from test_scope import _fleet

from diffy_analysis.cli import es_options
from diffy_analysis.cli.main import diffy, run
from diffy_analysis.load import open_results
from diffy_analysis.store.bulk import BulkSettings
from diffy_analysis.store.indexer import index_results
from diffy_analysis.store.mapping import IndexNames

pytest_plugins = ["es_emulator"]


@pytest.fixture(autouse=True)
def _compat(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DIFFY_ES_URL", "DIFFY_ES_API_KEY", "DIFFY_ES_USER", "DIFFY_ES_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(es_options, "NODE_CLASS", CompatHeaderNode)


def test_scope_of_a_stored_run_equals_scope_of_its_directory(
    tmp_path, es_client, es_emulator, es_prefix, capsys
):
    run_dir = build_run(tmp_path, _fleet())
    outcome = index_results(
        es_client, IndexNames(es_prefix), open_results([run_dir]), bulk=BulkSettings(refresh=True)
    )
    assert outcome.report.ok, outcome.report.reasons
    es = ["--es-url", es_emulator.url, "--es-index-prefix", es_prefix]
    assert run(diffy, ["scope", "--run", RUN_ID, *es, "--from", "web-003", "--format", "json"]) == 1
    stored = json.loads(capsys.readouterr().out)
    assert run(diffy, ["scope", str(run_dir), "--from", "web-003", "--format", "json"]) == 1
    disk = json.loads(capsys.readouterr().out)
    assert stored["hosts"] == disk["hosts"] and stored["closed"] is True
    assert run(diffy, ["scope", str(run_dir), "--run", RUN_ID, *es, "--from", "web-003"]) == 2
    assert "no RUN_DIR" in capsys.readouterr().err
