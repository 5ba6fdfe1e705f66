"""The HTML report's per-host sections: findings in plain words and the evidence rows as collected.

Peers method: one sortable table per query with the rows as collected and how many hosts have each.
Baseline method (and changed rows of the peers method): each row side by side with the reference's,
changed columns marked.  Every value is escaped with ``html_value`` (see ``html.py`` for the rules).
"""

from __future__ import annotations

from diffy_analysis.findings import Analysis, Finding, HostResult
from diffy_analysis.report._escape import html_text as esc
from diffy_analysis.report._escape import html_value as e
from diffy_analysis.report._escape import safe_text
from diffy_analysis.report._words import finding_words, host_name, identity_text, prevalence_text

# Findings shown (with evidence) per host section.
SECTION_FINDINGS = 60
EVIDENCE_COLUMNS = 25
# Outliers given a section (the rest are in the ranked table).
MAX_SECTION_OUTLIERS = 200


def host_sections(analysis: Analysis, sections: list[HostResult], anchors: dict[int, str]) -> str:
    out = ['<section id="details"><h2>Host details</h2>']
    if not sections:
        out.append('<p class="note">No host has findings.</p>')
    hidden = len(analysis.outliers) - min(len(analysis.outliers), MAX_SECTION_OUTLIERS)
    if hidden:
        out.append(f'<p class="note warn">Sections for {hidden:,} more outliers are not shown.</p>')
    for host in sections:
        out.append(_host_section(analysis, host, anchors[id(host)]))
    out.append("</section>")
    return "".join(out)


def _host_section(analysis: Analysis, host: HostResult, anchor: str) -> str:
    klass = "host outlier" if host.outlier else "host"
    facts = [f"score {host.score:.2f}"]
    if analysis.method == "peers":
        facts.append("no cluster" if host.cluster is None else f"cluster {host.cluster}")
    if host.run_id:
        facts.append(f"run {safe_text(host.run_id, 60)}")
    identity = identity_text(host, limit=6)
    flag = "differs" if analysis.method == "baseline" else "outlier"
    badge = f' <span class="badge outlier">{flag}</span>' if host.outlier else ""
    out = [
        f'<section class="{klass}" id="{anchor}"><h3><span class="host-name">{esc(host_name(host))}</span>'
        f"{badge}</h3>",
        f'<p class="note">{esc("; ".join(facts))}</p>',
    ]
    if identity:
        out.append(f'<p class="note">identity: {esc(identity)}</p>')
    if host.gaps:
        gaps = "; ".join(
            f"{safe_text(g.query, 60)} ({safe_text(g.status, 20)}"
            + (f": {safe_text(g.error, 160)})" if g.error else ")")
            for g in host.gaps
        )
        out.append(f'<p class="warn">Not collected on this host: {esc(gaps)}</p>')
    findings = list(host.findings[:SECTION_FINDINGS])
    if not findings:
        out.append('<p class="note">No findings.</p></section>')
        return "".join(out)
    out.append(_findings_table(findings))
    if len(host.findings) > SECTION_FINDINGS:
        out.append(
            f'<p class="note">{len(host.findings) - SECTION_FINDINGS:,} lower-weighted findings '
            "not shown.</p>"
        )
    out.append("<h4>Evidence, as collected</h4>")
    if analysis.method == "baseline":
        out.extend(_side_by_side(f, "baseline") for f in findings)
    else:
        out.append(_evidence_tables(findings))
        out.extend(_side_by_side(f, "peers' usual row") for f in findings if f.kind == "changed")
    out.append("</section>")
    return "".join(out)


def _kind_badge(finding: Finding) -> str:
    badge = f'<span class="badge {e(finding.kind, 20)}">{e(finding.kind, 20)}</span>'
    if finding.strength == "weak":
        badge += ' <span class="badge weak">weak</span>'
    return badge


