"""diffy_run_pack under hostile conditions, for real on this machine: an osqueryi whose child
escapes with setsid() and holds the output pipes, a SIGSTOPped collector, a hung FUSE mount
(a real one: tests/standin/fuse_hang.py mounts /dev/fuse and never answers, inside a private
mount namespace), and the temp-dir clean-up on every path."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from collection_helpers import MODULE_UTILS, MODULES, REPO

sys.path.insert(0, str(MODULE_UTILS))
import diffy_bounded_engine  # noqa: F401 - the hung-mount child reaches it as test_run_pack.diffy_bounded_engine
import diffy_proc
import diffy_tmpdirs

# The module imports its helpers as Ansible module_utils; outside Ansible, hand it the same modules
# (every module_utils file, so a helper added there needs no edit here).
for _path in sorted(MODULE_UTILS.glob("*.py")):
    sys.modules.setdefault(f"ansible.module_utils.{_path.stem}", importlib.import_module(_path.stem))
_spec = importlib.util.spec_from_file_location("diffy_run_pack", MODULES / "diffy_run_pack.py")
run_pack = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_pack)

HOSTILE = REPO / "tests" / "standin" / "osqueryi_hostile.py"
FUSE_HANG = REPO / "tests" / "standin" / "fuse_hang.py"
FLAGS = ["--json"]


def _alive(pid: int) -> bool:
    """Alive after a grace of 2 s (SIGKILL is delivered asynchronously)."""
    for _ in range(40):
        if not diffy_proc.alive(pid):
            return False
        time.sleep(0.05)
    return True


def _escaped_pid(pidfile: Path) -> int:
    for _ in range(100):
        if pidfile.exists() and pidfile.read_text().strip():
            return int(pidfile.read_text())
        time.sleep(0.05)
    raise AssertionError("the hostile stand-in never recorded its child")


@pytest.mark.parametrize("mode", ["exit", "hang"])
def test_a_child_escaping_with_setsid_is_killed_and_never_blocks_the_query(tmp_path, monkeypatch, mode):
    """Old code: communicate() after killpg waited for the escaped child holding stderr (60 s)."""
    monkeypatch.setenv("DIFFY_HOSTILE_MODE", mode)
    monkeypatch.setenv("DIFFY_HOSTILE_PIDFILE", str(tmp_path / "child.pid"))
    out = tmp_path / "q.json"
    started = time.monotonic()
    status, rows, error = run_pack.run_osquery(
        str(HOSTILE), FLAGS, "SELECT 1;", str(out), 2, home=str(tmp_path)
    )
    elapsed = time.monotonic() - started
    child = _escaped_pid(tmp_path / "child.pid")
    assert elapsed < 5, elapsed
    if mode == "exit":
        assert (status, rows, error) == ("ok", 0, None)
    else:
        assert status == "timeout" and "process tree was killed" in error
    assert not _alive(child), "the escaped child outlived its query"
    assert not (tmp_path / "q.json.stderr").exists()


def test_osqueryi_version_is_bounded_too(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFY_HOSTILE_MODE", "hang")
    monkeypatch.setenv("DIFFY_HOSTILE_PIDFILE", str(tmp_path / "child.pid"))
    started = time.monotonic()
    version, problem = run_pack.osqueryi_version(str(HOSTILE), str(tmp_path), timeout=1)
    assert time.monotonic() - started < 4
    assert version is None and "did not answer" in problem
    assert not _alive(_escaped_pid(tmp_path / "child.pid"))


def test_cleanup_kills_a_stopped_collector_and_removes_its_dir(tmp_path):
    """The role's always-cleanup after a task timeout: the collector is SIGSTOPped, not dead."""
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(MODULE_UTILS)!r})
        import diffy_tmpdirs
        print(diffy_tmpdirs.make_private_dir({str(tmp_path)!r}, "20261201T000000Z-abcdef", "h1"), flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        path = Path(proc.stdout.readline().strip())
        assert path.is_dir() and path.name.startswith("diffy-run-20261201T000000Z-abcdef-h1-")
        other = Path(diffy_tmpdirs.make_private_dir(str(tmp_path), "20261130T000000Z-zzzzzz"))  # alive: us
        twin = Path(diffy_tmpdirs.make_private_dir(str(tmp_path), "20261201T000000Z-abcdef", "h2"))
        os.kill(proc.pid, signal.SIGSTOP)
        done = diffy_tmpdirs.clean_leftovers(str(tmp_path), "20261201T000000Z-abcdef", "h1")
        assert done["removed"] == [str(path)] and proc.pid in done["killed"]
        assert proc.wait(timeout=5) == -signal.SIGKILL
        assert not path.exists()
        assert other.exists(), "a dir whose collector still runs (another run) must be left alone"
        assert twin.exists(), "another host id of the same run (same machine) must be left alone"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_leftovers_of_an_earlier_run_whose_collector_is_gone_are_removed(tmp_path):
    script = f"import sys; sys.path.insert(0, {str(MODULE_UTILS)!r}); import diffy_tmpdirs; "
    script += f"print(diffy_tmpdirs.make_private_dir({str(tmp_path)!r}, '20261101T000000Z-oldrun'))"
    old = Path(
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    (old / "host.json").write_text("{}")
    fresh = Path(subprocess.run([sys.executable, "-c", script.replace("oldrun", "newish")],
                                capture_output=True, text=True, check=True).stdout.strip())  # fmt: skip
    past = time.time() - diffy_tmpdirs.STALE_AFTER_S - 60
    os.utime(old / diffy_tmpdirs.OWNER, (past, past))
    decoy = tmp_path / "diffy-run-not-a-dir"
    decoy.symlink_to("/etc")
    done = diffy_tmpdirs.clean_leftovers(str(tmp_path), "20261201T000000Z-newrun")
    assert done["removed"] == [str(old)] and not old.exists()
    assert decoy.is_symlink(), "a symlink is never followed nor removed"
    assert fresh.exists(), "a recent dir may still wait for its fetch: not a left-over yet"


def test_privileged_tables_are_a_gap_when_unprivileged(tmp_path, monkeypatch):
    monkeypatch.setattr(run_pack.os, "geteuid", lambda: 1000)
    pack = {
        "queries": {
            "sudoers": {"query": "SELECT * FROM sudoers;"},
            "etc": {"query": "SELECT * FROM etc_hosts;"},
        }
    }
    results, files = run_pack.run_pack(
        {"out_dir": str(tmp_path), "collector": "native", "default_timeout": 10}, pack
    )
    assert results["sudoers"]["status"] == "error" and "needs root" in results["sudoers"]["error"]
    assert results["etc"]["status"] == "ok" and files == ["etc.json"]


HUNG_MOUNT_CHECK = """
import json, os, subprocess, sys, time
sys.path.insert(0, {utils!r})
mnt = {mnt!r}
daemon = subprocess.Popen([sys.executable, {fuse!r}, mnt], stdout=subprocess.PIPE, text=True,
                          env=dict(os.environ, DIFFY_FUSE_HANG_S="30"))
assert daemon.stdout.readline().strip() == "mounted"
sys.path.insert(0, {here!r})
import test_run_pack as t
engine = t.diffy_bounded_engine.BoundedEngine()
out = {{}}
started = time.monotonic()
out["mounts"] = t.run_pack.run_native(engine, "SELECT path, type, blocks FROM mounts;", {outfile!r}, 10)
out["mounts_s"] = time.monotonic() - started
rows = json.load(open({outfile!r}))
out["hung_row"] = [r for r in rows if r["path"] == mnt]
started = time.monotonic()
out["file"] = t.run_pack.run_native(engine, "SELECT * FROM file WHERE path = '%s/x';" % mnt, {outfile!r}, 1)
out["file_s"] = time.monotonic() - started
out["after"] = t.run_pack.run_native(engine, "SELECT * FROM etc_hosts;", {outfile!r}, 10)[0]
daemon.kill()
print(json.dumps(out), flush=True)
os._exit(0)
"""


def test_a_hung_fuse_mount_never_blocks_the_native_collector(tmp_path):
    """A REAL hung FUSE mount, in a private mount namespace: statvfs on it blocks in the kernel."""
    if os.geteuid() != 0 or not Path("/dev/fuse").exists():
        pytest.skip("needs root and /dev/fuse to mount a hung FUSE filesystem")
    code = HUNG_MOUNT_CHECK.format(
        utils=str(MODULE_UTILS), mnt=str(tmp_path / "s3"), fuse=str(FUSE_HANG),
        here=str(Path(__file__).parent), outfile=str(tmp_path / "out.json"),
    )  # fmt: skip
    proc = subprocess.run(
        ["unshare", "-m", "--propagation", "private", sys.executable, "-c", code],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["mounts"][0] == "ok" and out["mounts_s"] < 8, out
    # the hung mount keeps osquery's own values for a mount without statfs data, "0" (mounts.cpp:49-56)
    assert out["hung_row"] == [{"path": str(tmp_path / "s3"), "type": "fuse.diffyhang", "blocks": "0"}]
    assert out["file"][0] == "timeout" and out["file_s"] < 5, out
    assert out["after"] == "ok", "the queries after a stuck one still run (fresh worker)"


def test_kill_tree_never_walks_from_init_nor_kills_its_caller():
    """PID 0/1 as a 'leader' would name every process of the machine: nothing may be killed."""
    assert diffy_proc.kill_tree(0) == set()
    assert diffy_proc.kill_tree(1) == set()
    assert os.getpid() not in diffy_proc.kill_tree(0, known=[os.getpid(), os.getppid(), 1])
