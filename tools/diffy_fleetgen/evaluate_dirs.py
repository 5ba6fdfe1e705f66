"""Evaluate the engine on any directory of fleets in the fleetgen truth format (``diffy-fleetgen-truth/1``).

Each fleet is a directory (or a ``*.truth.json`` next to its run): ``truth.json`` (any file whose
``format`` is the truth format), its run directory, and optionally a baseline run
(``baseline_dir``). ``options.scenario`` names the fleet's scenario (``options`` otherwise).
Printed per scenario and method: precision, recall, F1, artifact in its host's top 3 (per injected
artifact, and per compromised host: at least one of its artifacts in its top 3), benign-
population hosts flagged, and campaign recall (hosts of multi-host campaigns flagged).

    python benchmarks/evaluate.py --fleets DIR [--methods peers,baseline]
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from diffy_fleetgen.evaluate import TOP, Scores, score
from diffy_fleetgen.truth import TRUTH_FORMAT, FleetTruth


def find_truths(root: Path) -> list[Path]:
    """Every truth file under ``root`` (one per fleet), sorted."""
    out = []
    for path in sorted(root.rglob("*.json")):
        if (
            path.name in ("manifest.json", "host.json", "pack.json")
            or "hosts" in path.parts[len(root.parts) :]
        ):
            continue
        try:
            if path.stat().st_size > 64 * 1024 * 1024:
                continue
            with path.open("rb") as fh:
                head = fh.read(4096)
            if TRUTH_FORMAT.encode() not in head and b'"format"' in head:
                continue
            doc = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and doc.get("format") == TRUTH_FORMAT:
            out.append(path)
    return out


def campaign_hosts(truth: FleetTruth) -> set[str]:
    """Hosts of campaigns that touched at least two hosts."""
    members: dict[str, set[str]] = defaultdict(set)
    for host, artifacts in truth.compromised.items():
        for a in artifacts:
            members[str(a.get("campaign"))].add(host)
    return {h for hosts in members.values() if len(hosts) >= 2 for h in hosts}


@dataclass
class FleetScore:
    scenario: str
    fleet: str
    scores: Scores
    campaign_hosts: int
    campaign_flagged: int


def evaluate_fleet(truth_path: Path, method: str) -> FleetScore | None:
    from diffy_analysis.api import analyze  # noqa: PLC0415 - the engine is a later stage

    truth = FleetTruth.load(truth_path)
    baseline = truth.baseline_dir if truth.baseline_dir is not None else truth.baseline_run_dir
    if method == "baseline" and baseline is None:
        return None
    started = time.perf_counter()
    analysis = analyze([truth.run_dir], baseline=baseline if method == "baseline" else None, method=method)
    if analysis.method != method or (method == "baseline" and not analysis.baseline):
        # the harness must never score one method under another's name (issue 12 check)
        raise click.ClickException(f"{truth_path}: asked for {method}, the analysis ran {analysis.method}")
    s = score(analysis, truth, method=method)
    s.seconds = time.perf_counter() - started
    scenario = str(truth.options.get("scenario") or "unnamed")
    s.scenario = scenario
    flagged = {h.host_id for h in analysis.hosts if h.outlier}
    camp = campaign_hosts(truth)
    return FleetScore(scenario, truth_path.parent.name, s, len(camp), len(camp & flagged))


def _pooled(rows: list[FleetScore]) -> dict[str, Any]:
    tp = sum(r.scores.true_positives for r in rows)
    flagged = sum(r.scores.flagged for r in rows)
    comp = sum(r.scores.compromised for r in rows)
    p = tp / flagged if flagged else 1.0
    rec = tp / comp if comp else 1.0
    arts = sum(r.scores.artifacts for r in rows)
    top = sum(r.scores.artifacts_in_top for r in rows)
    shown = sum(r.scores.hosts_shown for r in rows)
    ch = sum(r.campaign_hosts for r in rows)
    cf = sum(r.campaign_flagged for r in rows)
    return {
        "fleets": len(rows),
        "hosts": sum(r.scores.hosts for r in rows),
        "compromised": comp,
        "precision": p,
        "recall": rec,
        "f1": 2 * p * rec / (p + rec) if p + rec else 0.0,
        "top": f"{top}/{arts}",
        "host_top": f"{shown}/{comp}",
        "benign_flagged": sum(sum(r.scores.population_flagged.values()) for r in rows),
        "campaign": f"{cf}/{ch}" if ch else "-",
    }


def table(rows: list[FleetScore]) -> str:
    head = (
        "scenario",
        "method",
        "fleets",
        "hosts",
        "compromised",
        "precision",
        "recall",
        "F1",
        f"artifact in top {TOP}",
        f"compromised host's top {TOP} shows an artifact",
        "benign-population hosts flagged",
        "campaign recall",
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    groups: dict[tuple[str, str], list[FleetScore]] = defaultdict(list)
    for r in rows:
        groups[(r.scenario, r.scores.method)].append(r)
    for (scenario, method), mine in sorted(groups.items()):
        lines.append(_line(scenario, method, _pooled(mine)))
    for method in sorted({r.scores.method for r in rows}):
        lines.append(_line("ALL", method, _pooled([r for r in rows if r.scores.method == method])))
    return "\n".join(lines)


def _line(scenario: str, method: str, p: dict[str, Any]) -> str:
    return (
        f"| {scenario} | {method} | {p['fleets']} | {p['hosts']} | {p['compromised']} | {p['precision']:.3f} "
        f"| {p['recall']:.3f} | {p['f1']:.3f} | {p['top']} | {p['host_top']} | {p['benign_flagged']} "
        f"| {p['campaign']} |"
    )


def run_dirs(fleets: Path, methods: tuple[str, ...], *, details: bool = False) -> str:
    truths = find_truths(fleets)
    if not truths:
        raise click.ClickException(f"no {TRUTH_FORMAT} truth file under {fleets}")
    rows = []
    for path in truths:
        for method in methods:
            found = evaluate_fleet(path, method)
            if found is None:
                continue
            rows.append(found)
            s = found.scores
            click.echo(
                f"{found.scenario} {found.fleet} {method}: F1 {s.f1:.3f} flagged {s.flagged} "
                f"FP {len(s.false_positives)} FN {len(s.false_negatives)} ({s.seconds:.1f}s)",
                err=True,
            )
            if details:
                click.echo(f"   FP: {s.false_positives[:10]}  FN: {s.false_negatives[:10]}", err=True)
    return table(rows)
