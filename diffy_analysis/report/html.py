"""The HTML report: one self-contained file a responder can attach to a ticket and open offline.

Contents: summary and verdict, the outliers, a dendrogram of the clustering and a heatmap of hosts x
findings (SVG from matplotlib, embedded as ``data:`` images), a sortable ranked table, per-host
sections with findings in plain words and the evidence rows as collected (baseline mode: each row
side by side with the baseline's), clusters, and every host or query that could not be collected.

Safety, because values come from hosts the attacker may control:
- every value goes through ``safe_text`` (control characters made visible, huge values cut with a
  note, undecodable bytes shown as ``\\xNN``) and then ``html.escape`` (quotes too), wherever it lands:
  text, attributes, tables; plot labels are escaped by matplotlib and shown through ``<img>``, where
  SVG cannot run script;
- element ids are generated (``host-3``), never taken from values;
- a strict Content-Security-Policy: nothing may be loaded (``default-src 'none'``), images only from
  ``data:``, and the one inline style sheet and sorting script are allowed by their SHA-256 hashes,
  so even a value that slipped through could neither run script nor make a network request;
- the document is pure ASCII (other characters as ``&#NNNN;`` references): it reads the same
  whatever encoding the file is opened or saved with.

Large fleets stay sane: full sections for outliers and the next highest-scored hosts only, and the
dendrogram is of collapsed profiles (truncated to its last merges when still large).
"""

from __future__ import annotations

import base64
import hashlib
from importlib import resources
from typing import TextIO

from diffy_analysis.findings import Analysis
from diffy_analysis.report import _plots
from diffy_analysis.report._campaigns import html_part
from diffy_analysis.report._escape import html_text as esc
from diffy_analysis.report._escape import html_value as e
from diffy_analysis.report._escape import safe_text
from diffy_analysis.report._html_hosts import MAX_SECTION_OUTLIERS, host_sections
from diffy_analysis.report._since import html as since_html
from diffy_analysis.report._words import (
    finding_words,
    gap_groups,
    host_name,
    n_hosts,
    population_words,
    short_words,
    summary_items,
    top_findings,
    verdict_lines,
)
from diffy_analysis.version import __version__

# Hosts given a full section besides every outlier (the highest-scored ones with findings).
EXTRA_SECTION_HOSTS = 20
# Rows of the ranked table; a fleet larger than this is summarised in a note.
RANKED_ROWS = 2000
NAMED_HOSTS = 30


def _asset(name: str) -> str:
    return resources.files("diffy_analysis.report").joinpath("assets").joinpath(name).read_text("ascii")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("ascii")).digest()).decode() + "'"


def render(analysis: Analysis, stream: TextIO) -> None:
    """Write the self-contained HTML report of ``analysis`` to ``stream``."""
    stream.write(render_string(analysis))


def render_string(analysis: Analysis) -> str:
    css = _asset("report.css")
    js = _asset("sort.js")
    sections = list(analysis.outliers[:MAX_SECTION_OUTLIERS])
    sections += [h for h in analysis.hosts if not h.outlier and h.findings][:EXTRA_SECTION_HOSTS]
    anchors = {id(h): f"host-{i}" for i, h in enumerate(sections, 1)}
    body = [
        _header(analysis),
        "<main>",
        _outliers(analysis, anchors),
        html_part(analysis),
        _plots_section(analysis),
        _ranked(analysis, anchors),
        _populations(analysis),
        since_html(analysis),
        host_sections(analysis, sections, anchors),
        _clusters(analysis),
        _not_collected(analysis),
        "</main>",
        _footer(analysis),
    ]
    title = "Diffy report"
    if analysis.app:
        title += f" — {safe_text(analysis.app, 80)}"
    csp = (
        "default-src 'none'; img-src data:; "
        f"style-src {_csp_hash(css)}; script-src {_csp_hash(js)}; "
        "base-uri 'none'; form-action 'none'"
    )
    doc = "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">',
            '<meta name="referrer" content="no-referrer">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{esc(title)}</title>",
            f"<style>{css}</style>",
            "</head>",
            "<body>",
            *body,
            f"<script>{js}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )
    # Pure ASCII: non-ASCII characters become references (none occur inside <style>/<script>).
    return doc.encode("ascii", "xmlcharrefreplace").decode("ascii")


