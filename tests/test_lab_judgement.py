"""Judgement on a REAL lab fleet, engine as a black box: two 5-host fleets of namespaced hosts with
realistic per-host noise (ephemeral worker ports, per-host mount names, a timer caught running, an
admin's SSH session; see benchmarks/labfleets), one of them with one host compromised by real
procedures (a uid-0 account, a `curl | sh` cron line, a listener on tcp/4444).  Both are collected
with playbooks/collect.yml over SSH (native collector) and judged by `diffy-analyze RUN --format json`:
the compromised fleet must flag exactly the compromised host (exit 1), the clean one nothing (exit 0).

Built independently of the engine (held-out data): nothing here was tuned on its output.
Marker ``lab``: needs root, runs in CI (fails without root unless DIFFY_ALLOW_LAB_SKIP=1).
Stand-ins: moto plays EC2, the native collector plays osquery."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from diffy_analysis.contract import new_run_id
from diffy_lab import LabConfig
from diffy_lab.testing import running_lab, unique_name

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.labfleets import guard  # noqa: E402
from benchmarks.labfleets.fleet import check_evidence, end_sessions, playbook, prepare_hosts  # noqa: E402
from benchmarks.labfleets.scenarios import SCENARIOS, plan  # noqa: E402

pytestmark = pytest.mark.lab

BIN = Path(sys.executable).parent
SUBNET = "10.213.72.0/24"


@pytest.fixture(scope="module")
def fleets(tmp_path_factory):
    """{"app_x": (run_dir, compromised ids, lab), "app_y": (run_dir, set(), lab)}: collected once."""
    root = tmp_path_factory.mktemp("judgement")
    before = guard.snapshot()
    config = LabConfig(name=unique_name("jdg"), apps=[("app_x", 5), ("app_y", 5)], subnet=SUBNET)
    with running_lab(config) as lab:
        sessions = []
        try:
            runs = {}
            for app, scenario in (("app_x", "judge-5"), ("app_y", "judge-clean-5")):
                plans = plan(SCENARIOS[scenario])
                targets = lab.hosts_of(app)
                sessions += prepare_hosts(lab, plans, SCENARIOS[scenario].seed, targets)
                bad = {
                    targets[p.index].instance_id: [{"evidence": ev} for ev in p.evidence]
                    for p in plans
                    if p.attacks
                }
                runs[app] = (root / new_run_id(), bad, [h.instance_id for h in targets])
            # Both fleets at once: the two collections share the machine's cores.
            with ThreadPoolExecutor(2) as pool:
                done = [pool.submit(playbook, lab, "collect.yml", app, root, diffy_run_id=run.name)
                        for app, (run, _, _) in runs.items()]  # fmt: skip
                for future in done:
                    future.result()
        finally:
            end_sessions(sessions)
        yield runs
    assert guard.changes(before, guard.snapshot()) == []  # the machine's own files are untouched


def judge(run_dir: Path, out: Path) -> tuple[int, set[str]]:
    proc = subprocess.run(
        [str(BIN / "diffy-analyze"), str(run_dir), "--format", "json", "-o", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads(out.read_text())
    return proc.returncode, {h["host"] for h in doc["hosts"] if h["outlier"]}


def test_flags_exactly_the_compromised_host(fleets, tmp_path):
    run_dir, compromised, hosts = fleets["app_x"]
    assert len(compromised) == 1
    # The attack really is in the collected rows, and only on its host (the data is not vacuous).
    check_evidence(run_dir, compromised, hosts)
    code, flagged = judge(run_dir, tmp_path / "x.json")
    assert flagged == set(compromised)
    assert code == 1


def test_clean_fleet_flags_nothing(fleets, tmp_path):
    run_dir, compromised, _ = fleets["app_y"]
    assert compromised == {}
    code, flagged = judge(run_dir, tmp_path / "y.json")
    assert flagged == set()
    assert code == 0
