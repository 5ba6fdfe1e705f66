"""Hostile inventory names through a real collection (ansible-playbook, local connections) and the
real `diffy-analyze`: every host lands in its own directory under hosts/, nothing is written outside
the run directory, the original names are kept (manifest, host.json) and reports show them escaped.

Ansible itself refuses some names (``[`` starts a host range, so ``\\x1b[31m`` cannot be a host name);
everything it accepts is tried here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from diffy_analysis.contract import safe_host_id
from tests.collection_helpers import REPO, run_dirs, run_playbook

pytestmark = pytest.mark.slow  # real ansible-playbook runs
NAMES = ("../../escape", "..", "a/b/../c", "esc\x1bhost\x07nul\x00new\nline\ttab", "x" * 300, "üñí")
PACK = {"queries": {q: {"query": f"SELECT * FROM {q};"} for q in ("os_version", "users", "kernel_info")}}
SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


@pytest.fixture(scope="module")
def names_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("names")
    (base / "pack.json").write_text(json.dumps(PACK))
    local = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    inventory = {
        "all": {"vars": {**local, "diffy_collect_collector": "native"}, "hosts": {n: {} for n in NAMES}}
    }
    (base / "inventory.yml").write_text(yaml.safe_dump(inventory, allow_unicode=True))
    result = run_playbook(
        REPO / "playbooks" / "collect.yml",
        inventory=base / "inventory.yml",
        extra_vars={
            "diffy_results_root": str(base / "results"),
            "diffy_collect_pack": str(base / "pack.json"),
        },
    )
    assert result.rc == 0, result.stdout[-3000:] + result.stderr[-2000:]
    (run_dir,) = run_dirs(base / "results")
    return run_dir


def test_every_name_gets_its_own_directory_inside_the_run(names_run):
    base = names_run.parent.parent
    written = [p for p in base.rglob("*") if p.is_file()]
    assert all(p.is_relative_to(names_run) or p.parent == base for p in written)  # nothing outside
    host_dirs = sorted(p.name for p in (names_run / "hosts").iterdir())
    assert host_dirs == sorted(safe_host_id(n) for n in NAMES)
    assert all(SAFE_ID.match(d) and d not in (".", "..") for d in host_dirs)
    manifest = json.loads((names_run / "manifest.json").read_text())
    assert {e["host"] for e in manifest["hosts"].values()} == set(NAMES)
    assert all(e["status"] == "ok" for e in manifest["hosts"].values())
    for name in NAMES:
        record = json.loads((names_run / "hosts" / safe_host_id(name) / "host.json").read_text())
        assert record["host"] == name and record["host_id"] == safe_host_id(name)


@pytest.mark.parametrize("fmt", ["table", "html", "json"])
def test_reports_show_hostile_names_escaped(names_run, fmt, tmp_path):
    out = tmp_path / f"report.{fmt}"
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-c", "from diffy_analysis.cli.main import analyze_main; analyze_main()"]
    proc = subprocess.run(
        [*cmd, str(names_run), "--format", fmt, "--output", str(out)],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr
    text = out.read_text()
    if fmt == "json":
        assert {h["host"] for h in json.loads(text)["hosts"]} == set(NAMES)
        return
    assert not any(c in text for c in "\x1b\x07\x00")
    assert "../../escape" in text and "esc\\x1bhost\\x07nul\\x00new\\nline" in text  # shown, escaped
