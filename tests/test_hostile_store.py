"""The hostile corpus (tests/badruns.py) indexed into the ES-API emulator (a stand-in for
Elasticsearch) with `diffy index`: no traceback, the usable hosts indexed, the broken ones counted as
skipped."""

from __future__ import annotations

from diffy_analysis.cli import es_options
from diffy_analysis.cli.index import index
from diffy_analysis.cli.main import run
from tests.badruns import HOST_CASES, build_hostile_run
from tests.es_transport import CompatHeaderNode

pytest_plugins = ["es_emulator"]


def test_hostile_run_indexes_without_traceback(es_emulator, es_prefix, tmp_path, capsys, monkeypatch):
    for name in ("DIFFY_ES_URL", "DIFFY_ES_API_KEY", "DIFFY_ES_USER", "DIFFY_ES_PASSWORD", "DIFFY_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(es_options, "NODE_CLASS", CompatHeaderNode)
    run_dir = build_hostile_run(tmp_path / "results")
    code = run(
        index, [str(run_dir), "--es-url", es_emulator.url, "--es-index-prefix", es_prefix], prog_name="x"
    )
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text and "internal error" not in text, text
    assert code == 0, text
    analysed = sum(1 for c in HOST_CASES if c.expect == "analysed") + 4
    skipped = len(HOST_CASES) - analysed + 4
    assert f"{analysed} host(s)" in text and f"{skipped} skipped host(s)" in text, text
