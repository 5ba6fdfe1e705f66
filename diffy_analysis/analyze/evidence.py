"""From candidates to findings: raw evidence rows (fetched lazily) and explanations.

The index keeps normalized rows only. A finding shows the row *as collected* (pid, times and the
host's real name included), so for the hosts that matter - outliers first, then other hosts with
strong findings, up to ``EVIDENCE_HOST_LIMIT`` hosts - the host's files of the affected queries are
re-read (and re-verified against the manifest) and matched back to the normalized rows. Other
hosts' findings,
and every ``missing`` finding (the row is the reference's), show the normalized row: volatile
columns left out and identity placeholders such as ``<hostname>`` in place.
"""

from __future__ import annotations

from collections import Counter

from diffy_analysis.analyze.candidates import Candidate, order_key
from diffy_analysis.analyze.explain import Context, facts
from diffy_analysis.errors import HostDataError
from diffy_analysis.findings import Finding, sentence
from diffy_analysis.load import HostSource
from diffy_analysis.normalize.index import FleetIndex, HostEntry
from diffy_analysis.tables import REGISTRY

EVIDENCE_HOST_LIMIT = 500


def raw_rows(
    index: FleetIndex, host: HostEntry, fids: set[int], source: HostSource
) -> dict[int, dict[str, str]]:
    """The first raw row of ``host`` behind each wanted feature id (re-reads only affected queries)."""
    queries = {index.query_of(f) for f in fids}
    if not queries:
        return {}
    try:
        data = source.read_host(host.ref, queries=queries)
    except HostDataError:
        return {}  # changed since it was first read: fall back to normalized rows
    found: dict[int, dict[str, str]] = {}
    for query in sorted(queries):
        for fid, row in zip(index.lookup(data, query), data.rows.get(query, []), strict=True):
            if fid in fids and fid not in found:
                found[fid] = row
    return found


def changed_columns(index: FleetIndex, fid: int, ref_fid: int) -> tuple[str, ...]:
    row, ref = index.row(fid), index.row(ref_fid)
    return tuple(c for c in sorted(set(row) | set(ref)) if row.get(c) != ref.get(c))


_ACCOUNT_COLUMNS = REGISTRY.accounts()  # declared per table in diffy_analysis/tables/


def _subjects(index: FleetIndex, fid: int) -> set[object]:
    """What a finding is about: its table, and the account it names (user, group, sudo rule)."""
    query = index.query_of(fid)
    subjects: set[object] = {query}
    column = _ACCOUNT_COLUMNS.get(query)
    if column:
        value = index.row(fid).get(column, "").split(" ")[0]
        if value:
            subjects.add(("account", value))
    return subjects


def top_candidates(index: FleetIndex, candidates: list[Candidate], limit: int) -> list[Candidate]:
    """The ``limit`` most important candidates, in order.

    Heaviest first; among findings of about equal weight (to 0.1), different tables and accounts
    come before a second finding of the same table or account, so one artifact that shows as several
    rows (``/bin/ps`` and ``/usr/bin/ps``; a user, its group and its sudo rule) does not push another
    artifact out of a responder's first lines.
    """
    ordered = sorted(candidates, key=lambda c: order_key(c, index.key(c.fid)))
    seen: Counter[object] = Counter()
    ranked = []
    for position, cand in enumerate(ordered):
        subjects = _subjects(index, cand.fid)
        repeat = max(seen[s] for s in subjects)
        ranked.append(((-round(cand.weight, 1), cand.strength != "strong", repeat, position), cand))
        seen.update(subjects)
    ranked.sort(key=lambda item: item[0])
    return [cand for _, cand in ranked[:limit]]


def build_findings(
    index: FleetIndex,
    candidates: list[Candidate],
    *,
    method: str,
    raw: dict[int, dict[str, str]] | None = None,
) -> tuple[Finding, ...]:
    """Findings in importance order (``candidates`` already trimmed and ordered)."""
    raw = raw or {}
    out = []
    for c in candidates:
        query = index.query_of(c.fid)
        normalized = index.row(c.fid)
        row = raw.get(c.fid, normalized) if c.kind != "missing" else normalized
        reference = index.row(c.ref_fid) if c.ref_fid is not None else None
        columns = changed_columns(index, c.fid, c.ref_fid) if c.ref_fid is not None else ()
        ctx = Context(
            method=method,
            hosts_with_row=c.hosts_with_row,
            hosts_compared=c.hosts_compared,
            peers_with_row=c.peers_with_row,
            peers=c.peers,
            varying_column=c.varying_column,
            weak=c.strength == "weak",
            reason=c.reason,
        )
        # The sentence is worded from the facts it carries: one build, so the two cannot drift.
        found = facts(
            query,
            c.kind,
            row,
            ctx,
            reference_row=reference,
            changed_columns=columns,
            keys=index.rule(query).keys,
            significance=index.significance(c.fid),
        )
        prevalence = None
        if c.hosts_with_row is not None and c.hosts_compared:
            prevalence = min(1.0, round(c.hosts_with_row / c.hosts_compared, 6))
        out.append(
            Finding(
                query=query,
                kind=c.kind,  # type: ignore[arg-type]
                row=dict(row),
                explanation=sentence(c.kind, found, c.hosts_with_row, c.hosts_compared),
                weight=round(c.weight, 6),
                changed_columns=columns,
                reference_row=reference,
                hosts_with_row=c.hosts_with_row,
                hosts_compared=c.hosts_compared,
                prevalence=prevalence,
                strength=c.strength,  # type: ignore[arg-type]
                facts=found,
            )
        )
    return tuple(out)
