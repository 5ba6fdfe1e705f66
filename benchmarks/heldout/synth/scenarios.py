"""The scenarios: fleet size, benign sub-populations, noise level and who is compromised.

A scenario is a recipe; ``plan`` turns (scenario, seed) into concrete host counts, population
assignments and campaigns, all from seeded generators so the same seed gives the same fleet.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from .host import derive_seed


@dataclass(frozen=True)
class Scenario:
    name: str
    hosts: tuple[int, int]
    """Inclusive range of fleet sizes; one value is drawn per seed."""
    compromised: float | int = 0
    """Number of compromised hosts, or a fraction of the fleet when below 1."""
    artifacts: tuple[int, int] = (1, 3)
    """How many artifact kinds each campaign plants."""
    campaigns: int = 1
    app_versions: tuple[tuple[str, float], ...] = (("2.4.0", 1.0),)
    instance_types: tuple[tuple[str, float], ...] = (("m5.large", 1.0),)
    canaries: int = 0
    noise_scale: float = 1.0
    unreachable: int = 0
    victims_in_minority: str | None = None
    """Put the compromised hosts inside the smaller benign population of this trait."""
    description: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)


ROLLING = (("2.4.0", 0.6), ("2.5.0", 0.4))
SIZES = (("m5.large", 0.7), ("c5.2xlarge", 0.3))

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario("single_host", (18, 26), 1, (2, 3), description="one host, several artifact kinds"),
        Scenario(
            "single_host_minimal",
            (18, 26),
            1,
            (1, 1),
            description="one host, a single artifact: the least evidence there is",
        ),
        Scenario("campaign_2_hosts", (20, 28), 2, (2, 3), description="the same campaign on two hosts"),
        Scenario("campaign_5pct", (100, 100), 0.05, (2, 3), description="campaign on 5% of 100"),
        Scenario("campaign_10pct", (50, 60), 0.10, (2, 3), description="campaign on 10% of the fleet"),
        Scenario("campaign_20pct", (40, 50), 0.20, (2, 3), description="campaign on 20% of the fleet"),
        Scenario("campaign_25pct", (32, 40), 0.25, (2, 3), description="campaign on 25% of the fleet"),
        Scenario("fleet_4", (4, 4), 1, (1, 3), description="four hosts, one compromised"),
        Scenario("fleet_6", (6, 6), 1, (1, 3), description="six hosts, one compromised"),
        Scenario("fleet_12", (12, 12), 1, (1, 3), description="twelve hosts, one compromised"),
        Scenario(
            "large_fleet",
            (30, 300),
            3,
            (1, 3),
            campaigns=2,
            unreachable=1,
            description="30-300 hosts, two campaigns, one host unreachable",
        ),
        Scenario(
            "rolling_deploy",
            (28, 36),
            1,
            (1, 3),
            app_versions=ROLLING,
            victims_in_minority="app_version",
            description="two app releases mid-rollout; the victim is on the newer one",
        ),
        Scenario(
            "two_sizes",
            (28, 36),
            1,
            (1, 3),
            instance_types=SIZES,
            victims_in_minority="instance_type",
            description="two instance sizes; the victim is a large instance",
        ),
        Scenario(
            "canary",
            (18, 26),
            1,
            (1, 3),
            canaries=2,
            description="two benign canary hosts on a release candidate, one compromised host",
        ),
        Scenario(
            "heavy_noise",
            (26, 34),
            1,
            (1, 3),
            noise_scale=3.0,
            description="transient noise three times as frequent, cohorts always present",
        ),
        Scenario("clean_small", (6, 6), description="six clean hosts: every flag is a false positive"),
        Scenario("clean_medium", (36, 44), description="a clean fleet of about forty"),
        Scenario(
            "clean_mixed",
            (32, 40),
            app_versions=ROLLING,
            instance_types=SIZES,
            canaries=2,
            description="clean, with a rollout, two sizes and canaries",
        ),
        Scenario("clean_heavy_noise", (26, 34), noise_scale=3.0, description="clean, heavy noise"),
    ]
}


def _assign(rng: random.Random, n: int, shares: tuple[tuple[str, float], ...]) -> list[str]:
    out: list[str] = []
    for i, (value, share) in enumerate(shares):
        count = n - len(out) if i == len(shares) - 1 else max(1, round(n * share))
        out += [value] * count
    rng.shuffle(out)
    return out[:n]


def plan(scenario: Scenario, seed: int, artifact_kinds: list[str]) -> dict[str, Any]:
    """Concrete fleet layout for one seed: per-host traits, victims and campaigns."""
    rng = random.Random(derive_seed("plan", scenario.name, seed))
    n = rng.randint(*scenario.hosts)
    versions = _assign(rng, n, scenario.app_versions)
    types = _assign(rng, n, scenario.instance_types)
    canary = [False] * n
    order = list(range(n))
    rng.shuffle(order)
    for i in order[: scenario.canaries]:
        canary[i], versions[i] = True, "2.6.0-rc1"
    c = scenario.compromised
    n_victims = 0 if not c else (int(c) if c >= 1 else max(1, round(n * c)))
    eligible = [i for i in range(n) if not canary[i]]
    if scenario.victims_in_minority:
        trait = versions if scenario.victims_in_minority == "app_version" else types
        minority = min(sorted({trait[i] for i in eligible}), key=trait.count)
        eligible = [i for i in eligible if trait[i] == minority]
    pool = list(eligible)
    rng.shuffle(pool)
    victims = sorted(pool[:n_victims])
    unreachable = [i for i in order[scenario.canaries :] if i not in victims][: scenario.unreachable]
    campaigns = []
    kinds = sorted(artifact_kinds)
    for ci in range(scenario.campaigns if victims else 0):
        crng = random.Random(derive_seed("campaign", scenario.name, seed, ci))
        k = crng.randint(*scenario.artifacts)
        # Rotate the leading artifact with the seed so a seed set covers every kind.
        first = kinds[(seed * 7 + ci * 3 + len(scenario.name)) % len(kinds)]
        rest = crng.sample([x for x in kinds if x != first], k - 1)
        campaigns.append(
            {
                "id": f"c{ci + 1}",
                "artifacts": [first, *rest],
                "seed": derive_seed("campaign-params", scenario.name, seed, ci),
            }
        )
    members: dict[int, str] = {}
    for j, v in enumerate(victims):
        members[v] = campaigns[j % len(campaigns)]["id"] if campaigns else ""
    return {
        "n": n,
        "versions": versions,
        "types": types,
        "canary": canary,
        "victims": members,
        "unreachable": unreachable,
        "campaigns": campaigns,
    }
