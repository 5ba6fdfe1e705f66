"""The terminal report: ranked hosts, their top findings in plain words, what was not collected, verdict.

Rendered with rich.  Colour follows the usual conventions: none when the stream is not a terminal
or when ``NO_COLOR`` is set (https://no-color.org), unless the caller forces it with ``color=True``;
without colour not a single ANSI escape is written, so the output is safe to pipe, grep and diff.

Values are attacker-controlled: they are passed to rich only as ``Text`` objects (rich never parses
markup in them) after ``safe_text`` made control characters visible and cut huge values.
"""

from __future__ import annotations

import os
from typing import TextIO

from rich.console import Console, Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from diffy_analysis.findings import Analysis, Finding, HostResult
from diffy_analysis.report._campaigns import terminal_part
from diffy_analysis.report._escape import safe_text
from diffy_analysis.report._since import terminal as since_terminal
from diffy_analysis.report._words import (
    finding_words,
    gap_groups,
    host_name,
    identity_text,
    n_hosts,
    population_words,
    summary_items,
    top_findings,
    verdict_lines,
    weak_note_shown,
)

# Hosts listed in the ranked table besides every outlier; the rest is summarised in one line.
TABLE_EXTRA_HOSTS = 10
# Findings shown per host in the table, and per outlier in its own section.
TABLE_FINDINGS = 2
SECTION_FINDINGS = 6
# Outliers given their own section; more are listed in the table only.
SECTION_HOSTS = 20
# Hosts named per query gap / skipped reason before "and N more".
NAMED_HOSTS = 8
# Width used when writing to a file or pipe (rich would use 80), unless COLUMNS says otherwise.
PIPE_WIDTH = 120

KIND_STYLE = {"added": "bold red", "missing": "bold yellow", "changed": "bold magenta"}


def render(analysis: Analysis, stream: TextIO, *, color: bool | None = None, quiet: bool = False) -> None:
    """Write the terminal report of ``analysis`` to ``stream``.

    ``color``: None decides from the stream (a TTY) and ``NO_COLOR``; True forces colour; False
    forbids it.  ``quiet``: only the verdict line(s), for scripts.
    """
    console = _console(stream, color)
    if quiet:
        for line in verdict_lines(analysis):
            console.print(Text(line), soft_wrap=True)  # one line each, whatever the width
        return
    if use_color(stream, color):
        _print_report(console, analysis)
        return
    # Plain text (a pipe, a file, NO_COLOR): without the padding rich adds to fill its width, so
    # the output greps and diffs cleanly.
    with console.capture() as captured:
        _print_report(console, analysis)
    stream.write("\n".join(line.rstrip() for line in captured.get().split("\n")))


def _print_report(console: Console, analysis: Analysis) -> None:
    console.print(_header(analysis))
    if analysis.hosts:
        console.print(_ranked_table(analysis))
    for host in analysis.outliers[:SECTION_HOSTS]:
        console.print(_host_section(host, analysis))
    if len(analysis.outliers) > SECTION_HOSTS:
        console.print(
            Text(
                f"(Sections shown for the first {SECTION_HOSTS} of {len(analysis.outliers):,} "
                "hosts; use --format json or html for all.)",
                style="dim",
            )
        )
    for part in (
        terminal_part(analysis),
        _populations(analysis),
        since_terminal(analysis),
        _gaps(analysis),
        _notes(analysis),
        _skipped(analysis),
    ):
        if part is not None:
            console.print(part)
    console.print(_summary(analysis))
    lines = verdict_lines(analysis)
    console.print()
    console.print(Text(lines[0], style="bold red" if analysis.outliers else "bold green"), soft_wrap=True)
    for line in lines[1:]:
        console.print(Text(line, style="yellow"), soft_wrap=True)


def use_color(stream: TextIO, color: bool | None) -> bool:
    """Colour decision: forced by ``color``, else a TTY without ``NO_COLOR``."""
    if color is not None:
        return color
    if os.environ.get("NO_COLOR"):
        return False
    return _isatty(stream)


def _isatty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # closed or odd streams
        return False


def _console(stream: TextIO, color: bool | None) -> Console:
    colored = use_color(stream, color)
    width = None
    if not _isatty(stream) and not os.environ.get("COLUMNS"):
        width = PIPE_WIDTH
    return Console(
        file=stream,
        force_terminal=colored,
        # No colour system means no escape codes at all (not even bold), as NO_COLOR users expect.
        color_system="standard" if colored else None,
        no_color=not colored,
        markup=False,
        emoji=False,
        highlight=False,
        width=width,
        soft_wrap=False,
    )


def _header(analysis: Analysis) -> Text:
    text = Text("Diffy analysis", style="bold")
    text.append(f" — method {analysis.method}")
    if analysis.app:
        text.append(f", app {safe_text(analysis.app, 80)}")
    if analysis.method == "baseline" and analysis.baseline:
        text.append(f", baseline {safe_text(analysis.baseline, 120)}")
    if analysis.run_ids:
        label = "run" if len(analysis.run_ids) == 1 else "runs"
        text.append(f", {label} {', '.join(safe_text(r, 60) for r in analysis.run_ids)}")
    mixed = _collectors(analysis)
    if mixed:
        text.append(f"\n{mixed}", style="yellow")
    return text


