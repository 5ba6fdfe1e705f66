"""Plain words shared by the reporters: verdict, prevalence, counts of what could not be collected.

The terminal and HTML reports must say the same thing in the same words; this module is where those
words are made.  Everything returned here has already been through ``safe_text`` (printable,
bounded), but it is *not* markup-escaped: each reporter escapes for its own medium.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from diffy_analysis.findings import (
    Analysis,
    Finding,
    HostResult,
    PopulationDifference,
    population_sentence,
    says_fleet_count,
    sentence,
)
from diffy_analysis.report._escape import safe_text, shorten, to_text

# How many outliers the verdict names before it says "and N more".
VERDICT_HOSTS = 5
# How many findings describe a host in the verdict and in the ranked table.
# How many findings describe a host in the verdict: two for a few hosts, one when there are more.
VERDICT_FINDINGS = 2
VERDICT_FINDINGS_MANY = 1
SHORT_FINDING_CHARS = 72

SKIP_STATUS_WORDS = {
    "unreachable": "unreachable",
    "failed": "collection failed",
    "invalid": "unusable results",
}


def n_hosts(count: int) -> str:
    return f"{count:,} host" if count == 1 else f"{count:,} hosts"


def prevalence_text(finding: Finding) -> str | None:
    """ "on 1 of 250 hosts" for peers findings; None when the analysis did not count (baseline)."""
    if finding.hosts_with_row is None or not finding.hosts_compared:
        return None
    counted = f"on {finding.hosts_with_row:,} of {finding.hosts_compared:,} hosts"
    # For a missing row the count is of the hosts that do have it.
    return f"present {counted}" if finding.kind == "missing" else counted


def _sentence(finding: Finding, *, counts: bool) -> str:
    """The finding's line worded from its facts.  A finding without facts (a document written before
    they existed, a hand-made finding) keeps its sentence as written, never parsed: the reports then
    add the count and the changed columns to it, as for a sentence that does not carry them."""
    if finding.facts is None:
        return finding.explanation.strip() or f"{finding.kind} row in {finding.query}"
    return sentence(
        finding.kind, finding.facts, finding.hosts_with_row, finding.hosts_compared, counts=counts
    )


def finding_words(
    finding: Finding, limit: int | None = 300, *, short: bool = False, prevalence: bool = True
) -> str:
    """The finding's line, with the fleet count appended when the line does not carry it.

    ``short``: for table cells -- the line without counts cut with an ellipsis at ``limit``
    characters, then the prevalence, so the count is never what gets cut.  ``prevalence=False``: for
    tables that show the count in a column of its own (the line is kept whole)."""
    if short:
        words = shorten(plain_words(finding), limit or SHORT_FINDING_CHARS)
        counted = prevalence_text(finding)
        return f"{words}, {counted}" if counted else words
    words = _sentence(finding, counts=True)
    said = finding.facts is not None and says_fleet_count(
        finding.kind, finding.facts, finding.hosts_with_row, finding.hosts_compared
    )
    counted = prevalence_text(finding) if prevalence and not said else None
    if counted:
        words = f"{words}, {counted}"
    if finding.facts is None and finding.changed_columns:
        words = f"{words} (changed: {', '.join(finding.changed_columns)})"
    return safe_text(words, limit)


def weak_note_shown(finding: Finding, limit: int | None = 300, *, short: bool = False) -> bool:
    """Does ``finding_words(finding, limit, short=short)`` show the words "weak evidence" of the
    facts' note (not cut off)?  Reporters add a "(weak evidence)" mark when it does not."""
    if finding.facts is None or not finding.facts.weak:
        return False
    # The note comes last in the line: what precedes its label is the line worded without it.
    counts = not short
    full = _sentence(finding, counts=counts)
    label = _sentence(replace(finding, facts=replace(finding.facts, weak=None)), counts=counts)
    label += "; weak evidence"
    if short:  # as shorten() cuts: escaped text, at limit - 1 characters plus an ellipsis
        cut = limit or SHORT_FINDING_CHARS
        return len(safe_text(full[: cut * 2], None)) <= cut or len(safe_text(label, None)) <= cut - 1
    return limit is None or len(label) <= limit  # as safe_text() cuts: before escaping


