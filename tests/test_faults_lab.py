"""Faults on REAL lab hosts (namespaced machines over SSH): a stuck host costs only itself, every
run ends with a manifest that tells each host's real status, and exit codes never say "nothing
found" while hosts are missing.  Rows of issue 19's fault table, one test each (short timeouts).

Marker ``lab``: run under `flock /tmp/diffy-lab.lock`.  Stand-ins: moto plays EC2, the native
collector plays osquery.  The faults themselves are real: a SIGSTOPped collector process, a root
login shell that hangs (~/.bashrc), sshd killed (the host stopped), a serial: 1 play.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from diffy_analysis.lab import Lab, LabConfig, hosts
from diffy_analysis.lab.testing import running_lab, unique_name
from diffy_analysis.verify import verify_run

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FAST = {"diffy_collect_collector": "native", "diffy_collect_step_timeout": 10}


@pytest.fixture(scope="module")
def lab():
    config = LabConfig(name=unique_name("flt"), apps=[("app_x", 3)], subnet="10.213.160.0/24")
    with running_lab(config) as the_lab:
        yield the_lab


def playbook(lab: Lab, results: Path, *extra_args: str, name: str = "collect.yml", timeout: float = 240,
             **extra) -> subprocess.CompletedProcess:  # fmt: skip
    argv = ["ansible-playbook", str(REPO / "playbooks" / name) if "/" not in name else name,
            "-i", str(lab.inventory), "-l", "app_x",
            "-e", json.dumps({"diffy_results_root": str(results), **FAST, **extra}), *extra_args]  # fmt: skip
    return lab.run_controller(argv, timeout=timeout, cwd=REPO, capture_output=True, text=True)


def the_run(results: Path) -> Path:
    (run_dir,) = [p for p in results.iterdir() if p.is_dir()]
    return run_dir


def statuses(run_dir: Path) -> dict[str, str]:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    return {entry["host"]: entry["status"] for entry in manifest["hosts"].values()}


def leftovers(lab: Lab, name: str) -> list[str]:
    return sorted(p.name for p in (lab.host_dir(name) / "tmp").glob("diffy-run-*"))


class StopCollector(threading.Thread):
    """SIGSTOP the collector on one host as soon as its temp dir (owner file) appears (bounded)."""

    def __init__(self, lab: Lab, name: str) -> None:
        super().__init__(daemon=True)
        self.lab, self.name, self.pid = lab, name, None

    def run(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.pid is None:
            for owner in (self.lab.host_dir(self.name) / "tmp").glob("diffy-run-*/.diffy-owner"):
                try:
                    pid = int(json.loads(owner.read_text())["pid"])
                except (OSError, ValueError, KeyError):
                    continue
                hosts.nsenter(self.lab.host(self.name), ["kill", "-STOP", str(pid)])
                self.pid = pid
                return
            time.sleep(0.02)


def _instance(lab: Lab, name: str) -> str:
    return lab.host(name).instance_id


def test_a_stopped_collector_costs_only_its_host_under_ansible_playbook(lab, tmp_path):
    """Old: never finishes.  New: the host fails after diffy_collect_pack_timeout, alone."""
    stuck = lab.hosts_of("app_x")[0].name
    stopper = StopCollector(lab, stuck)
    stopper.start()
    started = time.monotonic()
    proc = playbook(lab, tmp_path, diffy_collect_pack_timeout=15)
    elapsed = time.monotonic() - started
    stopper.join(5)
    assert stopper.pid, "the collector was never seen (nothing was stopped)"
    assert proc.returncode == 2, proc.stdout[-3000:]  # diffy_collect_fail_on: the run is not clean
    run_dir = the_run(tmp_path)
    got = statuses(run_dir)
    assert got.pop(_instance(lab, stuck)) == "failed"
    assert set(got.values()) == {"ok"} and len(got) == 2
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert "timed out" in manifest["hosts"][_instance(lab, stuck)]["error"].lower()
    assert verify_run(run_dir).ok
    assert leftovers(lab, stuck) == [], "the stopped collector's temp dir stayed on the host"
    assert elapsed < 120, elapsed


def test_a_stopped_collector_under_diffy_collect_timeout_keeps_the_others(lab, tmp_path):
    """Old: killed at --timeout, no manifest, hosts/ empty.  New: the deadline ends the stuck host."""
    stuck = lab.hosts_of("app_x")[1].name
    stopper = StopCollector(lab, stuck)
    stopper.start()
    argv = [str(BIN / "diffy"), "collect", "-l", "app_x", "-i", str(lab.inventory), "--collector", "native",
            "--results-root", str(tmp_path), "--timeout", "45", "--json", "--no-progress",
            "-e", "diffy_collect_step_timeout=10"]  # fmt: skip
    proc = lab.run_controller(argv, timeout=120, cwd=REPO, capture_output=True, text=True)
    stopper.join(5)
    assert stopper.pid
    assert proc.returncode == 2, proc.stderr[-2000:]
    outcome = json.loads(proc.stdout)
    got = {h["host"]: h["status"] for h in outcome["hosts"]}
    assert got.pop(_instance(lab, stuck)) == "failed"
    assert set(got.values()) == {"ok"} and len(got) == 2
    run_dir = Path(outcome["run_dir"])
    assert verify_run(run_dir).ok
    assert len(list((run_dir / "hosts").iterdir())) == 2
    assert leftovers(lab, stuck) == []


def test_a_hanging_login_shell_costs_only_its_host(lab, tmp_path):
    """Old: the whole collection blocks (no task timeout).  New: that host fails, the others are ok."""
    slow = lab.hosts_of("app_x")[2].name
    bashrc = lab.host_dir(slow) / "root" / ".bashrc"
    before = bashrc.read_bytes() if bashrc.exists() else None
    bashrc.write_text("sleep 600\n")  # bash sources it for sshd commands (Debian's SSH_SOURCE_BASHRC)
    try:
        started = time.monotonic()
        proc = playbook(lab, tmp_path, timeout=200)
        elapsed = time.monotonic() - started
    finally:
        if before is None:
            bashrc.unlink()
        else:
            bashrc.write_bytes(before)
    assert proc.returncode == 2, proc.stdout[-3000:]
    got = statuses(the_run(tmp_path))
    assert got.pop(_instance(lab, slow)) == "failed"
    assert set(got.values()) == {"ok"}
    assert elapsed < 150, elapsed


def test_serial_one_gives_one_consistent_run(lab, tmp_path):
    """Old: 3 run dirs, the first manifest lists 3 hosts ok but holds files of 1.  New: one run."""
    play = tmp_path / "serial.yml"
    play.write_text(
        "- hosts: app_x\n  serial: 1\n  gather_facts: false\n  ignore_unreachable: true\n"
        "  roles: [{role: diffy_collect}]\n"
        "- hosts: app_x\n  gather_facts: false\n  tasks:\n"
        "    - {ansible.builtin.include_role: {name: diffy_collect, tasks_from: manifest}}\n"
    )
    results = tmp_path / "results"
    env_cfg = {"ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_ROLES_PATH": str(REPO / "roles")}
    argv = ["ansible-playbook", str(play), "-i", str(lab.inventory), "-l", "app_x",
            "-e", json.dumps({"diffy_results_root": str(results), **FAST})]  # fmt: skip
    proc = lab.run_controller(argv, timeout=240, cwd=REPO, capture_output=True, text=True,
                              env={**os.environ, **env_cfg})  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:]
    run_dir = the_run(results)  # exactly one run directory
    assert set(statuses(run_dir).values()) == {"ok"} and len(statuses(run_dir)) == 3
    assert len(list((run_dir / "hosts").iterdir())) == 3
    assert verify_run(run_dir).ok


def test_a_host_with_sshd_killed_makes_the_analysis_exit_2(lab, tmp_path):
    """Old: host skipped with an honest line, exit 0.  New: exit 2 from the playbook and the analysis."""
    down = lab.hosts_of("app_x")[0].name
    lab.stop_host(down)
    try:
        proc = playbook(lab, tmp_path)
    finally:
        lab.start_host(down)
    assert proc.returncode == 2, proc.stdout[-3000:]
    run_dir = the_run(tmp_path)
    assert statuses(run_dir)[_instance(lab, down)] == "unreachable"
    out = tmp_path / "analysis.json"
    analysis = subprocess.run(
        [str(BIN / "diffy-analyze"), str(run_dir), "--format", "json", "-o", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert analysis.returncode == 2, analysis.stderr
    doc = json.loads(out.read_text())
    assert [s["status"] for s in doc["skipped"]] == ["unreachable"]
    assert len(doc["hosts"]) == 2  # the others are still analysed and reported


def test_string_booleans_from_the_command_line_work(lab, tmp_path):
    """Old: -e diffy_collect_gather_facts=false failed every host.  New: as typed."""
    proc = playbook(
        lab, tmp_path, "-e", "diffy_collect_gather_facts=false", "-e", "diffy_collect_overwrite=false"
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert set(statuses(the_run(tmp_path)).values()) == {"ok"}