def _collectors(analysis: Analysis) -> str:
    """A mixed fleet says which hosts were collected how (and why native, when auto chose it)."""
    by: dict[str, list[HostResult]] = {}
    for host in analysis.hosts:
        by.setdefault(str(host.identity.get("collector") or "unknown"), []).append(host)
    if len(by) < 2:
        return ""
    parts = [f"{name} on {len(hosts)}" for name, hosts in sorted(by.items())]
    line = "collected with " + ", ".join(parts) + " hosts"
    reasons = [h for h in analysis.hosts if h.identity.get("collector_reason")][:3]
    if reasons:
        line += (
            " ("
            + "; ".join(
                f"{safe_text(h.host, 60)}: {safe_text(str(h.identity['collector_reason']), 120)}"
                for h in reasons
            )
            + ")"
        )
    return line


def _run_qualified(host: HostResult, names: list[str]) -> str:
    """The host's name, with its run when several runs analysed together hold a host of that name."""
    name = host_name(host)
    if host.run_id and names.count(host.host) > 1:
        name += f" [{safe_text(host.run_id, 40)}]"
    return name


def _score_style(host: HostResult, top: float) -> str:
    if host.outlier:
        return "bold red"
    if top > 0 and host.score >= 0.5 * top:
        return "yellow"
    return "green"


def _ranked_table(analysis: Analysis) -> Group:
    baseline = analysis.method == "baseline"
    shown = [h for h in analysis.hosts if h.outlier]
    shown += [h for h in analysis.hosts if not h.outlier][:TABLE_EXTRA_HOSTS]
    shown.sort(key=analysis.hosts.index)
    rank = {id(h): i for i, h in enumerate(analysis.hosts, 1)}
    top = analysis.hosts[0].score if analysis.hosts else 0.0
    names = [h.host for h in analysis.hosts]

    table = Table(title=Text("Hosts ranked by score", style="bold"), title_justify="left", expand=False)
    table.add_column("#", justify="right")
    table.add_column("host", overflow="fold", max_width=40)
    table.add_column("score", justify="right")
    table.add_column("", no_wrap=True)
    if baseline:
        table.add_column("added / missing / changed", justify="center")
    else:
        table.add_column("cluster", justify="right")
    table.add_column("top findings", overflow="fold", ratio=1)
    for host in shown:
        marker = (
            Text("◆ differs" if baseline else "◆ outlier", style="bold red") if host.outlier else Text("")
        )
        if baseline:
            kinds = [sum(1 for f in host.findings if f.kind == k) for k in ("added", "missing", "changed")]
            middle = Text(" / ".join(str(n) for n in kinds))
        else:
            middle = Text("-" if host.cluster is None else str(host.cluster))
        table.add_row(
            Text(str(rank[id(host)])),
            Text(_run_qualified(host, names), style="bold" if host.outlier else ""),
            Text(f"{host.score:.2f}", style=_score_style(host, top)),
            marker,
            middle,
            _findings_cell(host),
        )
    parts: list = [table]
    hidden = len(analysis.hosts) - len(shown)
    if hidden:
        parts.append(
            Text(
                f"… and {n_hosts(hidden)} with lower scores, none of them flagged "
                "(use --format json or html for every host).",
                style="dim",
            )
        )
    return Group(*parts)


def _findings_cell(host: HostResult) -> Text:
    findings = top_findings(host, TABLE_FINDINGS)
    if not findings:
        return Text("no findings", style="dim")
    cell = Text()
    for i, finding in enumerate(findings):
        if i:
            cell.append("\n")
        cell.append_text(_finding_text(finding, limit=120, short=True))
    more = len(host.findings) - len(findings)
    if more:
        cell.append(f"\n(+{more:,} more)", style="dim")
    return cell


def _finding_text(finding: Finding, limit: int | None = 300, *, short: bool = False) -> Text:
    style = "dim" if finding.strength == "weak" else ""
    text = Text()
    text.append(f"[{finding.kind}] ", style=KIND_STYLE.get(finding.kind, "bold"))
    text.append(finding_words(finding, limit, short=short), style=style)
    if finding.strength == "weak" and not weak_note_shown(finding, limit, short=short):
        text.append(" (weak evidence)", style="dim")
    return text


