"""Campaigns and the confidence statement, for the terminal and HTML reports (one place for both)."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from diffy_analysis.findings import Analysis
from diffy_analysis.report._escape import html_value as e
from diffy_analysis.report._escape import safe_text

SHOWN = 10


def campaign_lines(analysis: Analysis) -> list[str]:
    """One line per campaign: "campaign: 12 hosts share cron entry ... and key ... (hosts ...)"."""
    out = []
    for c in analysis.campaigns[:SHOWN]:
        names = ", ".join(c.hosts[:6]) + (f" and {len(c.hosts) - 6} more" if len(c.hosts) > 6 else "")
        out.append(safe_text(f"{c.summary} ({names})", 600))
    if len(analysis.campaigns) > SHOWN:
        out.append(f"… and {len(analysis.campaigns) - SHOWN} more campaigns (see --format json)")
    return out


def terminal_part(analysis: Analysis) -> Group | None:
    lines: list = []
    if analysis.campaigns:
        lines.append(Text("\nCampaigns (flagged hosts sharing security artifacts):", style="bold"))
        lines += [Text("  " + line, style="red") for line in campaign_lines(analysis)]
    conf = analysis.confidence
    if conf is not None:
        lines.append(Text(f"\nConfidence: {conf.statement}", style="bold"))
        lines += [Text(f"  can tell: {x}") for x in conf.can_tell]
        lines += [Text(f"  cannot tell: {x}", style="yellow") for x in conf.cannot_tell]
    return Group(*lines) if lines else None


def html_part(analysis: Analysis) -> str:
    out = []
    if analysis.campaigns:
        out.append('<section id="campaigns"><h2>Campaigns</h2><ul>')
        out += [f"<li>{e(line, None)}</li>" for line in campaign_lines(analysis)]
        out.append("</ul></section>")
    conf = analysis.confidence
    if conf is not None:
        out.append(f'<section id="confidence"><h2>Confidence</h2><p>{e(conf.statement)}</p><ul>')
        out += [f"<li>can tell: {e(x)}</li>" for x in conf.can_tell]
        out += [f"<li>cannot tell: {e(x)}</li>" for x in conf.cannot_tell]
        out.append("</ul></section>")
    return "".join(out)
