"""Synthetic fleet generator: contract-valid results directories of a realistic, noisy app fleet with
injected attacker artifacts and a ground-truth file, for tests, the evaluation and the benchmarks.

    from diffy_fleetgen import FleetOptions, generate_fleet
    fleet = generate_fleet("/tmp/fleets", FleetOptions(hosts=200, seed=7))
    fleet.run_dir, fleet.baseline_dir, fleet.truth()

CLI: ``python -m diffy_fleetgen --hosts 200 --seed 7 --out DIR``.
"""

from __future__ import annotations

from diffy_fleetgen.artifacts import ARTIFACTS
from diffy_fleetgen.generate import GeneratedFleet, generate_fleet
from diffy_fleetgen.plan import FleetOptions
from diffy_fleetgen.truth import FleetTruth, evidence_matches

__all__ = ["ARTIFACTS", "FleetOptions", "FleetTruth", "GeneratedFleet", "evidence_matches", "generate_fleet"]
