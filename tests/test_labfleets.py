"""The held-out lab fleet builder's pure parts (no lab): scenario plans and the machine guard."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.labfleets import fleet, guard
from benchmarks.labfleets.build import HELD_OUT
from benchmarks.labfleets.scenarios import SCENARIOS, plan
from diffy_analysis.errors import LabError


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_plan_matches_the_scenario(name):
    scenario = SCENARIOS[name]
    hosts = plan(scenario)
    assert [h.index for h in hosts] == list(range(scenario.hosts))
    assert sum(h.size == "large" for h in hosts) == scenario.large
    assert sum(h.version == 2 for h in hosts) == scenario.v2
    assert sum(bool(h.attacks) for h in hosts) == len(scenario.attacks)
    (base,) = [h for h in hosts if h.baseline]
    # The baseline is a clean, quiet member of the majority population.
    assert (base.size, base.version, base.attacks, base.noise) == ("small", 1, (), [])
    assert plan(scenario) == hosts  # seeded: the same plan every time


def test_held_out_scenarios_cover_the_brief():
    sizes = {SCENARIOS[n].hosts for n in HELD_OUT}
    assert sizes == {4, 6, 12, 30}
    compromised = {n: len(SCENARIOS[n].attacks) for n in HELD_OUT}
    assert sorted(compromised.values()) == [0, 0, 1, 1, 2, 6]
    assert SCENARIOS["rolling-30"].v2 and not SCENARIOS["rolling-30"].attacks


def test_guard_sees_a_changed_added_and_removed_file(tmp_path):
    (tmp_path / "a").write_text("1")
    (tmp_path / "b").write_text("2")
    paths = (str(tmp_path), str(tmp_path / "missing"))
    before = guard.snapshot(paths)
    assert guard.changes(before, guard.snapshot(paths)) == []
    (tmp_path / "a").write_text("changed")
    (tmp_path / "b").unlink()
    (tmp_path / "c").write_text("new")
    assert guard.changes(before, guard.snapshot(paths)) == [str(tmp_path / n) for n in "abc"]


def test_every_set_ends_with_the_same_save_truth(tmp_path):
    """fleet.injected and fleet.save_truth: the truth every set's builder writes, read back."""
    scenario = SCENARIOS["campaign2-6"]
    plans = plan(scenario)
    for p in plans:  # evidence is found while the lab is up; stand-ins of the right shape here
        p.evidence = [[{"query": "crontab", "kind": "row", "match": {"n": i}}] for i in range(len(p.attacks))]
    ids = [f"i-{k}" for k in range(scenario.hosts)]
    compromised, noise_map = fleet.injected(plans, ids, scenario.campaign)
    assert len(compromised) == 2 and all(
        a["campaign"] == scenario.campaign for v in compromised.values() for a in v
    )
    assert all(set(hosts) <= set(ids) for hosts in noise_map.values())
    truth = fleet._truth(scenario, plans, ids, {}, run_id="r", run_dir=tmp_path / "results" / "r",
                         baseline_run=tmp_path / "results" / "b", base_id=ids[0], lab_name="t")  # fmt: skip
    fleet_dir, root = fleet.new_fleet_dir(tmp_path, "campaign2-6")
    assert root == fleet_dir / "results" and root.is_dir()
    with pytest.raises(LabError, match="exists"):
        fleet.new_fleet_dir(tmp_path, "campaign2-6")
    said: list[str] = []
    built = fleet.save_truth(tmp_path, truth, {}, started=0.0, log=said.append, label="campaign2-6")
    doc = json.loads((tmp_path / "truth.json").read_text())
    assert doc["compromised"].keys() == compromised.keys() and doc["options"]["build_seconds"] > 0
    assert built.timings["total_s"] > 0 and said == [
        f"campaign2-6: built in {built.timings['total_s']:.1f}s -> {tmp_path}"
    ]
