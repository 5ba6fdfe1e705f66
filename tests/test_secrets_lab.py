"""Secrets and footprint over real SSH: the lab fleet (namespaced hosts behind a moto EC2 API, found
by the real aws_ec2 inventory plugin) collected with canary AWS credentials in the controller's
environment. The canaries are what the inventory plugin authenticates to (moto) with, so they are
really in use; afterwards no file of any host's private state (/root, /home, /tmp, /var/tmp, /etc,
/srv, /run) contains them and no Diffy temp dir is left there.

Marker ``lab``: needs root and network namespaces (see tools/diffy_lab/testing.py). Stand-ins:
moto plays EC2; the native collector plays osquery.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from diffy_analysis.contract import new_run_id
from diffy_lab import LabConfig
from diffy_lab.testing import running_lab, unique_name
from tests.collection_helpers import REPO, run_dirs
from tests.test_secrets import CANARIES, _leaks

pytestmark = [pytest.mark.lab, pytest.mark.slow]


@pytest.fixture(scope="module")
def lab():
    with running_lab(LabConfig(name=unique_name("sec"), apps=[("app_x", 2)])) as the_lab:
        yield the_lab


def test_canary_credentials_never_reach_lab_hosts_over_ssh(lab, tmp_path):
    results = tmp_path / "results"
    argv = [
        "ansible-playbook", "playbooks/collect.yml", "-i", str(lab.inventory), "-l", "app_x",
        "-e", f"diffy_results_root={results}", "-e", "diffy_collect_collector=native",
    ]  # fmt: skip
    proc = lab.run_controller(
        argv, timeout=600, cwd=REPO, capture_output=True, text=True, env={**os.environ, **CANARIES}
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    (run_dir,) = run_dirs(results)
    hosts = json.loads((run_dir / "manifest.json").read_text())["hosts"]
    assert len(hosts) == 2 and all(e["status"] == "ok" for e in hosts.values())  # found with the canaries
    assert not any(v in proc.stdout + proc.stderr for v in CANARIES.values())
    assert _leaks(results) == []
    for host in lab.hosts_of("app_x"):
        state = Path(lab.host_dir(host.name))
        assert _leaks(state) == [], host.name
        leftovers = [p for sub in ("tmp", "var-tmp") for p in (state / sub).glob("diffy-*")]
        leftovers += list((state / "root").glob(".ansible/tmp/*"))
        assert leftovers == [], (host.name, leftovers)


def test_temp_dirs_are_removed_from_lab_hosts_when_the_collector_fails(lab, tmp_path):
    results = tmp_path / "results"
    argv = [
        "ansible-playbook", "playbooks/collect.yml", "-i", str(lab.inventory), "-l", "app_x",
        "-e", f"diffy_results_root={results}", "-e", "diffy_collect_collector=osquery",
        "-e", json.dumps({"diffy_collect_osquery_setup": False, "osquery_osqueryi_path": "/none/osqueryi"}),
    ]  # fmt: skip
    proc = lab.run_controller(argv, timeout=600, cwd=REPO, capture_output=True, text=True)
    (run_dir,) = run_dirs(results)
    hosts = json.loads((run_dir / "manifest.json").read_text())["hosts"]
    assert hosts and all(e["status"] == "failed" and "does not run" in e["error"] for e in hosts.values()), (
        proc.stdout[-2000:]
    )
    for host in lab.hosts_of("app_x"):
        state = Path(lab.host_dir(host.name))
        leftovers = [p for sub in ("tmp", "var-tmp") for p in (state / sub).glob("diffy-*")]
        leftovers += list((state / "root").glob(".ansible/tmp/*"))
        assert leftovers == [], (host.name, leftovers)


def test_temp_dirs_are_removed_from_lab_hosts_when_a_task_fails_after_collecting(lab, tmp_path):
    """The collector ran and left its results in the host's temp dir; then the fetch fails (the
    controller's incoming path is blocked by a file): the role's `always:` must still clean the host."""
    run_id = new_run_id()
    run_dir = tmp_path / "results" / run_id
    run_dir.mkdir(parents=True)
    (run_dir / ".incoming").write_text("a file where the fetch wants a directory")
    argv = [
        "ansible-playbook", "playbooks/collect.yml", "-i", str(lab.inventory), "-l", "app_x",
        "-e", f"diffy_results_root={tmp_path / 'results'}", "-e", f"diffy_run_id={run_id}",
        "-e", "diffy_collect_collector=native",
    ]  # fmt: skip
    proc = lab.run_controller(argv, timeout=600, cwd=REPO, capture_output=True, text=True)
    assert "Fetch the result bundle" in proc.stdout
    hosts = json.loads((run_dir / "manifest.json").read_text())["hosts"]
    assert hosts and all(e["status"] == "failed" for e in hosts.values()), proc.stdout[-2000:]
    for host in lab.hosts_of("app_x"):
        state = Path(lab.host_dir(host.name))
        leftovers = [p for sub in ("tmp", "var-tmp") for p in (state / sub).glob("diffy-*")]
        leftovers += list((state / "root").glob(".ansible/tmp/*"))
        assert leftovers == [], (host.name, leftovers)