def population_words(difference: PopulationDifference, limit: int | None = 300) -> str:
    """A difference from the baseline shared by many hosts, with how many share it."""
    if difference.facts is None:
        words = difference.explanation.strip() or f"{difference.kind} row in {difference.query}"
        words = f"{words}, on {difference.hosts:,} of {difference.hosts_compared:,} hosts"
    else:
        words = population_sentence(
            difference.kind, difference.facts, difference.hosts, difference.hosts_compared
        )
    return safe_text(words, limit)


def plain_words(finding: Finding) -> str:
    """The finding's line without its counts (raw: not yet made safe)."""
    return _sentence(finding, counts=False)


def short_words(finding: Finding) -> str:
    """A few words for the one-line verdict: the line without its counts, cut short."""
    return shorten(plain_words(finding), SHORT_FINDING_CHARS)


def top_findings(host: HostResult, count: int) -> list[Finding]:
    """The ``count`` most important findings, strong evidence before weak (order kept otherwise)."""
    ordered = sorted(host.findings, key=lambda f: f.strength == "weak")
    return ordered[:count]


def host_name(host: HostResult | str) -> str:
    return safe_text(host if isinstance(host, str) else host.host, 120)


def verdict_lines(analysis: Analysis) -> list[str]:
    """The verdict, one line, plus one line on what was not analysed when anything was not."""
    lines = [_verdict(analysis)]
    missing = not_analysed_line(analysis)
    if missing:
        lines.append(missing)
    return lines


def _verdict(analysis: Analysis) -> str:
    total = len(analysis.hosts)
    outliers = analysis.outliers
    if total == 0:
        return f"No host could be analysed ({n_hosts(len(analysis.skipped))} skipped)."
    if not outliers:
        if analysis.method == "baseline":
            return f"No host differs from the baseline ({n_hosts(total)} compared)."
        return f"No host stands out ({n_hosts(total)} analysed)."
    named = []
    for host in outliers[:VERDICT_HOSTS]:
        count = VERDICT_FINDINGS if len(outliers) <= 3 else VERDICT_FINDINGS_MANY
        words = [short_words(f) for f in top_findings(host, count)]
        named.append(f"{host_name(host)} ({', '.join(words)})" if words else host_name(host))
    if len(outliers) > VERDICT_HOSTS:
        named.append(f"and {len(outliers) - VERDICT_HOSTS:,} more")
    if analysis.method == "baseline":
        what = "differs" if len(outliers) == 1 else "differ"
        baseline = f" {shorten(analysis.baseline, 60)}" if analysis.baseline else ""
        return f"{len(outliers):,} of {n_hosts(total)} {what} from the baseline{baseline}: " + ", ".join(
            named
        )
    what = "stands" if len(outliers) == 1 else "stand"
    return f"{len(outliers):,} of {n_hosts(total)} {what} out: " + ", ".join(named)


def skipped_counts(analysis: Analysis) -> Counter[str]:
    return Counter(s.status for s in analysis.skipped)


def not_analysed_line(analysis: Analysis) -> str | None:
    """ "3 hosts were not analysed (2 unreachable, 1 collection failed); 4 hosts have queries not
    collected." -- or None when everything was collected."""
    parts = []
    if analysis.skipped:
        counts = skipped_counts(analysis)
        detail = ", ".join(
            f"{n:,} {SKIP_STATUS_WORDS.get(status, safe_text(status, 40))}" for status, n in counts.items()
        )
        verb = "was" if len(analysis.skipped) == 1 else "were"
        parts.append(f"{n_hosts(len(analysis.skipped))} {verb} not analysed ({detail})")
    with_gaps = sum(1 for h in analysis.hosts if h.gaps)
    if with_gaps:
        verb = "has" if with_gaps == 1 else "have"
        parts.append(f"{n_hosts(with_gaps)} {verb} queries that were not collected")
    if not parts:
        return None
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


