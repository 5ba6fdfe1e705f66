"""Score an analysis against a generated fleet's ground truth, for every method (issue 4).

Host level: a host is predicted compromised when the analysis marks it ``outlier``.  Artifact level:
an injected artifact counts as explained when one of its evidence rows (query + identifying values)
is among its host's top findings.  Benign sub-populations and transient noise must not be flagged.

    python -m diffy_fleetgen.evaluate --sizes 20,200,2000 --seed 7
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from diffy_analysis.findings import Analysis
from diffy_fleetgen.artifacts import ARTIFACTS
from diffy_fleetgen.generate import GeneratedFleet, generate_fleet
from diffy_fleetgen.naive import naive_analysis
from diffy_fleetgen.plan import FleetOptions
from diffy_fleetgen.truth import FleetTruth, evidence_matches

METHODS = ("peers", "baseline", "naive")
SCENARIOS: dict[str, dict[str, Any]] = {
    "default": {},
    "noisy": {"ssh_session_rate": 0.12, "cron_running_rate": 0.25, "extra_kthreads_rate": 0.2},
    "few-compromised": {"compromised_fraction": 0.01},
    "many-compromised": {"compromised_fraction": 0.10, "lateral_probability": 0.5},
    "half-rollout": {"rollout_fraction": 0.5, "large_fraction": 0.5, "canary_fraction": 0.3},
    "no-populations": {"rollout_fraction": 0.0, "large_fraction": 0.0, "canary_fraction": 0.0},
    "patch-drift": {"patched_fraction": 0.25},
    "more-artifacts": {"inject": tuple(ARTIFACTS)},
}
"""Fleet variations beyond the defaults, so the figures are not tuned to one parameter set."""
TOP = 3
DEFAULT_CACHE = Path("benchmarks/.fleets")


@dataclass
class Scores:
    method: str
    hosts: int
    compromised: int
    flagged: int
    true_positives: int
    false_positives: list[str]
    false_negatives: list[str]
    artifacts: int
    artifacts_in_top: int
    artifacts_anywhere: int
    population_flagged: dict[str, int]
    """Benign sub-population -> how many of its (uncompromised) hosts were flagged."""
    noise_flagged: dict[str, int]
    missed_artifacts: list[tuple[str, str]] = field(default_factory=list)
    """(host, artifact) not among the host's top findings."""
    skipped: int = 0
    hosts_shown: int = 0
    """Compromised hosts whose top findings show at least one of their injected artifacts (a host
    carrying four artifacts cannot show all four in a top 3; this is what its first screen shows)."""
    seconds: float = 0.0
    scenario: str = "default"
    seed: int | None = None

    @property
    def precision(self) -> float:
        return self.true_positives / self.flagged if self.flagged else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.compromised if self.compromised else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def top_rate(self) -> float:
        return self.artifacts_in_top / self.artifacts if self.artifacts else 1.0

    @property
    def benign_population_flagged(self) -> bool:
        return any(self.population_flagged.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "hosts": self.hosts,
            "compromised": self.compromised,
            "flagged": self.flagged,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "artifacts": self.artifacts,
            "artifacts_in_top3": self.artifacts_in_top,
            "artifacts_anywhere": self.artifacts_anywhere,
            "hosts_with_artifact_in_top3": self.hosts_shown,
            "population_flagged": self.population_flagged,
            "noise_flagged": self.noise_flagged,
            "false_positives": self.false_positives,
            "false_negatives": self.false_negatives,
            "missed_artifacts": self.missed_artifacts,
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
            "scenario": self.scenario,
            "seed": self.seed,
        }


def score(analysis: Analysis, truth: FleetTruth, *, method: str | None = None, top: int = TOP) -> Scores:
    by_host = {h.host_id: h for h in analysis.hosts}
    flagged = {h.host_id for h in analysis.hosts if h.outlier}
    compromised = truth.compromised_hosts
    artifacts = in_top = anywhere = 0
    missed = []
    hosts_shown = 0
    for host, injected in sorted(truth.compromised.items()):
        findings = by_host[host].findings if host in by_host else ()
        shown_before = in_top
        for artifact in injected:
            artifacts += 1

            def shown(fs, artifact=artifact) -> bool:
                return any(evidence_matches(ev, f.query, f.row) for f in fs for ev in artifact["evidence"])

            if shown(findings[:top]):
                in_top += 1
            else:
                missed.append((host, artifact["artifact"]))
            anywhere += shown(findings)
        hosts_shown += in_top > shown_before
    benign = flagged - compromised
    return Scores(
        method=method or analysis.method,
        hosts=len(truth.hosts),
        compromised=len(compromised),
        flagged=len(flagged),
        true_positives=len(flagged & compromised),
        false_positives=sorted(benign),
        false_negatives=sorted(compromised - flagged),
        artifacts=artifacts,
        artifacts_in_top=in_top,
        artifacts_anywhere=anywhere,
        population_flagged={p: len(benign & set(hosts)) for p, hosts in truth.populations.items()},
        noise_flagged={n: len(benign & set(hosts)) for n, hosts in truth.noise.items()},
        missed_artifacts=missed,
        skipped=len(analysis.skipped),
        hosts_shown=hosts_shown,
        seed=truth.options.get("seed"),
    )


def run_method(fleet: GeneratedFleet, method: str, *, config: Any = None) -> tuple[Analysis, float]:
    """Analyse ``fleet`` with ``method`` (peers, baseline or naive); return the analysis and seconds taken."""
    started = time.perf_counter()
    if method == "naive":
        analysis = naive_analysis([fleet.run_dir], fleet.baseline_dir)
    else:
        from diffy_analysis.api import analyze  # noqa: PLC0415  (the engine is a later stage)

        baseline = fleet.baseline_dir if method == "baseline" else None
        analysis = analyze([fleet.run_dir], baseline=baseline, method=method, config=config)
    return analysis, time.perf_counter() - started


