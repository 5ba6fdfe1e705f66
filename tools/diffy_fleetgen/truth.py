"""The ground truth of a generated fleet, written next to (never inside) the run directory.

An engine under evaluation must not see it; the evaluation reads it to score the engine's findings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRUTH_FORMAT = "diffy-fleetgen-truth/1"


@dataclass
class FleetTruth:
    run_id: str
    run_dir: Path
    options: dict[str, Any]
    compromised: dict[str, list[dict[str, Any]]]
    """host_id -> [{artifact, campaign, params, evidence: [{query, kind, match}]}]"""
    populations: dict[str, list[str]]
    """Benign sub-populations (e.g. ``app_version:2.4.0``, ``canary``) -> host ids."""
    noise: dict[str, list[str]]
    """Hosts with benign transient noise (``ssh_session``, ``cron_running``, ``extra_kthreads``)."""
    hosts: list[str]
    """Every analysable host id."""
    unreachable: list[str] = field(default_factory=list)
    baseline_dir: Path | None = None
    """A clean host directory (host.json + results) of the majority population."""
    baseline_run_dir: Path | None = None

    def to_json(self, relative_to: Path) -> dict[str, Any]:
        def rel(p: Path | None) -> str | None:
            return None if p is None else str(Path(p).relative_to(relative_to))

        return {
            "format": TRUTH_FORMAT,
            "run_id": self.run_id,
            "run_dir": rel(self.run_dir),
            "baseline_dir": rel(self.baseline_dir),
            "baseline_run_dir": rel(self.baseline_run_dir),
            "options": self.options,
            "hosts": self.hosts,
            "unreachable": self.unreachable,
            "compromised": self.compromised,
            "populations": self.populations,
            "noise": self.noise,
        }

    @classmethod
    def load(cls, path: Path | str) -> FleetTruth:
        path = Path(path)
        doc = json.loads(path.read_text("utf-8"))
        if doc.get("format") != TRUTH_FORMAT:
            raise ValueError(f"{path} is not a fleetgen truth file")
        base = path.parent

        def absolute(p: str | None) -> Path | None:
            return None if p is None else base / p

        return cls(
            run_id=doc["run_id"],
            run_dir=base / doc["run_dir"],
            options=doc["options"],
            compromised=doc["compromised"],
            populations=doc["populations"],
            noise=doc["noise"],
            hosts=doc["hosts"],
            unreachable=doc.get("unreachable", []),
            baseline_dir=absolute(doc.get("baseline_dir")),
            baseline_run_dir=absolute(doc.get("baseline_run_dir")),
        )

    @property
    def compromised_hosts(self) -> set[str]:
        return set(self.compromised)

    def benign_population_hosts(self) -> set[str]:
        return {h for hosts in self.populations.values() for h in hosts} - self.compromised_hosts


def evidence_matches(evidence: dict[str, Any], query: str, row: dict[str, Any]) -> bool:
    """Does a finding (its query and row) show this piece of evidence?  Kinds are not required to
    agree: an engine may report a replaced binary as ``changed`` or as ``added`` + ``missing``."""
    if query != evidence["query"]:
        return False
    return all(str(row.get(col)) == val for col, val in evidence["match"].items())
