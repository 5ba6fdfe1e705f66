"""Partial runs, end to end: a real collection (ansible-playbook, local connections) in which one host
is unreachable, one has no osqueryi (`existing` install mode finds none), and one has an osqueryi
whose queries hang (per-query timeouts). The manifest records each; every report (terminal, JSON,
HTML) shows them and says how many hosts were not analysed.

The slow osqueryi is a shell-script STAND-IN (no osqueryi binary exists on this machine): it
answers --version and one query, and sleeps on every other query.
"""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.collection_helpers import REPO, free_port, run_dirs, run_playbook

PACK = {
    "queries": {
        "os_version": {"query": "SELECT * FROM os_version;", "description": "OS release"},
        "users": {"query": "SELECT * FROM users;", "description": "local users"},
        "kernel_info": {"query": "SELECT * FROM kernel_info;", "description": "kernel"},
    }
}
SLOW_OSQUERYI = """#!/bin/sh
# STAND-IN for osqueryi (tests only): answers --version and os_version, hangs on anything else.
case "$*" in
  *--version*) echo "osqueryi version 5.12.1 (diffy test stand-in, slow)" ;;
  *os_version*) echo '[{"name": "Debian GNU/Linux", "version": "12"}]' ;;
  *) sleep 60 ;;
esac
"""
SSH_ARGS = "-o ConnectTimeout=5 -o BatchMode=yes -o StrictHostKeyChecking=no"
pytestmark = pytest.mark.slow  # real ansible-playbook runs
ANALYZE = [sys.executable, "-c", "from diffy_analysis.cli.main import analyze_main; analyze_main()"]


@pytest.fixture(scope="module")
def partial_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("partial")
    slow = base / "slow-osqueryi"
    slow.write_text(SLOW_OSQUERYI)
    slow.chmod(0o755)
    (base / "pack.json").write_text(json.dumps(PACK))
    local = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    inventory = {
        "all": {
            "vars": {"diffy_collect_collector": "native"},
            "hosts": {
                "ok-1": dict(local),
                "ok-2": dict(local),
                "slow-queries": {
                    **local,
                    "diffy_collect_collector": "osquery",
                    "diffy_collect_osquery_setup": False,
                    "osquery_osqueryi_path": str(slow),
                    "diffy_collect_query_timeout": 2,
                },
                "no-osqueryi": {
                    **local,
                    "diffy_collect_collector": "osquery",
                    "osquery_install_mode": "existing",
                    "osquery_existing_paths": [str(base / "nowhere" / "osqueryi")],
                },
                "gone": {  # nothing listens on this loopback port
                    "ansible_connection": "ssh",
                    "ansible_host": "127.0.0.1",
                    "ansible_port": free_port(),
                    "ansible_user": "nobody",
                    "ansible_ssh_common_args": SSH_ARGS,
                },
            },
        }
    }
    (base / "inventory.yml").write_text(yaml.safe_dump(inventory))
    result = run_playbook(
        REPO / "playbooks" / "collect.yml",
        inventory=base / "inventory.yml",
        extra_vars={
            "diffy_results_root": str(base / "results"),
            "diffy_collect_pack": str(base / "pack.json"),
        },
    )
    assert "Diffy results:" in result.stdout, result.stdout[-3000:] + result.stderr[-2000:]
    (run_dir,) = run_dirs(base / "results")
    return run_dir


def test_manifest_records_every_kind_of_partial_outcome(partial_run):
    hosts = json.loads((partial_run / "manifest.json").read_text())["hosts"]
    assert {h: e["status"] for h, e in hosts.items()} == {
        "ok-1": "ok",
        "ok-2": "ok",
        "slow-queries": "partial",
        "no-osqueryi": "failed",
        "gone": "unreachable",
    }
    assert "osquery" in hosts["no-osqueryi"]["error"]
    assert hosts["gone"]["error"]
    record = json.loads((partial_run / "hosts" / "slow-queries" / "host.json").read_text())
    assert record["queries"]["os_version"]["status"] == "ok"
    assert record["queries"]["users"]["status"] == "timeout"
    assert "timed out" in record["queries"]["users"]["error"]


def _analyze(run_dir: Path, fmt: str, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "PYTHONPATH": str(REPO)}
    cmd = [*ANALYZE, str(run_dir), "--format", fmt, "--output", str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, check=False)


@pytest.mark.parametrize("fmt", ["json", "table", "html"])
def test_every_report_shows_what_was_not_collected(partial_run, fmt, tmp_path):
    out = tmp_path / f"report.{fmt}"
    proc = _analyze(partial_run, fmt, out)
    # two hosts were not collected: exit 2 (trouble) even though three were analysed and reported
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    text = out.read_text()
    if fmt == "json":
        doc = json.loads(text)
        assert doc["summary"]["hosts_analysed"] == 3 and doc["summary"]["hosts_skipped"] == 2
        assert {s["host"]: s["status"] for s in doc["skipped"]} == {
            "gone": "unreachable",
            "no-osqueryi": "failed",
        }
        slow = next(h for h in doc["hosts"] if h["host"] == "slow-queries")
        assert {(g["query"], g["status"]) for g in slow["gaps"]} >= {
            ("users", "timeout"),
            ("kernel_info", "timeout"),
        }
        return
    for word in ("gone", "no-osqueryi", "unreachable", "timeout", "slow-queries"):
        assert word in text, word
    reason = json.loads((partial_run / "manifest.json").read_text())["hosts"]["no-osqueryi"]["error"]
    first = reason.splitlines()[0][:25]
    assert first in text or html.escape(first) in text
    assert "2 hosts were not analysed" in text  # the count, in words, in both formats
