"""benchmarks/evaluate.py --fleets DIR: any directory of fleets in the truth format, per scenario."""

from __future__ import annotations

import json

from click.testing import CliRunner

from diffy_fleetgen.evaluate import main
from diffy_fleetgen.evaluate_dirs import campaign_hosts, find_truths
from diffy_fleetgen.generate import generate_fleet
from diffy_fleetgen.plan import FleetOptions
from diffy_fleetgen.truth import FleetTruth


def _fleet(root, name, scenario, **options):
    fleet = generate_fleet(root / name, FleetOptions(**options), reuse=True)
    doc = json.loads(fleet.truth_path.read_text())
    doc["options"]["scenario"] = scenario
    fleet.truth_path.write_text(json.dumps(doc))
    return fleet


def test_fleets_dir_prints_per_scenario_figures_with_campaign_recall(tmp_path):
    _fleet(tmp_path, "a", "campaign-5", hosts=24, seed=1, campaign_hosts=3, compromised_fraction=0.0)
    _fleet(tmp_path, "b", "small-6", hosts=6, seed=2, compromised_fraction=0.17)
    (tmp_path / "junk.json").write_text('{"format": "something-else"}')
    truths = find_truths(tmp_path)
    assert len(truths) == 2
    assert len(campaign_hosts(FleetTruth.load(truths[0]))) == 3
    result = CliRunner().invoke(main, ["--fleets", str(tmp_path), "--methods", "peers,baseline"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    row = next(line for line in lines if line.startswith("| campaign-5 | peers |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2:5] == ["1", "24", "3"] and cells[-1] == "3/3"  # fleets, hosts, compromised, campaign
    assert cells[-3] == "3/3"  # each compromised host's top 3 shows one of its artifacts
    assert any(line.startswith("| small-6 | baseline |") for line in lines)
    assert any(line.startswith("| ALL | peers |") for line in lines)


def test_fleets_dir_without_truth_is_an_error(tmp_path):
    result = CliRunner().invoke(main, ["--fleets", str(tmp_path)])
    assert result.exit_code != 0 and "no diffy-fleetgen-truth/1 truth file" in result.output
