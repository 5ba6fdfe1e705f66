"""Faults on REAL lab hosts (namespaced machines over SSH): a stuck host costs only itself, every
run ends with a manifest that tells each host's real status, and exit codes never say "nothing
found" while hosts are missing.  Rows of issue 19's fault table (short timeouts).

Speed: one fleet for the module, and faults that can share a playbook run live on different hosts
of ONE run, each host's status and files asserted on its own: a stopped collector + a hanging login
shell; sshd killed + an SSH session dropped once; serial: 1 + string booleans.

Marker ``lab``: run under `flock /tmp/diffy-lab.lock`.  Stand-ins: moto plays EC2, the native
collector plays osquery.  The faults themselves are real: a SIGSTOPped collector process, a root
login shell that hangs (~/.bashrc), sshd killed (the host stopped), the host's per-connection sshd
processes killed once mid-collection (the SSH session drops, the host stays up), a serial: 1 play.
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

from diffy_analysis.errors import LabError
from diffy_analysis.verify import verify_run
from diffy_lab import Lab, LabConfig, hosts
from diffy_lab.testing import running_lab, unique_name

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
    """ansible-playbook run from the repository root: it reads the repo's ansible.cfg (retries)."""
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


class DropConnection(threading.Thread):
    """Drop one host's SSH session ONCE in the middle of its diffy_run_pack task, the host staying
    up.  Deterministic: as soon as the collector's owner file appears, the collector is SIGSTOPped
    (so the task is certainly still waiting for it), then every per-connection sshd process inside
    the host is SIGKILLed (its PID 1, the listening sshd, stays).  The TCP connection dies, Ansible's
    ssh client and its ControlMaster exit 255; the first attempt's collector stays stopped until the
    retry's clean-up kills it (bounded)."""

    def __init__(self, lab: Lab, name: str) -> None:
        super().__init__(daemon=True)
        self.lab, self.name, self.killed, self.stopped = lab, name, [], None
        # an earlier test's left-over (a failed test does not clean up) is not this run's collector
        self.old = set(self._owners())

    def _owners(self) -> list[Path]:
        return list((self.lab.host_dir(self.name) / "tmp").glob("diffy-run-*/.diffy-owner"))

    def run(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for owner in set(self._owners()) - self.old:
                try:
                    pid = int(json.loads(owner.read_text())["pid"])
                except (OSError, ValueError, KeyError):
                    continue
                try:
                    hosts.nsenter(self.lab.host(self.name), ["kill", "-STOP", str(pid)])
                except LabError:
                    return  # the collector had finished already: no mid-task drop (the test says so)
                self.stopped = pid
                self.killed = kill_ssh_sessions(self.lab, self.name)
                return
            time.sleep(0.02)


def kill_ssh_sessions(lab: Lab, name: str) -> list[str]:
    """SIGKILL the per-connection sshd processes of one host (not its listening sshd, PID 1)."""
    host = lab.host(name)
    listing = hosts.nsenter(host, ["ps", "-e", "-o", "pid=,comm="])
    rows = [line.split(None, 1) for line in listing.splitlines() if line.strip()]
    pids = [pid for pid, comm in rows if comm.strip() == "sshd" and pid != "1"]
    if pids:
        hosts.nsenter(host, ["kill", "-KILL", *pids])
    return pids


def _instance(lab: Lab, name: str) -> str:
    return lab.host(name).instance_id


def test_a_stopped_collector_and_a_hanging_login_shell_cost_only_their_hosts(lab, tmp_path):
    """Two rows, one run, one host each.  Stopped collector, old: ansible-playbook never finishes;
    new: the host fails after diffy_collect_pack_timeout, alone.  Hanging login shell, old: the whole
    collection blocks (no task timeout); new: that host fails, the others are ok."""
    stuck, slow, clean = (h.name for h in lab.hosts_of("app_x"))
    bashrc = lab.host_dir(slow) / "root" / ".bashrc"
    before = bashrc.read_bytes() if bashrc.exists() else None
    bashrc.write_text("sleep 600\n")  # bash sources it for sshd commands (Debian's SSH_SOURCE_BASHRC)
    stopper = StopCollector(lab, stuck)
    stopper.start()
    try:
        started = time.monotonic()
        proc = playbook(lab, tmp_path, diffy_collect_pack_timeout=15, timeout=200)
        elapsed = time.monotonic() - started
    finally:
        if before is None:
            bashrc.unlink()
        else:
            bashrc.write_bytes(before)
        kill_ssh_sessions(lab, slow)  # the sessions still sleeping in .bashrc: the next test's host is clean
    stopper.join(5)
    assert stopper.pid, "the collector was never seen (nothing was stopped)"
    assert proc.returncode == 2, proc.stdout[-3000:]  # diffy_collect_fail_on: the run is not clean
    run_dir = the_run(tmp_path)
    assert statuses(run_dir) == {_instance(lab, stuck): "failed", _instance(lab, slow): "failed",
                                 _instance(lab, clean): "ok"}  # fmt: skip
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert "timed out" in manifest["hosts"][_instance(lab, stuck)]["error"].lower()
    assert [p.name for p in (run_dir / "hosts").iterdir()] == [_instance(lab, clean)]
    assert verify_run(run_dir).ok
    assert leftovers(lab, stuck) == [], "the stopped collector's temp dir stayed on the host"
    assert leftovers(lab, clean) == []
    assert elapsed < 120, elapsed


def test_a_stopped_collector_under_diffy_collect_timeout_keeps_the_others(lab, tmp_path):
    """Old: killed at --timeout, no manifest, hosts/ empty.  New: the deadline ends the stuck host.
    60 s, not 45: the two other hosts must finish before it while the other half of the suite runs
    alongside (scripts/test.sh); at 45 s they did not, twice, on a loaded 2-core machine."""
    stuck = lab.hosts_of("app_x")[1].name
    stopper = StopCollector(lab, stuck)
    stopper.start()
    argv = [str(BIN / "diffy"), "collect", "-l", "app_x", "-i", str(lab.inventory), "--collector", "native",
            "--results-root", str(tmp_path), "--timeout", "60", "--json", "--no-progress",
            "-e", "diffy_collect_step_timeout=10"]  # fmt: skip
    proc = lab.run_controller(argv, timeout=120, cwd=REPO, capture_output=True, text=True)
    stopper.join(5)
    assert stopper.pid
    assert proc.returncode == 2, proc.stderr[-2000:]
    outcome = json.loads(proc.stdout)
    got = {h["host"]: h["status"] for h in outcome["hosts"]}
    assert got.pop(_instance(lab, stuck)) == "failed"
    assert set(got.values()) == {"ok"} and len(got) == 2, outcome["hosts"]
    run_dir = Path(outcome["run_dir"])
    assert verify_run(run_dir).ok
    assert len(list((run_dir / "hosts").iterdir())) == 2
    assert leftovers(lab, stuck) == []


def test_serial_one_gives_one_consistent_run_and_string_booleans_work(lab, tmp_path):
    """serial: 1, old: 3 run dirs, the first manifest lists 3 hosts ok but holds files of 1; new: one
    run.  The same run passes booleans as typed on a command line (old: -e
    diffy_collect_gather_facts=false failed every host, -e diffy_collect_overwrite=true was ignored)."""
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
            "-e", json.dumps({"diffy_results_root": str(results), **FAST}),
            "-e", "diffy_collect_gather_facts=false", "-e", "diffy_collect_overwrite=false"]  # fmt: skip
    proc = lab.run_controller(argv, timeout=240, cwd=REPO, capture_output=True, text=True,
                              env={**os.environ, **env_cfg})  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:]
    run_dir = the_run(results)  # exactly one run directory
    assert set(statuses(run_dir).values()) == {"ok"} and len(statuses(run_dir)) == 3
    assert len(list((run_dir / "hosts").iterdir())) == 3
    assert verify_run(run_dir).ok
    host_json = json.loads(next((run_dir / "hosts").glob("*/host.json")).read_text())
    assert host_json["os"]["kernel"] == "", "gather_facts=false (a string) did not skip the facts"


