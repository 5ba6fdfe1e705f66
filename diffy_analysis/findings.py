"""The findings model: what an analysis concluded, and the only thing reporters and stores see.

An ``Analysis`` is produced by ``diffy_analysis.analyze`` (baseline or peers method) and rendered by
``diffy_analysis.report`` (terminal, JSON, HTML) or indexed by ``diffy_analysis.store``.  Its JSON form
is the "diffy-analysis/1" document described in docs/analysis-format.md and its schema.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from diffy_analysis.contract import ANALYSIS_FORMAT
from diffy_analysis.finding_facts import (
    Change,
    Facts,
    Method,
    population_sentence,
    says_fleet_count,
    sentence,
)

__all__ = [
    "Analysis",
    "Campaign",
    "CampaignArtifact",
    "Change",
    "Cluster",
    "Confidence",
    "Dendrogram",
    "Facts",
    "Finding",
    "FindingKind",
    "FleetChange",
    "HostResult",
    "Method",
    "PopulationDifference",
    "QueryGap",
    "SinceComparison",
    "SkippedHost",
    "Strength",
    "population_sentence",
    "says_fleet_count",
    "sentence",
]

FindingKind = Literal["added", "missing", "changed"]
Strength = Literal["strong", "weak"]


@dataclass(frozen=True)
class Finding:
    """One row that makes a host differ from its reference (baseline or peers)."""

    query: str
    kind: FindingKind
    row: dict[str, str]
    """The row as collected, before normalization (for ``missing``: the reference's row)."""
    explanation: str
    """Plain words a responder can act on, e.g. "listens on tcp/4444 (nc); on 1 of 250 hosts":
    ``sentence()`` of ``facts``.  Reporters render from the facts and never parse it."""
    weight: float
    """Contribution to the host's score; findings are ordered by it."""
    changed_columns: tuple[str, ...] = ()
    reference_row: dict[str, str] | None = None
    """For ``changed``: the baseline's (or peers' usual) row with the same key."""
    hosts_with_row: int | None = None
    """How many compared hosts have this (normalized) row; None in baseline mode."""
    hosts_compared: int | None = None
    prevalence: float | None = None
    """hosts_with_row / hosts_compared (0..1); None in baseline mode."""
    strength: Strength = "strong"
    """``weak``: evidence that varies on almost every host (a random port, a per-host name)."""
    facts: Facts | None = None
    """What ``explanation`` is made of (additive to diffy-analysis/1; None in older documents)."""

    def to_json(self) -> dict[str, Any]:
        return _with_facts(self, asdict(self))


def _with_facts(
    item: Finding | PopulationDifference | CampaignArtifact, doc: dict[str, Any]
) -> dict[str, Any]:
    """The JSON form: ``facts`` last (additive) and only when known, so older readers see what they did."""
    if "changed_columns" in doc:
        doc["changed_columns"] = list(doc["changed_columns"])
    del doc["facts"]
    if item.facts is not None:
        doc["facts"] = item.facts.to_json()
    return doc


@dataclass(frozen=True)
class QueryGap:
    """A query that could not be collected on a host: shown in every report, never hidden."""

    query: str
    status: str  # error | unsupported | timeout | gap | missing
    error: str | None = None


@dataclass(frozen=True)
class HostResult:
    host: str
    host_id: str
    score: float
    outlier: bool
    cluster: int | None
    findings: tuple[Finding, ...]
    run_id: str | None = None
    gaps: tuple[QueryGap, ...] = ()
    identity: dict[str, Any] = field(default_factory=dict)
    """hostname, cloud.instance_id, region, ... as recorded in host.json (for reports and stores)."""
    notes: tuple[str, ...] = ()
    """What the loader had to repair to read this host (e.g. invalid UTF-8 replaced): shown in reports."""

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "host_id": self.host_id,
            "run_id": self.run_id,
            "score": round(self.score, 6),
            "outlier": self.outlier,
            "cluster": self.cluster,
            "identity": self.identity,
            "findings": [f.to_json() for f in self.findings],
            "gaps": [asdict(g) for g in self.gaps],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Cluster:
    id: int
    size: int
    hosts: tuple[str, ...]
    outlier: bool = False
    """True for a tiny cluster whose members are all flagged."""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "size": self.size, "hosts": list(self.hosts), "outlier": self.outlier}


@dataclass(frozen=True)
class SkippedHost:
    """A host that was not analysed, and why (unreachable, failed collection, unusable files)."""

    host: str
    reason: str
    status: str = "invalid"  # unreachable | failed | invalid
    run_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PopulationDifference:
    """Baseline method: a difference from the baseline shared by a large part of the fleet.

    A legitimate population (half the fleet on a newer package) is reported once here and not held
    against its hosts; see docs/analysis.md.
    """

    query: str
    kind: FindingKind
    row: dict[str, str]
    explanation: str
    hosts: int
    """How many analysed hosts share this difference."""
    hosts_compared: int
    changed_columns: tuple[str, ...] = ()
    reference_row: dict[str, str] | None = None
    facts: Facts | None = None
    """What ``explanation`` is made of (additive; the count is ``hosts`` of ``hosts_compared``)."""

    def to_json(self) -> dict[str, Any]:
        return _with_facts(self, asdict(self))


