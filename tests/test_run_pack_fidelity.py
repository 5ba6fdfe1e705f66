"""diffy_run_pack: --flagfile=/dev/null for osqueryi, Diffy's own tables answered natively under the
osquery collector, osquery's iptables on an nftables host recorded as a gap, and `auto` falling back
to native (with the reason) when osqueryi refuses to run.  The osqueryi here is a tiny fake script
that records its argv (it answers every SQL with no rows, like osquery's iptables on an nft host)."""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
UTILS = REPO / "plugins" / "module_utils"


@pytest.fixture(scope="module")
def run_pack():
    sys.path.insert(0, str(UTILS))
    for path in sorted(UTILS.glob("*.py")):
        sys.modules.setdefault(f"ansible.module_utils.{path.stem}", importlib.import_module(path.stem))
    spec = importlib.util.spec_from_file_location(
        "_diffy_run_pack", REPO / "plugins/modules/diffy_run_pack.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _osqueryi(tmp_path: Path, *, refuse: bool = False) -> Path:
    log = tmp_path / "argv.log"
    script = tmp_path / "osqueryi"
    version = 'echo "broken" >&2; exit 1' if refuse else 'echo "osqueryi version 5.23.1"; exit 0'
    script.write_text(f'#!/bin/sh\necho "$@" >> {log}\ncase "$1" in --version) {version};; esac\necho "[]"\n')
    script.chmod(0o755)
    return script


PACK = {
    "queries": {
        "users": {"query": "SELECT username FROM users;"},
        "iptables": {"query": "SELECT chain, policy FROM iptables;"},
        "firewall_rules": {"query": "SELECT backend, kind FROM diffy_firewall_rules;"},
    }
}


def _params(tmp_path, osqueryi, **extra):
    return {
        "pack": PACK,
        "collector": "osquery",
        "osqueryi": str(osqueryi),
        "osqueryi_flags": ["--json"],
        "default_timeout": 30,
        "host_record": {"host": "h1", "host_id": "h1", "hostname": "h1"},
        "diffy_version": "0.1.0",
        **extra,
    }


def test_osqueryi_gets_flagfile_dev_null_and_diffy_tables_run_natively(tmp_path, run_pack, monkeypatch):
    monkeypatch.setattr(run_pack, "mark_iptables_gaps", lambda *a, **k: None)  # gaps: next test
    osqueryi = _osqueryi(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    result = run_pack.collect(_params(tmp_path, osqueryi), str(out))
    calls = (tmp_path / "argv.log").read_text().splitlines()
    sql_calls = [c for c in calls if "--version" not in c]
    assert len(sql_calls) == 2  # users and iptables went to osqueryi ...
    assert all(c.startswith("--flagfile=/dev/null --json ") for c in sql_calls)
    assert not any("diffy_firewall_rules" in c for c in calls)  # ... the firewall query did not
    assert result["queries"]["firewall_rules"]["status"] == "ok"
    record = json.loads((out / "host.json").read_text())
    assert record["collector"] == "osquery" and "collector_reason" not in record


def test_iptables_on_an_nft_host_is_a_gap_not_ok_0_rows(tmp_path, run_pack, monkeypatch):
    import diffy_native_firewall

    reason = "this host's packet filter is nftables (1 chain, 2 rules); osquery issue #7323"
    monkeypatch.setattr(diffy_native_firewall, "nftables_blind_spot", lambda ctx: reason)
    out = tmp_path / "out"
    out.mkdir()
    result = run_pack.collect(_params(tmp_path, _osqueryi(tmp_path)), str(out))
    entry = result["queries"]["iptables"]
    assert (entry["status"], entry["error"], entry["rows"], entry["sha256"]) == ("gap", reason, 0, None)
    assert not (out / "iptables.json").exists()
    assert "iptables.json" not in result["files"]
    assert result["status"] == "partial" and result["not_ok"] == ["iptables"]
    record = json.loads((out / "host.json").read_text())
    assert record["queries"]["iptables"]["status"] == "gap"


def test_auto_falls_back_to_native_when_osqueryi_refuses_to_run(tmp_path, run_pack):
    out = tmp_path / "out"
    out.mkdir()
    result = run_pack.collect(
        _params(tmp_path, _osqueryi(tmp_path, refuse=True), fallback_native=True), str(out)
    )
    record = json.loads((out / "host.json").read_text())
    assert record["collector"] == "native" and result["collector"] == "native"
    assert record["collector_reason"].startswith("osqueryi refused to run: ")
    assert result["queries"]["users"]["status"] == "ok" and result["queries"]["users"]["rows"] >= 1


def test_osquery_collector_without_fallback_still_fails(tmp_path, run_pack):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(run_pack.CollectError):
        run_pack.collect(_params(tmp_path, _osqueryi(tmp_path, refuse=True)), str(out))


def test_osqueryi_output_with_a_non_utf8_file_name_counts_its_rows(tmp_path, run_pack, monkeypatch):
    """osquery writes a file name's bytes as they are (rapidjson's Writer does not validate UTF-8):
    the query is ok with both rows counted, not "output unreadable"; the bytes are kept on disk."""
    monkeypatch.setattr(run_pack, "mark_iptables_gaps", lambda *a, **k: None)
    printed = tmp_path / "printed.json"
    printed.write_bytes(b'[\n  {"username":"root"},\n  {"username":"\xff\xfeghost"}\n]\n')
    script = tmp_path / "osqueryi"
    script.write_text(
        f'#!/bin/sh\ncase "$1" in --version) echo "osqueryi version 5.23.1"; exit 0;; esac\ncat {printed}\n'
    )
    script.chmod(0o755)
    out = tmp_path / "out"
    out.mkdir()
    result = run_pack.collect(_params(tmp_path, script), str(out))
    assert (result["queries"]["users"]["status"], result["queries"]["users"]["rows"]) == ("ok", 2)
    assert (out / "users.json").read_bytes() == printed.read_bytes()


def test_the_native_collector_writes_what_osqueryi_json_prints(tmp_path, run_pack):
    """Same format as osqueryi --json (see tests/test_conformance_output.py for the osquery lines)."""
    out = tmp_path / "out"
    out.mkdir()
    params = _params(tmp_path, tmp_path / "absent-osqueryi", collector="native")
    run_pack.collect(params, str(out))
    data = (out / "users.json").read_bytes()
    assert data.startswith(b'[\n  {"username":"') and data.endswith(b'"}\n]\n')
    assert b"\n    " not in data and b'", "' not in data  # not json.dumps(indent=2)
