"""Reading hosts in worker processes (LoadOptions.jobs, diffy-analyze --jobs) changes nothing.

The workers read, hash, check, decode and mask; this process parses and interns in host order. The
analysis JSON must be byte-identical to the serial one, skip reasons included (in the same order),
and the workers must really be other processes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading

import pytest

from diffy_analysis.analyze.pipeline import analyze
from diffy_analysis.load import LoadOptions, open_results
from diffy_analysis.load import directory as load_directory
from diffy_analysis.load.directory import reader_jobs
from diffy_analysis.load.model import AUTO_JOBS_MIN_HOSTS
from diffy_analysis.report.json import render
from diffy_fleetgen import FleetOptions, generate_fleet

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="worker processes are forked (POSIX only)")


@pytest.fixture(scope="module")
def damaged_run(tmp_path_factory):
    """A 40-host fleet (one unreachable) with hosts that must be skipped, each for its own reason."""
    fleet = generate_fleet(
        tmp_path_factory.mktemp("fleet"), FleetOptions(hosts=40, seed=2003, unreachable=1), workers=1
    )
    hosts = sorted(p for p in (fleet.run_dir / "hosts").iterdir() if (p / "host.json").exists())
    tampered = hosts[3] / "users.json"  # changed after collection: sha256 differs from the manifest
    tampered.write_bytes(tampered.read_bytes().replace(b"root", b"r00t", 1))
    (hosts[7] / "host.json").write_text("{not json", encoding="utf-8")
    broken = hosts[11] / "processes.json"  # a file the manifest lists with these very bytes: the
    broken.write_bytes(b"[{")  # parse decides (truncated), after the files before it were parsed
    manifest = json.loads((fleet.run_dir / "manifest.json").read_text(encoding="utf-8"))
    key = f"hosts/{hosts[11].name}/processes.json"
    manifest["files"][key] = {"sha256": hashlib.sha256(b"[{").hexdigest(), "bytes": 2}
    record = json.loads((hosts[11] / "host.json").read_text(encoding="utf-8"))
    record["queries"]["processes"].pop("sha256", None)
    (hosts[11] / "host.json").write_text(json.dumps(record), encoding="utf-8")
    manifest["files"][f"hosts/{hosts[11].name}/host.json"] = {
        "sha256": hashlib.sha256((hosts[11] / "host.json").read_bytes()).hexdigest(),
        "bytes": (hosts[11] / "host.json").stat().st_size,
    }
    (fleet.run_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return fleet


def _json(run_dir, jobs: int, **kwargs) -> str:
    analysis = analyze([run_dir], load_options=LoadOptions(jobs=jobs), **kwargs)
    out = io.StringIO()
    render(analysis, out)
    return out.getvalue()


def test_serial_and_parallel_give_the_same_analysis(damaged_run):
    serial = _json(damaged_run.run_dir, 1)
    skipped = json.loads(serial)["skipped"]
    reasons = " | ".join(s["reason"] for s in skipped)
    assert len(skipped) == 4, reasons  # the unreachable host and the three damaged ones
    assert "differs from the manifest" in reasons and "host.json" in reasons and "truncated" in reasons
    for jobs in (2, 3):
        assert _json(damaged_run.run_dir, jobs) == serial
    assert _json(damaged_run.run_dir, 2, baseline=damaged_run.baseline_dir) == _json(
        damaged_run.run_dir, 1, baseline=damaged_run.baseline_dir
    )


def test_the_workers_are_other_processes(damaged_run, monkeypatch):
    read_files = load_directory._read_files

    def marked(*args, **kwargs):
        read = read_files(*args, **kwargs)
        read.notes.append(f"read by {os.getpid()}")
        return read

    monkeypatch.setattr(load_directory, "_read_files", marked)  # inherited by the forked workers
    assert load_directory.fork_is_safe(), f"a thread left running: {threading.enumerate()}"
    readers = set()
    for jobs, expected_here in ((1, True), (2, False)):
        results = open_results([damaged_run.run_dir], LoadOptions(jobs=jobs))
        notes = [n for host in results.iter_hosts() for n in host.notes if n.startswith("read by")]
        pids = {int(n.split()[-1]) for n in notes}
        assert len(notes) == results.hosts_read
        assert (pids == {os.getpid()}) is expected_here
        readers |= pids
    assert len(readers) >= 2


def test_automatic_jobs():
    assert reader_jobs(1, 100_000) == 1
    assert reader_jobs(4, 3) == 3  # never more processes than hosts
    assert reader_jobs(0, AUTO_JOBS_MIN_HOSTS - 1) == 1  # small runs: starting workers costs more
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    assert reader_jobs(0, AUTO_JOBS_MIN_HOSTS) == min(2, cpus)


def test_no_fork_beside_another_thread(damaged_run, monkeypatch):
    """A child forked beside a running thread can inherit a held lock and wait for ever: with a
    second thread alive, the hosts are read here, serially, and the analysis is the same."""
    read_files = load_directory._read_files

    def marked(*args, **kwargs):
        read = read_files(*args, **kwargs)
        read.notes.append(f"read by {os.getpid()}")
        return read

    monkeypatch.setattr(load_directory, "_read_files", marked)
    serial = _json(damaged_run.run_dir, 1)
    release = threading.Event()
    other = threading.Thread(target=release.wait, args=(30,), daemon=True)
    other.start()
    try:
        assert not load_directory.fork_is_safe()
        results = open_results([damaged_run.run_dir], LoadOptions(jobs=2))
        notes = [n for host in results.iter_hosts() for n in host.notes if n.startswith("read by")]
        assert {int(n.split()[-1]) for n in notes} == {os.getpid()}
        assert _json(damaged_run.run_dir, 2) == serial
    finally:
        release.set()
        other.join(timeout=30)
    assert load_directory.fork_is_safe()
