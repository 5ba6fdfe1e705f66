"""Plain-English explanations of findings, per table, that a responder can act on.

``describe(query, row)`` says what a row *is* ("listens on tcp 0.0.0.0:4444 (process nc,
/usr/bin/nc)"); ``facts(...)`` adds what is wrong with it, as data (``finding_facts.Facts``), and
``explain(...)`` words those facts with how common the row is ("...; on 1 of 250 hosts"). Unknown
queries fall back to ``query: col=value, ...``. Values are shortened and control characters
escaped, so hostile data cannot break a terminal or a report line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from diffy_analysis.finding_facts import Change, Facts, sentence
from diffy_analysis.tables import REGISTRY
from diffy_analysis.tables.text import FAMILIES, MAX_VALUE, PROTOCOLS, clip, short_hash

__all__ = ["FAMILIES", "MAX_VALUE", "PROTOCOLS", "Context", "clip", "describe", "explain", "facts"]

# Describers, subject columns and prefixes are declared per table in the registry
# (diffy_analysis/tables/); the text helpers live with them.
DESCRIBERS: dict[str, Callable[[Mapping[str, str]], str]] = REGISTRY.describers()
_SUBJECTS = REGISTRY.subjects()
_short_hash = short_hash


def describe(query: str, row: Mapping[str, str]) -> str:
    """What the row is, in words."""
    describer = DESCRIBERS.get(query)
    if describer is not None:
        try:
            return describer(row)
        except (KeyError, TypeError, ValueError):
            pass
    shown = ", ".join(f"{clip(k, 40)}={clip(v, 60)}" for k, v in list(row.items())[:6])
    return f"{clip(query, 60)}: {shown}"


def _subject(query: str, row: Mapping[str, str], columns: Sequence[str]) -> str:
    """The thing that changed, named by its identifying columns."""
    column, prefix = _SUBJECTS.get(query, (None, ""))
    if column and row.get(column):
        return prefix + clip(row[column])
    return describe(query, {k: v for k, v in row.items() if k not in columns})


def _value(column: str, value: str | None) -> str:
    return _short_hash(value) if column in ("sha256", "md5", "sha1", "key") else clip(value, 60)


@dataclass(frozen=True)
class Context:
    """How common a row is: in the fleet, and among the host's reference peers."""

    method: str  # peers | baseline
    hosts_with_row: int | None = None
    hosts_compared: int | None = None
    peers_with_row: int | None = None
    peers: int | None = None
    varying_column: str | None = None
    weak: bool = False
    reason: str | None = None


def _clipped(row: Mapping[str, str]) -> dict[str, str]:
    return {clip(k, 60): clip(v, 2 * MAX_VALUE) for k, v in row.items()}


def _named(query: str, row: Mapping[str, str], keys: Sequence[str]) -> tuple[str | None, str | None]:
    """(column, value) naming what the row is about: the table's subject column, else a key column."""
    column = _SUBJECTS.get(query, (None, ""))[0]
    for candidate in (column, *keys):
        if candidate and row.get(candidate):
            return candidate, row[candidate]
    return None, None


def _weak(ctx: Context) -> str | None:
    if not ctx.weak:
        return None
    if ctx.varying_column:
        return f"{ctx.varying_column} differs on almost every host"
    return ctx.reason or "common elsewhere in the fleet"


def facts(
    query: str,
    kind: str,
    row: Mapping[str, str],
    ctx: Context,
    *,
    reference_row: Mapping[str, str] | None = None,
    changed_columns: Sequence[str] = (),
    keys: Sequence[str] = (),
    significance: float | None = None,
) -> Facts:
    """What the finding's sentence says, as data: what the row is and how it differs, its subject,
    the changed values, the peers' count and why the evidence is weak (``explain`` words them)."""
    # Every value may come from an attacker-controlled host: shorten and escape names and values
    # once, here, so no template can put a 100000-digit port or a lone surrogate into a report line.
    row = _clipped(row)
    reference_row = _clipped(reference_row) if reference_row is not None else None
    changed_columns = [clip(c, 60) for c in changed_columns]
    peers_text = f"{ctx.peers_with_row} of {ctx.peers} peers" if ctx.peers else ""
    changes: tuple[Change, ...] = ()
    if kind == "added":
        statement = describe(query, row)
        if ctx.method == "baseline":
            statement += " added (not on the baseline)"
    elif kind == "missing":
        statement = describe(query, row) + " is missing"
        if ctx.method == "baseline":
            statement += " (present on the baseline)"
    else:
        subject = _subject(query, row, changed_columns)
        reference_row = reference_row or {}
        changes = tuple(Change(c, reference_row.get(c), row.get(c)) for c in changed_columns)
        shown = ", ".join(
            f"{c.column} {_value(c.column, c.before)} -> {_value(c.column, c.after)}" for c in changes
        )
        cols = "/".join(changed_columns) or "row"
        if ctx.method == "baseline":
            statement = f"{subject}: {cols} differs from the baseline ({shown})"
        else:
            statement = f"{subject}: {cols} differs from {peers_text or 'its peers'} ({shown})"
    column, value = _named(query, row, [clip(k, 60) for k in keys])
    return Facts(
        subject_column=column,
        subject=value,
        statement=statement,
        compared_with="baseline" if ctx.method == "baseline" else "peers",
        changes=changes,
        peers_with_row=ctx.peers_with_row,
        peers=ctx.peers,
        weak=_weak(ctx),
        significance=significance,
    )


def explain(
    query: str,
    kind: str,
    row: Mapping[str, str],
    ctx: Context,
    *,
    reference_row: Mapping[str, str] | None = None,
    changed_columns: Sequence[str] = (),
) -> str:
    """One line: what the row is, what is wrong with it, how common it is."""
    found = facts(query, kind, row, ctx, reference_row=reference_row, changed_columns=changed_columns)
    return sentence(kind, found, ctx.hosts_with_row, ctx.hosts_compared)