def _host_section(host: HostResult, analysis: Analysis) -> Group:
    title = Text()
    title.append("\n◆ ", style="bold red")
    title.append(_run_qualified(host, [h.host for h in analysis.hosts]), style="bold")
    facts = [f"score {host.score:.2f}"]
    if analysis.method == "peers":
        facts.append("no cluster" if host.cluster is None else f"cluster {host.cluster}")
    identity = identity_text(host)
    if identity:
        facts.append(identity)
    title.append(f"  ({'; '.join(facts)})", style="dim")
    lines: list = [title]
    for finding in top_findings(host, SECTION_FINDINGS):
        line = _finding_text(finding)
        line.append(f"  ({safe_text(finding.query, 60)})", style="dim")
        # Padding keeps wrapped lines indented under their finding.
        lines.append(Padding(line, (0, 0, 0, 2), expand=False))
        lines.extend(Padding(changed, (0, 0, 0, 6), expand=False) for changed in _changed_lines(finding))
    more = len(host.findings) - SECTION_FINDINGS
    if more > 0:
        lines.append(Text(f"  … and {more:,} more findings", style="dim"))
    if host.gaps:
        gaps = ", ".join(f"{safe_text(g.query, 60)} ({safe_text(g.status, 20)})" for g in host.gaps)
        lines.append(Text(f"  not collected: {gaps}", style="yellow"))
    if host.notes:  # e.g. invalid UTF-8 replaced while reading: the evidence was repaired to be read
        lines.append(Text(f"  note: {safe_text('; '.join(host.notes), 300)}", style="yellow"))
    return Group(*lines)


def _changed_lines(finding: Finding) -> list[Text]:  # shown indented under the finding
    """For a changed row: each changed column, reference value -> host value."""
    if finding.kind != "changed" or not finding.changed_columns:
        return []
    reference = finding.reference_row or {}
    lines = []
    for column in finding.changed_columns[:6]:
        line = Text(f"{safe_text(column, 40)}: ", style="dim")
        line.append(safe_text(reference.get(column, "(absent)"), 100), style="green")
        line.append(" → ")
        line.append(safe_text(finding.row.get(column, "(absent)"), 100), style="red")
        lines.append(line)
    return lines


def _populations(analysis: Analysis) -> Group | None:
    """Baseline method: differences shared by much of the fleet, reported once, not held against hosts."""
    if not analysis.population_differences:
        return None
    lines: list = [
        Text(
            "\nDifferences from the baseline shared by much of the fleet (a population, not held "
            "against its hosts):",
            style="bold",
        )
    ]
    for difference in analysis.population_differences[: NAMED_HOSTS * 2]:
        line = Text("  ")
        line.append(f"[{difference.kind}] ", style=KIND_STYLE.get(difference.kind, "bold"))
        line.append(population_words(difference))
        line.append(f"  ({safe_text(difference.query, 60)})", style="dim")
        lines.append(line)
    more = len(analysis.population_differences) - NAMED_HOSTS * 2
    if more > 0:
        lines.append(Text(f"  … and {more:,} more (see --format json or html)", style="dim"))
    return Group(*lines)


def _gaps(analysis: Analysis) -> Group | None:
    groups = gap_groups(analysis)
    if not groups:
        return None
    lines: list = [
        Text("\nQueries not collected (these hosts were analysed without them):", style="bold yellow")
    ]
    for group in groups:
        line = Text(f"  {group.query}: {group.status} on {n_hosts(len(group.hosts))}: ")
        line.append(_name_list(group.hosts))
        if group.errors:
            line.append(f" — {'; '.join(group.errors)}", style="dim")
        lines.append(line)
    return Group(*lines)


def _notes(analysis: Analysis) -> Group | None:
    """Repairs made while reading (invalid UTF-8 replaced...) on hosts without a section of their
    own: a host that is not flagged was still judged on repaired evidence, and the responder must know."""
    sectioned = {id(h) for h in analysis.outliers[:SECTION_HOSTS]}
    hosts = [h for h in analysis.hosts if h.notes and id(h) not in sectioned]
    if not hosts:
        return None
    lines: list = [
        Text("\nEvidence repaired while reading (these hosts were analysed with it):", style="bold yellow")
    ]
    names = [h.host for h in analysis.hosts]
    for host in hosts:
        line = Text(f"  {_run_qualified(host, names)}: ", style="yellow")
        line.append(safe_text("; ".join(host.notes), 300), style="dim")
        lines.append(line)
    return Group(*lines)


def _skipped(analysis: Analysis) -> Group | None:
    if not analysis.skipped:
        return None
    lines: list = [Text("\nHosts not analysed:", style="bold yellow")]
    by_reason: dict[tuple[str, str], list[str]] = {}
    for skipped in analysis.skipped:
        key = (safe_text(skipped.status, 30), safe_text(skipped.reason, 200))
        by_reason.setdefault(key, []).append(host_name(skipped.host))
    for (status, reason), hosts in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
        line = Text(f"  {status}: ", style="yellow")
        line.append(_name_list(hosts))
        line.append(f" — {reason}", style="dim")
        lines.append(line)
    return Group(*lines)


def _name_list(names: tuple[str, ...] | list[str]) -> str:
    shown = ", ".join(names[:NAMED_HOSTS])
    if len(names) > NAMED_HOSTS:
        shown += f" and {len(names) - NAMED_HOSTS:,} more"
    return shown


def _summary(analysis: Analysis) -> Group:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim")
    table.add_column()
    for label, value in summary_items(analysis):
        table.add_row(Text(label), Text(value))
    return Group(Text("\nSummary", style="bold"), table)