def _findings_table(findings: list[Finding]) -> str:
    out = [
        '<table class="sortable findings"><thead><tr><th>#</th><th>kind</th><th>finding</th>'
        "<th>query</th><th>prevalence</th><th>weight</th></tr></thead><tbody>"
    ]
    for i, finding in enumerate(findings, 1):
        prevalence = prevalence_text(finding) or ""
        sort = "" if finding.prevalence is None else f' data-sort="{finding.prevalence:.6f}"'
        out.append(
            f'<tr><td class="num">{i}</td><td>{_kind_badge(finding)}</td>'
            f"<td>{esc(finding_words(finding, prevalence=False))}</td><td>{e(finding.query, 80)}</td>"
            f"<td{sort}>{esc(prevalence)}</td>"
            f'<td class="num" data-sort="{finding.weight:.6f}">{finding.weight:.2f}</td></tr>'
        )
    out.append("</tbody></table>")
    return "".join(out)


def _evidence_tables(findings: list[Finding]) -> str:
    """Peers mode: one sortable table per query, the rows as collected, prevalence alongside."""
    by_query: dict[str, list[Finding]] = {}
    for finding in findings:
        by_query.setdefault(finding.query, []).append(finding)
    out = []
    for query, group in by_query.items():
        columns: list[str] = []
        for finding in group:
            columns.extend(c for c in finding.row if c not in columns)
        shown = columns[:EVIDENCE_COLUMNS]
        out.append(
            f'<p><strong>{e(query, 80)}</strong></p><div class="scroll"><table class="sortable evidence">'
            "<thead><tr>"
        )
        out.append("<th>kind</th><th>on hosts</th>" + "".join(f"<th>{e(c, 60)}</th>" for c in shown))
        out.append("</tr></thead><tbody>")
        for finding in group:
            on = "" if finding.hosts_with_row is None else f"{finding.hosts_with_row:,}"
            if finding.hosts_compared:
                on += f" of {finding.hosts_compared:,}"
            cells = "".join(
                f'<td class="value{" changed-cell" if c in finding.changed_columns else ""}">'
                f"{e(finding.row.get(c, ''))}</td>"
                for c in shown
            )
            out.append(
                f'<tr><td>{_kind_badge(finding)}</td><td class="num" data-sort="'
                f'{finding.hosts_with_row or 0}">{esc(on)}</td>{cells}</tr>'
            )
        out.append("</tbody></table></div>")
        if len(columns) > EVIDENCE_COLUMNS:
            out.append(f'<p class="note">{len(columns) - EVIDENCE_COLUMNS} more columns not shown.</p>')
    return "".join(out)


def _side_by_side(finding: Finding, reference_name: str) -> str:
    """One finding's row next to the reference's row: column | reference | this host."""
    if finding.kind == "added":
        reference, here = None, finding.row
    elif finding.kind == "missing":
        reference, here = finding.row, None
    else:
        reference, here = finding.reference_row or {}, finding.row
    columns: list[str] = []
    for row in (reference, here):
        columns.extend(c for c in (row or {}) if c not in columns)
    absent = '<td class="note">(absent)</td>'
    out = [
        f'<p class="evidence-title">{_kind_badge(finding)} {e(finding.query, 80)}: '
        f"{esc(finding_words(finding, 400))}</p>",
        '<div class="scroll"><table class="side-by-side">',
        f"<thead><tr><th>column</th><th>{esc(reference_name)}</th><th>this host</th></tr></thead><tbody>",
    ]
    for column in columns[: EVIDENCE_COLUMNS * 2]:
        changed = " changed-cell" if column in finding.changed_columns else ""
        ref = (
            absent if reference is None else f'<td class="value{changed}">{e(reference.get(column, ""))}</td>'
        )
        cur = absent if here is None else f'<td class="value{changed}">{e(here.get(column, ""))}</td>'
        out.append(f"<tr><th>{e(column, 60)}</th>{ref}{cur}</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)
