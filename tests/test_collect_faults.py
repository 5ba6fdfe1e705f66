"""Run-level faults of the collect role, for real (ansible-playbook over local connections on this
machine): two playbooks writing one run id, several playbook runs sharing one run id, Ctrl-C in the
middle of a run (then finalize.yml and the next run's clean-up), a swapped pack.json and an "ok"
host without its files (diffy verify, on a copy of the shared run: no playbook run of its own).

Speed: the first writer holds its run open on an event (a gate file the test creates once the
second writer was refused), not on a query that runs until its timeout."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from diffy_analysis.verify import verify_run
from tests.collection_helpers import REPO, VENV_BIN, ansible_env, run_playbook

pytestmark = pytest.mark.slow
COLLECT = REPO / "playbooks" / "collect.yml"
RUN_ID = "20261201T120000Z-fault1"
FAST_PACK = {"queries": {"os_version": {"query": "SELECT name, version FROM os_version;"}}}
# ~forever in SQLite; the query's timeout ends it (the slow host of a run)
SLOW_PACK = {
    "queries": {
        "os_version": {"query": "SELECT name, version FROM os_version;"},
        "zz_slow": {
            "query": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
            "SELECT count(*) FROM c;",
            "timeout": 25,
        },
    }
}


# STAND-IN for osqueryi: answers --version; a query waits (bounded, 60 s) for the gate file, then
# answers `[]`, except the bad query, which fails like osqueryi on an unknown table (exit 1).
GATED_OSQUERYI = """#!/bin/sh
case "$*" in
  *--version*) echo "osqueryi version 0 (stand-in)";;
  *no_such_table*) echo "[]"; echo "Error: no such table: no_such_table" >&2; exit 1;;
  *) i=0; while [ ! -e '{gate}' ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done; echo "[]";;
esac
"""
GATED_PACK = {
    "queries": {
        "os_version": {"query": "SELECT name, version FROM os_version;"},
        "zz_bad": {"query": "SELECT * FROM no_such_table;"},
    }
}


def _inventory(tmp_path: Path, hosts: dict[str, dict]) -> Path:
    local = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    doc = {"all": {"vars": {**local, "diffy_collect_collector": "native"}, "hosts": hosts}}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _pack(tmp_path: Path, doc: dict, name: str) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(doc))
    return path


def _start(inventory: Path, extra: dict, limit: str | None = None) -> subprocess.Popen:
    cmd = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(COLLECT), "-e", json.dumps(extra)]
    if limit:
        cmd += ["-l", limit]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=ansible_env(), cwd=REPO, start_new_session=True)  # fmt: skip


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _status(run_dir: Path, host_id: str) -> str | None:
    try:
        return json.loads((run_dir / ".status" / f"{host_id}.json").read_text()).get("status")
    except (OSError, ValueError):
        return None


def test_a_second_writer_of_one_run_id_is_refused(tmp_path):
    """Old: the second silently overwrote the first.  New: refused while the first holds .lock."""
    gate = tmp_path / "gate"
    gated = tmp_path / "gated-osqueryi"
    gated.write_text(GATED_OSQUERYI.format(gate=gate))
    gated.chmod(0o755)
    inventory = _inventory(tmp_path, {"slow-1": {
        "diffy_collect_collector": "osquery", "diffy_collect_osquery_setup": False,
        "osquery_osqueryi_path": str(gated), "diffy_collect_query_timeout": 90}})  # fmt: skip
    results = tmp_path / "results"
    extra = {"diffy_results_root": str(results), "diffy_run_id": RUN_ID,
             "diffy_collect_pack": str(_pack(tmp_path, GATED_PACK, "gated"))}  # fmt: skip
    first = _start(inventory, extra)
    try:
        assert _wait_for((results / RUN_ID / ".lock").exists, 60), "the first run never took its lock"
        second = run_playbook(COLLECT, inventory=inventory, extra_vars=extra, timeout=120)
        assert first.poll() is None, "the first run ended before the second writer was checked"
        assert second.rc != 0
        assert "being written by another playbook" in second.stdout, second.stdout[-2000:]
    finally:
        gate.touch()  # let the first run finish
        out, _ = first.communicate(timeout=120)
    assert first.returncode == 0, out[-3000:]  # partial (the bad query failed) is not a failure
    manifest = json.loads((results / RUN_ID / "manifest.json").read_text())
    assert set(manifest["hosts"]) == {"slow-1"} and not (results / RUN_ID / ".lock").exists()
    assert manifest["hosts"]["slow-1"]["status"] == "partial"
    assert verify_run(results / RUN_ID).ok


def test_playbook_runs_sharing_one_run_id_append_into_one_consistent_run_that_verify_checks(tmp_path):
    inventory = _inventory(tmp_path, {"region-a": {}, "region-b": {}})
    results = tmp_path / "results"
    extra = {"diffy_results_root": str(results), "diffy_run_id": RUN_ID,
             "diffy_collect_pack": str(_pack(tmp_path, FAST_PACK, "fast"))}  # fmt: skip
    first = run_playbook(COLLECT, inventory=inventory, extra_vars=extra, limit="region-a")
    assert first.rc == 0, first.stdout[-3000:]
    refused = run_playbook(COLLECT, inventory=inventory, extra_vars=extra, limit="region-b")
    assert refused.rc != 0 and "already holds a finished run" in refused.stdout
    second = run_playbook(COLLECT, inventory=inventory, extra_vars={**extra, "diffy_collect_append": "true"},
                          limit="region-b")  # fmt: skip
    assert second.rc == 0, second.stdout[-3000:]
    manifest = json.loads((results / RUN_ID / "manifest.json").read_text())
    assert {h: e["status"] for h, e in manifest["hosts"].items()} == {"region-a": "ok", "region-b": "ok"}
    assert {p.name for p in (results / RUN_ID / "hosts").iterdir()} == {"region-a", "region-b"}
    assert verify_run(results / RUN_ID).ok
    _verify_checks_the_pack_hash_and_that_ok_hosts_have_their_files(results / RUN_ID, tmp_path / "copy")
    other = {
        **extra,
        "diffy_collect_append": "true",
        "diffy_collect_pack": str(_pack(tmp_path, SLOW_PACK, "x")),
    }
    mixed = run_playbook(COLLECT, inventory=inventory, extra_vars=other, limit="region-b")
    assert mixed.rc != 0 and "collected with another pack" in mixed.stdout


def test_ctrl_c_keeps_the_finished_hosts_and_the_next_run_cleans_up(tmp_path):
    """Old: no manifest, temp dirs left on hosts and not cleaned by the next run."""
    host_tmp = tmp_path / "host-tmp"
    host_tmp.mkdir()
    slow = tmp_path / "slow-osqueryi"  # STAND-IN for osqueryi: answers --version, sleeps on queries
    slow.write_text(
        '#!/bin/sh\ncase "$*" in *--version*) echo "osqueryi version 0 (stand-in)";; *) sleep 60;; esac\n'
    )
    slow.chmod(0o755)
    inventory = _inventory(tmp_path, {"fast-1": {}, "slow-1": {
        "diffy_collect_collector": "osquery", "diffy_collect_osquery_setup": False,
        "osquery_osqueryi_path": str(slow), "diffy_collect_query_timeout": 25}})  # fmt: skip
    results = tmp_path / "results"
    extra = {"diffy_results_root": str(results), "diffy_run_id": RUN_ID,
             "diffy_collect_pack": str(_pack(tmp_path, FAST_PACK, "fast")),
             "diffy_collect_remote_tmp_parent": str(host_tmp)}  # fmt: skip
    run_dir = results / RUN_ID
    proc = _start(inventory, extra)
    try:
        # fast-1 has its results on the controller while slow-1 still runs its slow query
        assert _wait_for(lambda: _status(run_dir, "fast-1") == "ok", 90)
        assert _wait_for(lambda: any(host_tmp.glob(f"diffy-run-{RUN_ID}-slow-1-*")), 30)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C goes to the terminal's whole process group
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            # ansible-core 2.19 race (seen in CI, reproduced under load with a stack dump): a worker
            # killed by the first Ctrl-C while it held the results queue's lock leaves the main
            # process blocked in the strategy's cleanup (queue put).  The first Ctrl-C reset SIGINT
            # to its default, so a second one ends it, as it would for a user (docs/collection.md).
            os.killpg(proc.pid, signal.SIGINT)
            proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert not (run_dir / "manifest.json").exists()
    finalize = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), str(REPO / "playbooks" / "finalize.yml"), "-i", "localhost,",
         "-e", json.dumps({"diffy_run_dir": str(run_dir)})],
        capture_output=True, text=True, timeout=120, env=ansible_env(), cwd=REPO, check=False,
    )  # fmt: skip
    assert finalize.returncode == 0, finalize.stdout[-3000:]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["hosts"]["fast-1"]["status"] == "ok"
    assert manifest["hosts"]["slow-1"]["status"] == "failed"
    assert "before this host finished" in manifest["hosts"]["slow-1"]["error"]
    assert verify_run(run_dir).ok
    left = list(host_tmp.glob("diffy-run-*"))
    if left:  # the interrupted collector's dir: the next run (another run id) removes it
        nxt = run_playbook(COLLECT, inventory=inventory, limit="fast-1", extra_vars={
            "diffy_results_root": str(results), "diffy_collect_remote_tmp_parent": str(host_tmp),
            "diffy_collect_leftover_age_s": 0})  # fmt: skip
        assert nxt.rc == 0, nxt.stdout[-3000:]
        assert list(host_tmp.glob("diffy-run-*")) == []


def _verify_checks_the_pack_hash_and_that_ok_hosts_have_their_files(finished: Path, run_dir: Path) -> None:
    """Old: `diffy verify` OK with a swapped pack.json / an ok host without its files.  On a copy of
    a finished run (was its own test with its own playbook run: the same check, one run less)."""
    shutil.copytree(finished, run_dir)
    assert verify_run(run_dir).ok
    (run_dir / "pack.json").write_text(json.dumps(SLOW_PACK))  # swapped after collection
    problems = {(p.path, p.problem) for p in verify_run(run_dir).problems}
    assert ("pack.json", "changed") in problems
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["files"] = {k: v for k, v in manifest["files"].items() if k != "hosts/region-a/host.json"}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    (run_dir / "hosts" / "region-a" / "host.json").unlink()
    problems = {(p.path, p.problem) for p in verify_run(run_dir).problems}
    assert ("hosts/region-a/host.json", "host-files-missing") in problems