def test_sshd_killed_exits_2_and_a_session_dropped_once_is_retried(lab, tmp_path):
    """Two rows, one run, one host each.  sshd killed, old: host skipped with an honest line, exit 0;
    new: exit 2 from the playbook and the analysis.  SSH session dropped once while the host stays
    up, old: recorded unreachable, no retry, the bundle left in the host's /tmp; new: the connection
    retry of ansible.cfg ([ssh_connection] retries = 1) runs the pack again, the host ends ok with
    all its files and nothing left behind.  The third host is unaffected."""
    down, dropped, clean = (h.name for h in lab.hosts_of("app_x"))
    dropper = DropConnection(lab, dropped)
    lab.stop_host(down)
    try:
        dropper.start()
        proc = playbook(lab, tmp_path, "-vv")  # -vv prints Ansible's ssh_retry lines
    finally:
        lab.start_host(down)
    dropper.join(5)
    (tmp_path / "playbook.log").write_text(proc.stdout)  # the whole -vv log, for a failure's reader
    assert dropper.stopped and dropper.killed, "no connection was dropped while the collector ran"
    assert proc.returncode == 2, proc.stdout[-3000:]
    retried = [line for line in proc.stdout.splitlines() if "ssh_retry: attempt: 1" in line]
    about = [line for line in proc.stdout.splitlines() if lab.host(dropped).address in line]
    assert any(lab.host(dropped).address in line for line in retried), "\n".join(about)[-5000:]
    assert not any(lab.host(clean).address in line for line in retried)
    run_dir = the_run(tmp_path)
    assert statuses(run_dir) == {_instance(lab, down): "unreachable", _instance(lab, dropped): "ok",
                                 _instance(lab, clean): "ok"}  # fmt: skip
    manifest = json.loads((run_dir / "manifest.json").read_text())
    listed, on_disk = {}, {}
    for name in (dropped, clean):
        prefix = f"hosts/{_instance(lab, name)}/"
        listed[name] = {k[len(prefix) :] for k in manifest["files"] if k.startswith(prefix)}
        on_disk[name] = {p.name for p in (run_dir / "hosts" / _instance(lab, name)).iterdir()}
        assert leftovers(lab, name) == [], f"temp dirs or a bundle stayed on {name}"
    # all its files: the same result files as the undisturbed host, each listed and hashed
    assert listed[dropped] == on_disk[dropped] == listed[clean] == on_disk[clean]
    assert "host.json" in listed[dropped] and len(listed[dropped]) > 5, listed[dropped]
    assert verify_run(run_dir).ok
    verify = subprocess.run([str(BIN / "diffy"), "verify", str(run_dir)], capture_output=True, text=True,
                            timeout=120, check=False)  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    out = tmp_path / "analysis.json"
    analysis = subprocess.run(
        [str(BIN / "diffy-analyze"), str(run_dir), "--format", "json", "-o", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert analysis.returncode == 2, analysis.stderr
    doc = json.loads(out.read_text())
    assert [s["status"] for s in doc["skipped"]] == ["unreachable"]
    assert len(doc["hosts"]) == 2  # the others are still analysed and reported