# --- summary, verdict, outliers ----------------------------------------------------------------------


def _header(analysis: Analysis) -> str:
    lines = verdict_lines(analysis)
    found = "found" if analysis.outliers else "clean"
    verdict = f'<div class="verdict {found}" id="verdict">{esc(lines[0])}'
    verdict += "".join(f'<span class="more">{esc(line)}</span>' for line in lines[1:])
    verdict += "</div>"
    items = []
    for label, value in summary_items(analysis):
        sub = ' class="sub"' if label.startswith("  ") else ""
        items.append(f"<dt{sub}>{esc(label.strip())}</dt><dd>{esc(value)}</dd>")
    title = "Diffy report"
    if analysis.app:
        title += f": {e(analysis.app, 80)}"
    nav = (
        '<nav><a href="#outliers">Outliers</a><a href="#clustering">Clustering</a>'
        '<a href="#heatmap">Heatmap</a><a href="#hosts">All hosts</a><a href="#details">Host details</a>'
        '<a href="#not-collected">Not collected</a></nav>'
    )
    return (
        f"<header><h1>{title}</h1>{nav}{verdict}"
        f'<dl class="summary" id="summary">{"".join(items)}</dl></header>'
    )


def _outliers(analysis: Analysis, anchors: dict[int, str]) -> str:
    word = "Hosts that differ from the baseline" if analysis.method == "baseline" else "Outliers"
    out = [f'<section id="outliers"><h2>{word}</h2>']
    if not analysis.outliers:
        out.append('<p class="note">None.</p></section>')
        return "".join(out)
    out.append('<ul class="outliers">')
    for host in analysis.outliers:
        words = ", ".join(short_words(f) for f in top_findings(host, 3))
        name = esc(host_name(host))
        link = f'<a href="#{anchors[id(host)]}">{name}</a>' if id(host) in anchors else name
        out.append(
            f'<li class="outlier-host"><span class="badge outlier">score {host.score:.2f}</span> '
            f'<strong class="host-name">{link}</strong>: {esc(words) or "no findings"}</li>'
        )
    out.append("</ul></section>")
    return "".join(out)


# --- plots -------------------------------------------------------------------------------------------


def _plots_section(analysis: Analysis) -> str:
    out = ['<section id="clustering"><h2>Clustering</h2>']
    if analysis.method == "baseline" and analysis.dendrogram is None:
        out.append(
            '<p class="note">Baseline method: hosts are compared with the baseline, not clustered.</p>'
        )
    else:
        try:
            uri = _plots.dendrogram_uri(analysis)
        except _plots.PlotError as err:
            out.append(f'<p class="note">No dendrogram: {e(err)}.</p>')
        else:
            cut = analysis.dendrogram.cut_distance if analysis.dendrogram else 0.0
            hidden = _plots.outliers_without_leaf(analysis)
            note = ""
            if hidden:
                clusters = {h.host: h.cluster for h in analysis.outliers}
                names = ", ".join(
                    host_name(h) + ("" if clusters.get(h) is None else f" (cluster {clusters[h]})")
                    for h in hidden[:10]
                ) + (f" and {len(hidden) - 10:,} more" if len(hidden) > 10 else "")
                note = f" Outliers inside another host's leaf: {esc(names)}."
            out.append(
                f'<figure class="plot"><img id="dendrogram" alt="Dendrogram of host profiles" src="{uri}">'
                "<figcaption>The tree groups the hosts into the fleet's populations, on the rows that many "
                "hosts share; rows that only a few hosts have are left out on purpose, because they are "
                "what flags a host within its population (see the heatmap and the host sections). Hosts "
                'with the same population profile share one leaf, "(+N alike)". The dashed line is the '
                f"cut at distance {cut:.4g}: leaves joined only to the right of it are separate clusters. "
                f"Outlier leaves are in red.{note}</figcaption></figure>"
            )
    out.append("</section>")
    out.append('<section id="heatmap"><h2>Findings heatmap</h2>')
    data = _plots.heatmap_data(analysis)
    if data is None:
        out.append('<p class="note">No findings on any host.</p>')
    else:
        out.append(
            f'<figure class="plot"><img id="heatmap-img" alt="Heatmap of hosts and findings" '
            f'src="{_plots.heatmap_uri(data)}"><figcaption>The {len(data.columns)} findings that weigh '
            f"most on the {n_hosts(len(data.hosts))} shown (outliers first, in red).</figcaption></figure>"
        )
    out.append("</section>")
    return "".join(out)


