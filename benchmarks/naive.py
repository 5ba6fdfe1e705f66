"""The naive approach on a generated fleet: a per-host JSON diff against the clean baseline.

    python benchmarks/naive.py --hosts 1000 [--seed 7]

Every row not byte-identical to a baseline row (and every baseline row a host lacks) is a
difference; a host with any difference is flagged, as the original tool did.  The implementation is
diffy_fleetgen.naive (shared with the evaluation and the scale benchmark).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))  # diffy_fleetgen: dev tooling outside the package

from diffy_fleetgen import FleetOptions, generate_fleet  # noqa: E402
from diffy_fleetgen.evaluate import run_method, score  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    fleet = generate_fleet(
        REPO / "benchmarks" / ".fleets", FleetOptions(hosts=args.hosts, seed=args.seed), reuse=True
    )
    analysis, seconds = run_method(fleet, "naive")
    s = score(analysis, fleet.truth(), method="naive")
    differences = sum(len(h.findings) for h in analysis.hosts)
    print(f"naive diff of {s.hosts} hosts against the baseline: {seconds:.1f} s")
    print(
        f"flagged {s.flagged} of {s.hosts} hosts ({s.compromised} compromised): precision {s.precision:.3f}, "
        f"recall {s.recall:.3f}, F1 {s.f1:.3f}"
    )
    print(
        f"{differences} differing rows in total, {differences / max(s.hosts, 1):.0f} per host; "
        f"injected artifact in the top 3: {s.artifacts_in_top}/{s.artifacts}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
