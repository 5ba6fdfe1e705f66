"""Build held-out evaluation fleets from real lab hosts (needs root).

    python benchmarks/labfleets/build.py --out /work/eval-data/heldout-lab --scenario single-4
    python benchmarks/labfleets/build.py --out DIR --scenario all      # the six first held-out scenarios
    python benchmarks/labfleets/build.py --out DIR --scenario v2-all --name ev2 --subnet 10.213.96.0/24
    python benchmarks/labfleets/build.py --out DIR --scenario v3-all --name ev3 --subnet 10.213.112.0/24
    python benchmarks/labfleets/build.py --out DIR --scenario v4-all --name e4a --subnet 10.213.150.0/24
    python benchmarks/labfleets/build.py --out DIR --scenario v5-all --name e5a --subnet 10.213.160.0/24
    python benchmarks/labfleets/build.py --list

Each fleet lands in DIR/<scenario>/: results/<run_id>/ (the collected run), results/baselines/app_x/
clean/ (one clean host collected as the baseline) and truth.json (diffy-fleetgen-truth/1).
Bring-ups that share the machine with other lab users must hold /tmp/diffy-lab.lock (flock)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))  # diffy_lab, diffy_fleetgen

from benchmarks.labfleets import fleet_v2, fleet_v3, fleet_v4, fleet_v5
from benchmarks.labfleets.fleet import build
from benchmarks.labfleets.scenarios import SCENARIOS
from benchmarks.labfleets.scenarios_v2 import HELD_OUT_V2, SCENARIOS_V2
from benchmarks.labfleets.scenarios_v3 import HELD_OUT_V3, SCENARIOS_V3
from benchmarks.labfleets.scenarios_v4 import HELD_OUT_V4, SCENARIOS_V4
from benchmarks.labfleets.scenarios_v5 import HELD_OUT_V5, SCENARIOS_V5
from diffy_analysis.errors import DiffyError

HELD_OUT = ["single-4", "campaign2-6", "single-12", "clean-12", "campaign20-30", "rolling-30"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="directory receiving one sub-directory per fleet")
    parser.add_argument("--scenario", action="append", help="a scenario name, or 'all' (repeatable)")
    parser.add_argument("--name", default="evl", help="lab name (default evl)")
    parser.add_argument("--subnet", default="10.213.64.0/24", help="lab subnet (default 10.213.64.0/24)")
    parser.add_argument("--keep-going", action="store_true", help="after a failed fleet, build the next one")
    parser.add_argument(
        "--seed",
        type=int,
        help="replace each scenario's seed (a development variant: other hosts get the sizes, releases,"
        " noise and attacks; held-out figures come only from the scenarios' own seeds)",
    )
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, scenario in {
            **SCENARIOS,
            **SCENARIOS_V2,
            **SCENARIOS_V3,
            **SCENARIOS_V4,
            **SCENARIOS_V5,
        }.items():
            print(f"{name:20} {scenario.description}")
        return 0
    if not args.out or not args.scenario:
        parser.error("--out and --scenario are required")
    groups = {
        "all": HELD_OUT,
        "v2-all": HELD_OUT_V2,
        "v3-all": HELD_OUT_V3,
        "v4-all": HELD_OUT_V4,
        "v5-all": HELD_OUT_V5,
    }
    known = {**SCENARIOS, **SCENARIOS_V2, **SCENARIOS_V3, **SCENARIOS_V4, **SCENARIOS_V5}
    names = [n for s in args.scenario for n in groups.get(s, [s])]
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; see --list")
    failed = 0
    for name in names:
        try:
            scenario = known[name]
            if args.seed is not None:
                scenario = dataclasses.replace(scenario, seed=args.seed)
            builders = {
                **dict.fromkeys(SCENARIOS_V2, fleet_v2.build),
                **dict.fromkeys(SCENARIOS_V3, fleet_v3.build),
                **dict.fromkeys(SCENARIOS_V4, fleet_v4.build),
                **dict.fromkeys(SCENARIOS_V5, fleet_v5.build),
            }
            builder = builders.get(name, build)
            built = builder(scenario, args.out, name=args.name, subnet=args.subnet)
        except DiffyError as err:
            print(f"{name}: {err}", file=sys.stderr)
            failed += 1
            if args.keep_going:
                continue
            return 2
        t = built.timings
        print(
            f"{name}: {len(built.truth.hosts)} hosts, {len(built.truth.compromised)} compromised; "
            + ", ".join(f"{k} {v:.1f}" for k, v in t.items())
        )
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