# --- ranked table ------------------------------------------------------------------------------------


def _ranked(analysis: Analysis, anchors: dict[int, str]) -> str:
    baseline = analysis.method == "baseline"
    heads = ["#", "host", "score", "status"]
    heads += ["added", "missing", "changed"] if baseline else ["cluster"]
    heads += ["findings", "top finding", "not collected"]
    out = [
        '<section id="hosts"><h2>All hosts, ranked by score</h2>',
        '<div class="scroll"><table class="sortable" id="ranked"><thead><tr>',
        "".join(f"<th>{h}</th>" for h in heads),
        "</tr></thead><tbody>",
    ]
    for rank, host in enumerate(analysis.hosts[:RANKED_ROWS], 1):
        name = esc(host_name(host))
        if id(host) in anchors:
            name = f'<a href="#{anchors[id(host)]}">{name}</a>'
        flag = "differs" if baseline else "outlier"
        status = f'<span class="badge outlier">{flag}</span>' if host.outlier else ""
        cells = [
            f'<td class="num">{rank}</td>',
            f'<td class="host">{name}</td>',
            f'<td class="num" data-sort="{host.score:.6f}">{host.score:.2f}</td>',
            f"<td>{status}</td>",
        ]
        if baseline:
            cells += [
                f'<td class="num">{sum(1 for f in host.findings if f.kind == kind)}</td>'
                for kind in ("added", "missing", "changed")
            ]
        else:
            cells.append(f'<td class="num">{e(host.cluster, 20)}</td>')
        top = top_findings(host, 1)
        cells += [
            f'<td class="num">{len(host.findings)}</td>',
            f"<td>{esc(finding_words(top[0], 140, short=True)) if top else ''}</td>",
            f"<td>{esc(safe_text(', '.join([*(g.query for g in host.gaps), *host.notes]), 400))}</td>",
        ]
        row_class = ' class="outlier"' if host.outlier else ""
        out.append(f"<tr{row_class}>{''.join(cells)}</tr>")
    out.append("</tbody></table></div>")
    if len(analysis.hosts) > RANKED_ROWS:
        out.append(
            f'<p class="note">{len(analysis.hosts) - RANKED_ROWS:,} lower-scored hosts are not listed '
            "(see the JSON output).</p>"
        )
    out.append("</section>")
    return "".join(out)


def _populations(analysis: Analysis) -> str:
    """Baseline method: differences shared by much of the fleet, reported once, not held against hosts."""
    if not analysis.population_differences:
        return ""
    out = [
        '<section id="populations"><h2>Differences shared by much of the fleet</h2>',
        '<p class="note">These differ from the baseline on a large part of the fleet (a legitimate '
        "population such as a newer package on half the hosts): shown once here, not held against "
        "the hosts.</p>",
        '<div class="scroll"><table class="sortable" id="population-table"><thead><tr><th>kind</th>'
        "<th>difference</th><th>query</th><th>hosts</th></tr></thead><tbody>",
    ]
    for difference in analysis.population_differences[:RANKED_ROWS]:
        out.append(
            f'<tr><td><span class="badge {e(difference.kind, 20)}">{e(difference.kind, 20)}</span></td>'
            f"<td>{esc(population_words(difference))}</td><td>{e(difference.query, 80)}</td>"
            f'<td class="num" data-sort="{difference.hosts}">{difference.hosts:,} of '
            f"{difference.hosts_compared:,}</td></tr>"
        )
    out.append("</tbody></table></div></section>")
    return "".join(out)


