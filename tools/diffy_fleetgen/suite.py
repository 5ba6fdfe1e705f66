"""A development suite of fleets in the truth format, one directory per fleet, with named scenarios.

Campaigns of 2 hosts, 5 %, 10 %, 20 % and 25 % of the fleet; small fleets of 4, 6 and 12 hosts;
plus the default, noisy and rollout fleets. This is DEV data (the same team wrote generator and
engine): figures on it show regressions, not accuracy on fleets we did not write.

    python -m diffy_fleetgen.suite --out DIR [--seeds 1,2]
    python benchmarks/evaluate.py --fleets DIR
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from diffy_fleetgen.generate import generate_fleet
from diffy_fleetgen.plan import FleetOptions

SUITE: dict[str, dict[str, Any]] = {
    "campaign-2-hosts": {"hosts": 40, "campaign_hosts": 2, "compromised_fraction": 0.0},
    "campaign-5pct": {"hosts": 80, "campaign_hosts": 4, "compromised_fraction": 0.0},
    "campaign-10pct": {"hosts": 60, "campaign_hosts": 6, "compromised_fraction": 0.0},
    "campaign-20pct": {"hosts": 50, "campaign_hosts": 10, "compromised_fraction": 0.0},
    "campaign-25pct": {"hosts": 48, "campaign_hosts": 12, "compromised_fraction": 0.0},
    "campaign-20pct-mixed": {
        "hosts": 60,
        "campaign_hosts": 12,
        "campaign_kinds": ("privileged_user", "bind_shell", "firewall_rule_removed"),
        "compromised_fraction": 0.05,
    },
    "small-4": {"hosts": 4, "compromised_fraction": 0.25},
    "small-6": {"hosts": 6, "compromised_fraction": 0.17},
    "small-12": {"hosts": 12, "compromised_fraction": 0.09},
    "default-40": {"hosts": 40},
    "noisy-60": {
        "hosts": 60,
        "ssh_session_rate": 0.12,
        "cron_running_rate": 0.25,
        "extra_kthreads_rate": 0.2,
    },
    "rollout-half-60": {"hosts": 60, "rollout_fraction": 0.5, "large_fraction": 0.5, "canary_fraction": 0.3},
}


def write_suite(out: Path, seeds: list[int]) -> list[Path]:
    made = []
    for name, spec in SUITE.items():
        for seed in seeds:
            fleet_dir = out / f"{name}-s{seed}"
            fleet = generate_fleet(fleet_dir, FleetOptions(seed=seed, **spec), reuse=True)
            doc = json.loads(fleet.truth_path.read_text("utf-8"))
            doc["options"]["scenario"] = name
            fleet.truth_path.write_text(json.dumps(doc, indent=1) + "\n", "utf-8")
            made.append(fleet.truth_path)
    return made


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--seeds", default="1", show_default=True)
def main(out: Path, seeds: str) -> None:
    """Write the development suite (fleet directories with truth files) under OUT."""
    paths = write_suite(out, [int(s) for s in seeds.split(",")])
    click.echo(f"{len(paths)} fleets under {out}")


if __name__ == "__main__":
    main()
