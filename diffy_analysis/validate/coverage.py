"""What ``diffy validate --run`` found: one row per atomic test run on a lab host, whether each
analysis method flagged that host, and the finding that caught it; plus the clean hosts (which must
not be flagged) and a summary.

JSON schema ``diffy-validate/1`` (docs/validation.md documents every field)::

    {"schema": "diffy-validate/1", "engine": {...}, "summary": {...},
     "tests": [{"technique", "test", "name", "guid", "host", "batch", "exit_code", "seconds",
                "prerequisites", "prerequisites_met",
                "baseline": {"detected", "score", "finding"}, "peers": {...}, "miss_reason",
                "not_exercised"}],
     "clean_hosts": [{"host", "batch", "baseline_flagged", "peers_flagged", "finding"}],
     "excluded": {"<reason>": count}}
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from diffy_analysis.findings import HostResult

SCHEMA = "diffy-validate/1"
METHODS = ("baseline", "peers")


@dataclass
class Verdict:
    """One analysis method's view of one host."""

    detected: bool
    score: float | None = None
    finding: str | None = None
    """The top finding, "query: explanation" (what caught it), when the host was flagged."""
    top: str | None = None
    """The host's top finding whether or not it was flagged: a miss with one was seen, not judged."""
    missing: bool = False
    """The host is not in the analysis: its collection failed (the run's manifest says why)."""

    @classmethod
    def of(cls, result: HostResult | None) -> Verdict:
        if result is None:
            return cls(False, None, "host missing from the analysis", missing=True)
        top = result.findings[0] if result.findings else None
        text = f"{top.query}: {top.explanation}" if top else None
        flagged = bool(result.outlier)
        return cls(flagged, round(float(result.score), 3), text if flagged else None, text)

    def to_json(self) -> dict[str, Any]:
        return {"detected": self.detected, "score": self.score, "finding": self.finding, "top": self.top}


# What a failed command's output says about why the lab could not exercise it (the first that matches).
_CANNOT_RUN = (
    (re.compile(r"System has not been booted with systemd|Failed to connect to bus|systemctl: command not"),
     "no systemd as PID 1 in a lab host"),
    (re.compile(r"command not found|not found$|No such file or directory.*(pw|sysrc|pfctl|certctl|rpm)\b",
                re.MULTILINE), "a program it calls is absent here (or is FreeBSD/macOS/RHEL-only)"),
    (re.compile(r"Operation not permitted|Permission denied|Read-only file system"),
     "a lab host may not do it (shared kernel, read-only /proc/sys or /sys, dropped capabilities)"),
    (re.compile(r"No such file or directory|does not exist|cannot access|No such process|"
                r"not running|[Uu]nknown (user|group)"),
     "what it acts on is absent here (a file, service, user or daemon this image lacks)"),
)  # fmt: skip


NO_DURABLE_CHANGE = (
    "left no durable change: the host's files, processes, firewall rules and mounts were as before "
    "it ran, apart from what the clean hosts also changed"
)


def cannot_run_reason(execution: dict[str, Any]) -> str | None:
    """Why the lab did not exercise a test, when the run shows it did not: the command was killed,
    failed (exit != 0), or a prerequisite was not met. None when the command ran to completion."""
    code = execution.get("exit_code")
    if code is None:
        return "the command was killed at its time bound"
    if not execution.get("prerequisites_met", True):
        return "a prerequisite could not be met offline"
    if not code:
        # Measured by the lab (tools/diffy_lab/validate/hoststate.py), not read from the command:
        # None when not measured (an older coverage.json, a failed snapshot), then nothing is concluded.
        return NO_DURABLE_CHANGE if execution.get("durable_changes") == 0 else None
    if code == 127:
        return "exit 127: a program it calls is absent here (or is FreeBSD/macOS/RHEL-only)"
    output = str(execution.get("output_tail") or "")
    for pattern, reason in _CANNOT_RUN:
        if pattern.search(output):
            return f"exit {code}: {reason}"
    return f"exit {code}: the command failed"