# --- clusters, what was not collected, footer --------------------------------------------------------


def _clusters(analysis: Analysis) -> str:
    if not analysis.clusters:
        return ""
    out = [
        '<section id="clusters"><h2>Clusters</h2><table class="sortable"><thead><tr><th>cluster</th>'
        "<th>hosts</th><th>flagged</th><th>members</th></tr></thead><tbody>"
    ]
    for cluster in analysis.clusters:
        members = ", ".join(host_name(h) for h in cluster.hosts[:NAMED_HOSTS])
        if len(cluster.hosts) > NAMED_HOSTS:
            members += f" and {len(cluster.hosts) - NAMED_HOSTS:,} more"
        flagged = '<span class="badge outlier">outliers</span>' if cluster.outlier else ""
        out.append(
            f'<tr><td class="num">{e(cluster.id, 20)}</td><td class="num">{cluster.size:,}</td>'
            f"<td>{flagged}</td><td>{esc(members)}</td></tr>"
        )
    out.append("</tbody></table></section>")
    return "".join(out)


def _not_collected(analysis: Analysis) -> str:
    out = ['<section id="not-collected"><h2>What could not be collected</h2>']
    if not analysis.skipped and not any(h.gaps for h in analysis.hosts):
        out.append('<p class="note">Every host was analysed with every query.</p></section>')
        return "".join(out)
    if analysis.skipped:
        out.append(
            f"<h3>Hosts not analysed ({len(analysis.skipped):,})</h3>"
            '<table class="sortable" id="skipped"><thead><tr><th>host</th><th>status</th><th>reason</th>'
            "</tr></thead><tbody>"
        )
        for skipped in analysis.skipped:
            out.append(
                f"<tr><td>{esc(host_name(skipped.host))}</td><td>{e(skipped.status, 40)}</td>"
                f"<td>{e(skipped.reason)}</td></tr>"
            )
        out.append("</tbody></table>")
    groups = gap_groups(analysis)
    if groups:
        out.append(
            "<h3>Queries not collected (these hosts were analysed without them)</h3>"
            '<table class="sortable" id="gaps"><thead><tr><th>query</th><th>status</th><th>hosts</th>'
            "<th>which</th><th>errors</th></tr></thead><tbody>"
        )
        for group in groups:
            names = ", ".join(group.hosts[:NAMED_HOSTS])
            if len(group.hosts) > NAMED_HOSTS:
                names += f" and {len(group.hosts) - NAMED_HOSTS:,} more"
            out.append(
                f"<tr><td>{esc(group.query)}</td><td>{esc(group.status)}</td>"
                f'<td class="num">{len(group.hosts):,}</td><td>{esc(names)}</td>'
                f"<td>{esc('; '.join(group.errors))}</td></tr>"
            )
        out.append("</tbody></table>")
    out.append("</section>")
    return "".join(out)


def _footer(analysis: Analysis) -> str:
    pack = analysis.pack or {}
    parts = [f"Generated by Diffy {esc(__version__)}."]
    if pack.get("name") or pack.get("sha256"):
        parts.append(f"Query pack {e(pack.get('name'), 80)} (sha256 {e(pack.get('sha256'), 80)}).")
    settings = "; ".join(
        f"{safe_text(k, 40)}={safe_text(v, 80)}" for k, v in (analysis.settings or {}).items()
    )
    if settings:
        parts.append(f"Settings: {esc(settings)}.")
    parts.append("This file is self-contained: it loads nothing from anywhere.")
    return f"<footer>{' '.join(parts)}</footer>"
