"""A finding's facts: what its one-line explanation is made of, as data, and the one function that
assembles the line from them.

analyze/explain.py builds the facts where it builds the sentence (``explanation`` is
``sentence(...)`` of them), so the two cannot drift; the reporters render their own forms (short,
counted, without counts) from the facts and never parse the sentence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

Method = Literal["peers", "baseline"]


@dataclass(frozen=True)
class Change:
    """One column of a ``changed`` finding: the reference's value and this host's (as in the sentence:
    shortened and escaped)."""

    column: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Facts:
    """What a finding's sentence is made of, as data, built where the sentence is built
    (analyze/explain.py): reporters and stores render from these and never parse the sentence.

    The counts of the fleet (``hosts_with_row`` of ``hosts_compared``) stay on the finding itself."""

    subject_column: str | None
    """The column naming what the row is about (the table's subject, else its first key column)."""
    subject: str | None
    """That column's value: the path, user, unit, port... (shortened and escaped)."""
    statement: str
    """What the row is and how it differs from its reference, without the fleet count or the
    weak-evidence note: "kernel module x (Live)", "... is missing", "/etc/passwd: sha256 differs from
    the baseline (...)"."""
    compared_with: Method
    """``peers`` (the host's reference population) or ``baseline``."""
    changes: tuple[Change, ...] = ()
    peers_with_row: int | None = None
    """Peers method: how many of the host's reference peers have the row (``missing``, ``changed``)."""
    peers: int | None = None
    weak: str | None = None
    """Why the evidence is weak, in words ("port differs on almost every host"); None when strong."""
    significance: float | None = None
    """The table's significance (0..1), which the finding's weight is scaled by."""

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["changes"] = [asdict(c) for c in self.changes]
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any] | None) -> Facts | None:
        if not doc:
            return None
        # Fields a later version may add are left out rather than refused (the facts are additive).
        known = {f.name for f in fields(cls)}
        changes = tuple(
            Change(c.get("column", ""), c.get("before"), c.get("after")) for c in doc.get("changes") or ()
        )
        return cls(**{k: v for k, v in doc.items() if k in known and k != "changes"}, changes=changes)


def says_fleet_count(kind: str, facts: Facts, hosts_with_row: int | None, hosts_compared: int | None) -> bool:
    """Does the sentence carry the fleet count itself (peers method, an added row)?"""
    return (
        facts.compared_with == "peers"
        and kind == "added"
        and hosts_with_row is not None
        and bool(hosts_compared)
    )


def sentence(
    kind: str,
    facts: Facts,
    hosts_with_row: int | None = None,
    hosts_compared: int | None = None,
    *,
    counts: bool = True,
) -> str:
    """The one-line explanation, assembled from the facts: statement; count; weak-evidence note.

    ``counts=False``: without the count clause (the short forms of the reports add their own)."""
    parts = [facts.statement]
    if counts and says_fleet_count(kind, facts, hosts_with_row, hosts_compared):
        parts.append(f"on {hosts_with_row} of {hosts_compared} hosts")
    elif counts and kind == "missing" and facts.compared_with == "peers" and facts.peers:
        parts.append(f"present on {facts.peers_with_row} of {facts.peers} peers")
    if facts.weak:
        parts.append(f"weak evidence: {facts.weak}")
    return "; ".join(parts)


def population_sentence(kind: str, facts: Facts, hosts: int, hosts_compared: int) -> str:
    """A difference from the baseline shared by ``hosts`` of ``hosts_compared``, in one line."""
    return f"{sentence(kind, facts)}; on {hosts} of {hosts_compared} hosts"