@dataclass
class AtomicOutcome:
    technique: str
    test: int
    name: str
    guid: str
    host: str
    batch: int
    execution: dict[str, Any]
    baseline: Verdict
    peers: Verdict

    @property
    def not_exercised(self) -> str | None:
        """Why the lab could not exercise this test, when nothing caught it and the command did not
        run to completion; None otherwise. A detected test was exercised whatever its exit code, and
        a host whose collection failed is a miss (the engine lost it), never "not exercised"."""
        if self.baseline.detected or self.peers.detected or self.baseline.missing or self.peers.missing:
            return None
        return cannot_run_reason(self.execution)

    @property
    def miss_reason(self) -> str | None:
        """Why a test missed in at least one method, from what the run itself knows."""
        if self.baseline.detected and self.peers.detected:
            return None
        if self.baseline.missing or self.peers.missing:
            # e.g. a preload library that prints into every process's stdout breaks the module's JSON
            return "the host's collection failed after the test (the results' manifest says why)"
        if self.execution.get("exit_code") is None:
            return "the command timed out (killed)"
        if not self.execution.get("prerequisites_met", True):
            return "a prerequisite could not be met offline"
        if self.execution.get("exit_code"):
            return f"the command failed (exit {self.execution['exit_code']}); it may have changed nothing"
        if self.baseline.detected:
            return "peers: the host's difference did not pass the peers gate"
        if self.peers.detected:
            return "baseline: the host's difference did not pass the baseline verdict"
        if self.baseline.top or self.peers.top:
            return "collected and different, but the engine's verdict did not flag the host"
        return "nothing the pack collects differed from the clean host"

    def to_json(self) -> dict[str, Any]:
        return {
            "technique": self.technique, "test": self.test, "name": self.name, "guid": self.guid,
            **self.execution, "lab_host": self.execution.get("host"), "host": self.host, "batch": self.batch,
            "baseline": self.baseline.to_json(), "peers": self.peers.to_json(),
            "miss_reason": self.miss_reason, "not_exercised": self.not_exercised,
        }  # fmt: skip


@dataclass
class CleanOutcome:
    host: str
    batch: int
    baseline: Verdict
    peers: Verdict

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host, "batch": self.batch, "baseline_flagged": self.baseline.detected,
            "peers_flagged": self.peers.detected, "finding": self.baseline.finding or self.peers.finding,
        }  # fmt: skip


@dataclass
class Coverage:
    tests: list[AtomicOutcome] = field(default_factory=list)
    clean: list[CleanOutcome] = field(default_factory=list)
    excluded: Counter = field(default_factory=Counter)
    engine: dict[str, Any] = field(default_factory=dict)
    """Facts about how it ran: collector, reference fleet size, batches, seconds."""

    def summary(self) -> dict[str, Any]:
        """Rates over every test run ("rate") and over the tests the lab exercised
        ("rate_exercised"): a test not exercised is neither detected nor missed, and is listed
        with its reason; every other undetected test is a miss."""
        n = len(self.tests)
        unexercised = [t for t in self.tests if t.not_exercised]
        exercised = n - len(unexercised)
        out: dict[str, Any] = {"tests_run": n, "exercised": exercised, "not_exercised": len(unexercised)}
        out["not_exercised_by_reason"] = dict(Counter(t.not_exercised for t in unexercised).most_common())
        for method in METHODS:
            hit = sum(getattr(t, method).detected for t in self.tests)
            out[method] = {
                "detected": hit, "missed": exercised - hit, "rate": round(hit / n, 4) if n else None,
                "rate_exercised": round(hit / exercised, 4) if exercised else None,
            }  # fmt: skip
        out["either"] = sum(t.baseline.detected or t.peers.detected for t in self.tests)
        # A detection on a host where the lab measured no durable change: a gap in what the lab
        # snapshots (hoststate.ROOTS), which would make the rule above hide real misses.
        out["detected_without_durable_change"] = sum(
            (t.baseline.detected or t.peers.detected) and t.execution.get("durable_changes") == 0
            for t in self.tests
        )
        out["clean_hosts"] = len(self.clean)
        out["clean_hosts_flagged"] = sum(c.baseline.detected or c.peers.detected for c in self.clean)
        out["techniques"] = len({t.technique for t in self.tests})
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "engine": self.engine,
            "summary": self.summary(),
            "tests": [t.to_json() for t in self.tests],
            "clean_hosts": [c.to_json() for c in self.clean],
            "excluded": dict(self.excluded.most_common()),
        }
