"""`diffy scope` over real lab hosts (marker ``lab``): a campaign seeded on three of seven hosts is
closed from one host and from one IOC, and no clean host is pulled in.

Real parts: namespaced hosts with their own processes, mounts and files, collected over SSH by the
real playbook (native collector), then `diffy scope` as a user runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from diffy_analysis.contract import new_run_id
from diffy_lab import LabConfig
from diffy_lab.testing import running_lab, unique_name

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CAMPAIGN = {"app-x-02": ["cron", "user"], "app-x-04": ["cron"], "app-x-06": ["user", "listener"]}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    config = LabConfig(
        name=unique_name("scp"), apps=[("app_x", 7)], subnet="10.213.40.0/24", compromise=CAMPAIGN
    )
    with running_lab(config) as lab:
        run_id = new_run_id()
        argv = [
            "ansible-playbook", "playbooks/collect.yml", "-i", str(lab.inventory), "-l", "app_x",
            "-e", f"diffy_results_root={root}", "-e", "diffy_collect_collector=native",
            "-e", f"diffy_run_id={run_id}",
        ]  # fmt: skip
        proc = lab.run_controller(argv, timeout=600, cwd=REPO, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        ids = {name: lab.host(name).instance_id for name in CAMPAIGN}
        yield root / run_id, ids


def _scope(run: Path, *args: str) -> dict:
    proc = subprocess.run(
        [str(BIN / "diffy"), "scope", str(run), "--format", "json", *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


def test_scope_from_one_host_closes_the_campaign(run_dir):
    run, ids = run_dir
    doc = _scope(run, "--from", ids["app-x-04"])
    assert doc["closed"] is True
    assert {h["host_id"] for h in doc["hosts"]} == set(ids.values())
    by_id = {h["host_id"]: h for h in doc["hosts"]}
    assert by_id[ids["app-x-06"]]["round"] == 2  # only through app-x-02's user: the chain widened
    assert all(h["evidence"] for h in doc["hosts"])


def test_scope_from_one_ioc_closes_the_campaign(run_dir):
    run, ids = run_dir
    # the cron line's URL: only on app-x-02 and app-x-04; app-x-06 is reached through app-x-02's user
    doc = _scope(run, "--ioc", "http://203.0.113.66/u.sh")
    assert doc["closed"] is True
    assert {h["host_id"] for h in doc["hosts"]} == set(ids.values())
    by_id = {h["host_id"]: h for h in doc["hosts"]}
    assert {i for i, h in by_id.items() if h["reason"] == "ioc"} == {ids["app-x-02"], ids["app-x-04"]}
    assert by_id[ids["app-x-06"]]["round"] == 1
    # the bare address is also in the attacker key's comment: all three hold it directly
    doc = _scope(run, "--ioc", "203.0.113.66")
    assert {h["host_id"] for h in doc["hosts"] if h["reason"] == "ioc"} == set(ids.values())