@dataclass(frozen=True)
class GapGroup:
    """One query that could not be collected, with the same status, on one or more hosts."""

    query: str
    status: str
    hosts: tuple[str, ...]
    errors: tuple[str, ...]
    """Distinct error messages (safe text), at most a few."""


def gap_groups(analysis: Analysis, max_errors: int = 3) -> list[GapGroup]:
    """Query gaps grouped by (query, status), the most widespread first."""
    hosts: dict[tuple[str, str], list[str]] = {}
    errors: dict[tuple[str, str], list[str]] = {}
    for host in analysis.hosts:
        for gap in host.gaps:
            key = (gap.query, gap.status)
            hosts.setdefault(key, []).append(host.host)
            if gap.error:
                msg = safe_text(gap.error, 200)
                seen = errors.setdefault(key, [])
                if msg not in seen and len(seen) < max_errors:
                    seen.append(msg)
    groups = [
        GapGroup(
            query=safe_text(query, 120),
            status=safe_text(status, 40),
            hosts=tuple(host_name(h) for h in names),
            errors=tuple(errors.get((query, status), ())),
        )
        for (query, status), names in hosts.items()
    ]
    return sorted(groups, key=lambda g: (-len(g.hosts), g.query, g.status))


def summary_items(analysis: Analysis) -> list[tuple[str, str]]:
    """(label, value) pairs for the summary block of every report."""
    counts = skipped_counts(analysis)
    outliers_label = "hosts that differ" if analysis.method == "baseline" else "outliers"
    items = [
        ("method", analysis.method),
        ("app", safe_text(analysis.app, 120) if analysis.app else "(not recorded)"),
    ]
    if analysis.method == "baseline":
        items.append(("baseline", safe_text(analysis.baseline, 200) if analysis.baseline else "(unnamed)"))
    items += [
        ("runs", ", ".join(safe_text(r, 80) for r in analysis.run_ids) or "(none)"),
        ("hosts analysed", f"{len(analysis.hosts):,}"),
        ("hosts skipped", f"{len(analysis.skipped):,}"),
        ("  unreachable", f"{counts.get('unreachable', 0):,}"),
        ("  collection failed", f"{counts.get('failed', 0):,}"),
        ("  unusable results", f"{counts.get('invalid', 0):,}"),
    ]
    other = sum(n for status, n in counts.items() if status not in SKIP_STATUS_WORDS)
    if other:
        items.append(("  other", f"{other:,}"))
    items += [
        (outliers_label, f"{len(analysis.outliers):,}"),
        ("hosts with queries not collected", f"{sum(1 for h in analysis.hosts if h.gaps):,}"),
    ]
    if analysis.clusters:
        items.append(("clusters", f"{len(analysis.clusters):,}"))
    return items


# Identity facts worth a responder's glance, first; the rest follow in their recorded order.
IDENTITY_FIRST = (
    "hostname",
    "instance_id",
    "region",
    "availability_zone",
    "instance_type",
    "ipv4",
    "image_id",
)


def identity_text(host: HostResult, limit: int = 4) -> str:
    """A few identity facts (hostname, instance id, region ...) as "key=value" pairs, flattened.

    Facts equal to the host's name are left out (it is already shown)."""
    flat: list[tuple[str, str]] = []

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, list | tuple):
            if value:
                flat.append((prefix, safe_text(", ".join(to_text(v) for v in value), 80)))
        elif value not in (None, "") and value != host.host:
            flat.append((prefix, safe_text(value, 80)))

    walk("", host.identity)

    def rank(item: tuple[str, str]) -> int:
        last = item[0].rsplit(".", 1)[-1]
        return IDENTITY_FIRST.index(last) if last in IDENTITY_FIRST else len(IDENTITY_FIRST)

    flat.sort(key=rank)  # stable: unknown keys keep their order
    return ", ".join(f"{safe_text(k, 40)}={v}" for k, v in flat[:limit])