def evaluate(
    fleet: GeneratedFleet, methods: tuple[str, ...] = METHODS, *, scenario: str = "default"
) -> list[Scores]:
    truth = fleet.truth()
    out = []
    for method in methods:
        analysis, seconds = run_method(fleet, method)
        scores = score(analysis, truth, method=method)
        scores.seconds = seconds
        scores.scenario = scenario
        out.append(scores)
    return out


def summarize(rows: list[Scores]) -> str:
    """Per method over all rows: pooled precision/recall/F1 and top-3 rate, and the worst F1 seen."""
    head = (
        "method",
        "fleets",
        "hosts",
        "compromised",
        "pooled precision",
        "pooled recall",
        "pooled F1",
        "worst F1",
        "fleets with a benign population flagged",
        f"artifact in top {TOP}",
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method in dict.fromkeys(s.method for s in rows):
        mine = [s for s in rows if s.method == method]
        tp = sum(s.true_positives for s in mine)
        flagged = sum(s.flagged for s in mine)
        comp = sum(s.compromised for s in mine)
        p = tp / flagged if flagged else 1.0
        r = tp / comp if comp else 1.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        arts, top = sum(s.artifacts for s in mine), sum(s.artifacts_in_top for s in mine)
        lines.append(
            f"| {method} | {len(mine)} | {sum(s.hosts for s in mine)} | {comp} "
            f"| {p:.3f} | {r:.3f} | {f1:.3f} "
            f"| {min(s.f1 for s in mine):.3f} | {sum(s.benign_population_flagged for s in mine)} "
            f"| {top}/{arts} ({top / arts if arts else 1:.1%}) |"
        )
    return "\n".join(lines)


HEADER = (
    "hosts",
    "scenario",
    "seed",
    "method",
    "compromised",
    "flagged",
    "precision",
    "recall",
    "F1",
    "benign pop. flagged",
    "noise hosts flagged",
    f"artifact in top {TOP}",
    "artifact in findings",
    "seconds",
)


def table_row(s: Scores) -> tuple[str, ...]:
    pops = ", ".join(f"{k.split(':')[-1]} {v}" for k, v in s.population_flagged.items() if v) or "none"
    noise = sum(s.noise_flagged.values())
    return (
        str(s.hosts),
        s.scenario,
        str(s.seed),
        s.method,
        str(s.compromised),
        str(s.flagged),
        f"{s.precision:.3f}",
        f"{s.recall:.3f}",
        f"{s.f1:.3f}",
        pops,
        str(noise),
        f"{s.artifacts_in_top}/{s.artifacts} ({s.top_rate:.0%})",
        f"{s.artifacts_anywhere}/{s.artifacts}",
        f"{s.seconds:.2f}",
    )


def markdown_table(rows: list[Scores]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(table_row(s)) + " |" for s in rows]
    return "\n".join(lines)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--sizes", default="20,200,2000", show_default=True, help="Comma-separated fleet sizes.")
@click.option("--seeds", default="7", show_default=True, help="Comma-separated seeds.")
@click.option(
    "--scenarios",
    default="default",
    show_default=True,
    help=f"Comma-separated fleet variations: {', '.join(SCENARIOS)}.",
)
@click.option("--methods", default=",".join(METHODS), show_default=True, help="peers, baseline and/or naive.")
@click.option(
    "--cache",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_CACHE,
    show_default=True,
    help="Where generated fleets are kept (reused across runs).",
)
@click.option("--details", is_flag=True, help="Also list false positives and missed artifacts.")
@click.option(
    "--fleets",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Evaluate every fleet under DIR (truth files in the fleetgen truth format) instead of "
    "generating fleets; prints figures per scenario (options.scenario).",
)
def main(
    *, sizes: str, seeds: str, scenarios: str, methods: str, cache: Path, details: bool, fleets: Path | None
) -> None:
    """Evaluate the analysis methods on generated fleets and print precision, recall, F1 and top-3 rates."""
    chosen = tuple(m.strip() for m in methods.split(",") if m.strip())
    if fleets is not None:
        from diffy_fleetgen.evaluate_dirs import run_dirs  # noqa: PLC0415

        click.echo(run_dirs(fleets, tuple(m for m in chosen if m != "naive"), details=details))
        return
    unknown = [s for s in scenarios.split(",") if s not in SCENARIOS]
    if unknown:
        raise click.BadParameter(f"unknown scenario(s) {', '.join(unknown)}", param_hint="--scenarios")
    rows = []
    for scenario in scenarios.split(","):
        for seed in (int(x) for x in seeds.split(",")):
            for n in (int(x) for x in sizes.split(",")):
                fleet = generate_fleet(
                    cache, FleetOptions(hosts=n, seed=seed, **SCENARIOS[scenario]), reuse=True
                )
                for s in evaluate(fleet, chosen, scenario=scenario):
                    rows.append(s)
                    click.echo(" | ".join(table_row(s)), err=True)
                    if details:
                        click.echo(f"   FP: {s.false_positives[:10]}  FN: {s.false_negatives[:10]}", err=True)
                        click.echo(f"   missed: {s.missed_artifacts[:10]}", err=True)
    click.echo(markdown_table(rows))
    if len(rows) > len(chosen):
        click.echo("")
        click.echo(summarize(rows))


if __name__ == "__main__":
    sys.exit(main())