@dataclass(frozen=True)
class CampaignArtifact:
    """A decisive row shared by hosts of one campaign."""

    query: str
    kind: FindingKind
    row: dict[str, str]
    hosts: int
    """How many hosts of the campaign hold it."""
    explanation: str
    facts: Facts | None = None
    """What ``explanation`` is made of (additive)."""

    @property
    def words(self) -> str:
        return self.facts.statement if self.facts is not None else self.explanation

    def to_json(self) -> dict[str, Any]:
        return _with_facts(self, asdict(self))


@dataclass(frozen=True)
class Campaign:
    """Flagged hosts that share security-significant artifacts most of the fleet lacks."""

    id: int
    hosts: tuple[str, ...]
    artifacts: tuple[CampaignArtifact, ...]

    @property
    def summary(self) -> str:
        shown = " and ".join(f"{a.query} row {a.words}" for a in self.artifacts[:2])
        more = f" (+{len(self.artifacts) - 2} more)" if len(self.artifacts) > 2 else ""
        return f"campaign: {len(self.hosts)} hosts share {shown}{more}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "hosts": list(self.hosts),
            "summary": self.summary,
            "artifacts": [a.to_json() for a in self.artifacts],
        }


@dataclass(frozen=True)
class Confidence:
    """What the number of analysed hosts can and cannot tell (docs/analysis.md)."""

    level: str  # insufficient | low | moderate | high
    hosts: int
    statement: str
    can_tell: tuple[str, ...] = ()
    cannot_tell: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "hosts": self.hosts,
            "statement": self.statement,
            "can_tell": list(self.can_tell),
            "cannot_tell": list(self.cannot_tell),
        }


@dataclass(frozen=True)
class Dendrogram:
    """What a report needs to draw the clustering without importing scipy's analysis code."""

    linkage: tuple[tuple[float, float, float, float], ...]
    """scipy linkage matrix rows (idx1, idx2, distance, count) over ``labels``."""
    labels: tuple[str, ...]
    """One label per leaf: a host, or "host (+N identical)" when identical hosts were collapsed."""
    cut_distance: float

    def to_json(self) -> dict[str, Any]:
        return {
            "linkage": [list(r) for r in self.linkage],
            "labels": list(self.labels),
            "cut_distance": self.cut_distance,
        }


@dataclass(frozen=True)
class FleetChange:
    """`--since`: a row that appeared in, or disappeared from, an app's fleet between two runs."""

    query: str
    kind: Literal["appeared", "disappeared"]
    row: dict[str, str]
    """The normalized row (identity masked, volatile columns dropped)."""
    explanation: str
    hosts: int
    """Hosts holding the row in the run where it exists (the current run for ``appeared``)."""
    hosts_compared: int
    """That run's fleet size."""
    host_names: tuple[str, ...] = ()
    """Up to 20 of those hosts."""

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["host_names"] = list(self.host_names)
        return doc


@dataclass(frozen=True)
class SinceComparison:
    """`--since`: what changed fleet-wide between an earlier run of the app and this one.

    Fleets are compared, not hosts: instance ids change as clusters roll (analyze/since.py)."""

    previous_run: str
    current_run: str
    previous_hosts: int
    current_hosts: int
    changes: tuple[FleetChange, ...]
    queries_not_compared: tuple[str, ...] = ()
    """Queries collected in only one of the two runs (their rows would all look new or gone)."""
    hosts_kept: int = 0
    """Instance ids present in both runs (the rest were replaced as the fleet rolled)."""
    truncated: int = 0
    """Changes left out beyond the limit (counted, not listed)."""

    @property
    def appeared(self) -> tuple[FleetChange, ...]:
        return tuple(c for c in self.changes if c.kind == "appeared")

    @property
    def disappeared(self) -> tuple[FleetChange, ...]:
        return tuple(c for c in self.changes if c.kind == "disappeared")

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["changes"] = [c.to_json() for c in self.changes]
        doc["queries_not_compared"] = list(self.queries_not_compared)
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> SinceComparison:
        changes = tuple(
            FleetChange(**{**c, "host_names": tuple(c.get("host_names") or ())}) for c in doc["changes"]
        )
        fields = {k: v for k, v in doc.items() if k not in ("changes", "queries_not_compared")}
        return cls(
            **fields, changes=changes, queries_not_compared=tuple(doc.get("queries_not_compared") or ())
        )


