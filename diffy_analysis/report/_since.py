"""`--since`: the rows that appeared or disappeared fleet-wide since an earlier run, for the terminal
and HTML reports (the JSON report carries ``since`` from the model as is).

Kept out of terminal.py and html.py so those only call one function each.  Values are
attacker-controlled like everywhere else: ``safe_text`` for the terminal (as ``Text``, never
markup), ``html_value`` (safe_text + escape) for HTML.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from diffy_analysis.findings import Analysis, SinceComparison
from diffy_analysis.report._escape import html_value as e
from diffy_analysis.report._escape import safe_text

TERMINAL_ROWS = 30
HTML_ROWS = 2000
STYLE = {"appeared": "bold red", "disappeared": "bold yellow"}
BADGE = {"appeared": "added", "disappeared": "missing"}  # the report's existing badge colours


def headline(since: SinceComparison) -> str:
    kept = f"{since.hosts_kept} instance{'s' * (since.hosts_kept != 1)} in both runs"
    more = f" (+{since.truncated:,} more not listed)" if since.truncated else ""
    return (
        f"Since run {safe_text(since.previous_run, 40)} ({since.previous_hosts} hosts; now "
        f"{since.current_hosts}, {kept}): {len(since.appeared):,} rows appeared, "
        f"{len(since.disappeared):,} disappeared fleet-wide{more}"
    )


def terminal(analysis: Analysis) -> Group | None:
    since = analysis.since
    if since is None:
        return None
    lines: list = [Text("\n" + headline(since) + ":", style="bold")]
    for change in since.changes[:TERMINAL_ROWS]:
        line = Text("  ")
        line.append(f"[{change.kind}] ", style=STYLE[change.kind])
        line.append(safe_text(change.explanation, 300))
        where = safe_text(", ".join(change.host_names), 200)
        line.append(f"  ({safe_text(change.query, 60)}; {where})", style="dim")
        lines.append(line)
    more = len(since.changes) - TERMINAL_ROWS + since.truncated
    if more > 0:
        lines.append(Text(f"  … and {more:,} more (see --format json or html)", style="dim"))
    if since.queries_not_compared:
        names = ", ".join(since.queries_not_compared)
        lines.append(Text(f"  Not compared (collected in only one run): {safe_text(names, 300)}", "dim"))
    return Group(*lines)


def html(analysis: Analysis) -> str:
    since = analysis.since
    if since is None:
        return ""
    out = [
        '<section id="since"><h2>New since the last run</h2>',
        f'<p class="note">{e(headline(since), 400)}. Fleets are compared, not hosts: instance ids '
        "change as clusters roll.</p>",
        '<div class="scroll"><table class="sortable" id="since-table"><thead><tr><th>change</th>'
        "<th>row</th><th>query</th><th>hosts</th><th>where</th></tr></thead><tbody>",
    ]
    for change in since.changes[:HTML_ROWS]:
        out.append(
            f'<tr><td><span class="badge {BADGE[change.kind]}">{e(change.kind, 20)}</span></td>'
            f"<td>{e(change.explanation, 400)}</td><td>{e(change.query, 80)}</td>"
            f'<td class="num" data-sort="{change.hosts}">{change.hosts:,} of {change.hosts_compared:,}</td>'
            f"<td>{e(', '.join(change.host_names), 400)}</td></tr>"
        )
    out.append("</tbody></table></div>")
    more = len(since.changes) - HTML_ROWS + since.truncated
    if more > 0:
        out.append(f'<p class="note">… and {more:,} more changes (see the JSON report).</p>')
    if since.queries_not_compared:
        names = ", ".join(since.queries_not_compared)
        out.append(f'<p class="note">Not compared (collected in only one run): {e(names, 400)}</p>')
    out.append("</section>")
    return "".join(out)
