"""Render a `diffy scope` result: terminal text, JSON (``diffy-scope/1``) and a self-contained HTML page.

Every value comes from hosts an attacker may control: shown only through ``_escape`` (as every
other reporter does).
"""

from __future__ import annotations

import json
from typing import TextIO

from diffy_analysis.analyze.scope import Artifact, Scope
from diffy_analysis.report._escape import html_value, safe_text

SCOPE_FORMATS = ("table", "json", "html")


def _row(artifact: Artifact, limit: int = 160) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in sorted(artifact.row.items()) if v != "")
    return safe_text(shown, limit)


def _lead(a: Artifact) -> str:
    what = "lacks" if a.kind == "missing" else "has"
    return (
        f"{what} {safe_text(a.query)} row {_row(a)} (on {a.hosts} host(s); lead from {safe_text(a.found_on)})"
    )


def render_text(result: Scope, stream: TextIO) -> None:
    start = [f"host {safe_text(h)}" for h in result.seeds] + [f"IOC {safe_text(i)}" for i in result.iocs]
    state = "closed" if result.closed else "NOT closed (round limit reached)"
    stream.write(
        f"Scope from {', '.join(start)}: {len(result.hosts)} of {result.hosts_analysed} hosts, "
        f"{result.rounds} round(s), {state}\n"
    )
    for value in result.unmatched_iocs:
        stream.write(f"  IOC {safe_text(value)}: found on no host\n")
    for h in result.hosts:
        how = {"seed": "seed (--from)", "ioc": "holds the IOC", "shares": f"found in round {h.round}"}[
            h.reason
        ]
        stream.write(f"\n{safe_text(h.host)} [{safe_text(h.host_id)}]: {how}\n")
        for a in h.evidence[:8]:
            stream.write(f"  - {_lead(a)}\n")
        if len(h.evidence) > 8:
            stream.write(f"  … and {len(h.evidence) - 8} more\n")
    if result.confidence:
        stream.write(f"\nConfidence: {result.confidence.statement}\n")
        for line in result.confidence.cannot_tell:
            stream.write(f"  cannot tell: {line}\n")


def render_json(result: Scope, stream: TextIO) -> None:
    json.dump(result.to_json(), stream, indent=2, sort_keys=True)
    stream.write("\n")


def render_html(result: Scope, stream: TextIO) -> None:
    title = f"Diffy scope: {len(result.hosts)} of {result.hosts_analysed} hosts"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta http-equiv='Content-Security-Policy' "
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>{html_value(title)}</title><style>body{{font:14px sans-serif;margin:2em}}"
        "td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}"
        "code{font-size:12px}</style></head><body>",
        f"<h1>{html_value(title)}</h1>",
        f"<p>Started from {html_value(', '.join([*result.seeds, *result.iocs]))}; "
        f"{result.rounds} round(s); {'closed' if result.closed else 'not closed'}.</p>",
    ]
    if result.confidence:
        parts.append(f"<p><b>Confidence:</b> {html_value(result.confidence.statement)}</p><ul>")
        parts += [f"<li>cannot tell: {html_value(x)}</li>" for x in result.confidence.cannot_tell]
        parts.append("</ul>")
    parts.append("<table><tr><th>host</th><th>round</th><th>why</th><th>evidence chain</th></tr>")
    for h in result.hosts:
        chain = "<br>".join(f"<code>{html_value(_lead(a), None)}</code>" for a in h.evidence[:20])
        parts.append(
            f"<tr><td>{html_value(h.host)}<br><small>{html_value(h.host_id)}</small></td>"
            f"<td>{h.round}</td><td>{html_value(h.reason)}</td><td>{chain}</td></tr>"
        )
    parts.append("</table></body></html>\n")
    stream.write("".join(parts))


RENDER = {"table": render_text, "json": render_json, "html": render_html}
