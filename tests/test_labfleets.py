"""The held-out lab fleet builder's pure parts (no lab): scenario plans and the machine guard."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.labfleets import guard
from benchmarks.labfleets.build import HELD_OUT
from benchmarks.labfleets.scenarios import SCENARIOS, plan


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