@dataclass(frozen=True)
class Analysis:
    method: Method
    run_ids: tuple[str, ...]
    hosts: tuple[HostResult, ...]
    """Sorted by score descending, then host name: stable and deterministic."""
    clusters: tuple[Cluster, ...] = ()
    skipped: tuple[SkippedHost, ...] = ()
    baseline: str | None = None
    """Name or path of the baseline (baseline method)."""
    app: str | None = None
    dendrogram: Dendrogram | None = None
    pack: dict[str, Any] = field(default_factory=dict)
    """Pack name and sha256, and per-query description/value lines for explanations in reports."""
    settings: dict[str, Any] = field(default_factory=dict)
    """Cut thresholds and similar parameters actually used, for transparency."""
    population_differences: tuple[PopulationDifference, ...] = ()
    """Baseline method: differences shared by a large part of the fleet (additive, diffy-analysis/1)."""
    campaigns: tuple[Campaign, ...] = ()
    """Groups of flagged hosts sharing decisive artifacts (additive, diffy-analysis/1)."""
    confidence: Confidence | None = None
    """What this many hosts can and cannot tell (additive, diffy-analysis/1)."""
    since: SinceComparison | None = None
    """`--since`: rows that appeared or disappeared fleet-wide since an earlier run (additive)."""

    @property
    def outliers(self) -> tuple[HostResult, ...]:
        return tuple(h for h in self.hosts if h.outlier)

    @property
    def exit_code(self) -> int:
        """diff(1) convention: 1 when outliers/differences (or rows new since --since) were found,
        else 0; but 2 whenever a host of the run could not be collected or analysed (``skipped``),
        whatever was found on the others: a host an attacker took off the run (sshd killed, a table
        inflated past the cap) must never yield a clean-looking exit status.  The findings are
        reported all the same."""
        if self.skipped:
            return 2
        return 1 if self.outliers or (self.since and self.since.appeared) else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "format": ANALYSIS_FORMAT,
            "method": self.method,
            "run_ids": list(self.run_ids),
            "app": self.app,
            "baseline": self.baseline,
            "summary": {
                "hosts_analysed": len(self.hosts),
                "hosts_skipped": len(self.skipped),
                "outliers": len(self.outliers),
            },
            "hosts": [h.to_json() for h in self.hosts],
            "clusters": [c.to_json() for c in self.clusters],
            "skipped": [s.to_json() for s in self.skipped],
            "dendrogram": self.dendrogram.to_json() if self.dendrogram else None,
            "pack": self.pack,
            "settings": self.settings,
            "population_differences": [p.to_json() for p in self.population_differences],
            "campaigns": [c.to_json() for c in self.campaigns],
            "confidence": self.confidence.to_json() if self.confidence else None,
            **({"since": self.since.to_json()} if self.since else {}),
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Analysis:
        """Rebuild an Analysis from its JSON form (used by `diffy report` and the store)."""

        def finding(d: dict[str, Any]) -> Finding:
            d = dict(d)
            d["changed_columns"] = tuple(d.get("changed_columns") or ())
            d["facts"] = Facts.from_json(d.get("facts"))
            return Finding(**d)

        hosts = tuple(
            HostResult(
                host=h["host"],
                host_id=h["host_id"],
                run_id=h.get("run_id"),
                score=h["score"],
                outlier=h["outlier"],
                cluster=h.get("cluster"),
                identity=h.get("identity") or {},
                findings=tuple(finding(f) for f in h["findings"]),
                gaps=tuple(QueryGap(**g) for g in h.get("gaps") or ()),
                notes=tuple(h.get("notes") or ()),
            )
            for h in doc["hosts"]
        )
        dendro = doc.get("dendrogram")
        return cls(
            method=doc["method"],
            run_ids=tuple(doc["run_ids"]),
            hosts=hosts,
            clusters=tuple(
                Cluster(c["id"], c["size"], tuple(c["hosts"]), c.get("outlier", False))
                for c in doc.get("clusters") or ()
            ),
            skipped=tuple(SkippedHost(**s) for s in doc.get("skipped") or ()),
            baseline=doc.get("baseline"),
            app=doc.get("app"),
            dendrogram=Dendrogram(
                linkage=tuple(tuple(r) for r in dendro["linkage"]),
                labels=tuple(dendro["labels"]),
                cut_distance=dendro["cut_distance"],
            )
            if dendro
            else None,
            pack=doc.get("pack") or {},
            settings=doc.get("settings") or {},
            population_differences=tuple(
                PopulationDifference(
                    **{
                        **p,
                        "changed_columns": tuple(p.get("changed_columns") or ()),
                        "facts": Facts.from_json(p.get("facts")),
                    }
                )
                for p in doc.get("population_differences") or ()
            ),
            campaigns=tuple(
                Campaign(
                    id=c["id"],
                    hosts=tuple(c["hosts"]),
                    artifacts=tuple(
                        CampaignArtifact(**{**a, "facts": Facts.from_json(a.get("facts"))})
                        for a in c.get("artifacts") or ()
                    ),
                )
                for c in doc.get("campaigns") or ()
            ),
            confidence=Confidence(
                **{
                    **doc["confidence"],
                    "can_tell": tuple(doc["confidence"].get("can_tell") or ()),
                    "cannot_tell": tuple(doc["confidence"].get("cannot_tell") or ()),
                }
            )
            if doc.get("confidence")
            else None,
            since=SinceComparison.from_json(doc["since"]) if doc.get("since") else None,
        )
