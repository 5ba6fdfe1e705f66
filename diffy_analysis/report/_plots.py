"""The HTML report's pictures: the clustering dendrogram and the hosts x findings heatmap.

Drawn with matplotlib's object API (a ``Figure`` and its SVG canvas, never pyplot, so no global
backend or figure state is touched) and returned as ``data:`` URIs for ``<img>`` tags: the report
stays one self-contained file, and an SVG shown through ``<img>`` can never run script.

Labels are attacker-controlled (host names, explanations quoting process names): they go through
``safe_text``, and matplotlib's mathtext is switched off so a ``$`` in a name cannot break the
drawing.  matplotlib escapes text when it writes SVG.
"""

from __future__ import annotations

import base64
import io
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import dendrogram as scipy_dendrogram

from diffy_analysis.extras import missing_extra
from diffy_analysis.findings import Analysis, Finding, HostResult
from diffy_analysis.report._escape import shorten
from diffy_analysis.report._words import plain_words

try:
    import matplotlib as mpl
    from matplotlib.figure import Figure
except ImportError as err:
    raise missing_extra("matplotlib", "html", "the HTML report's pictures") from err

# Above this many leaves the dendrogram shows the last merges only (scipy's "lastp" truncation);
# hosts in tiny clusters merge last, so outliers keep their own leaves.
MAX_LEAVES = 120
HEATMAP_HOSTS = 40
HEATMAP_FINDINGS = 20
LABEL_CHARS = 48

OUTLIER_COLOUR = "#c0392b"
# Cluster colours for the dendrogram's links: no red, which means "outlier" everywhere in a report.
CLUSTER_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#8c564b", "#bcbd22", "#e377c2", "#ff7f0e")
ABOVE_CUT_COLOUR = "#999999"
RC = {
    "svg.fonttype": "none",  # text stays text (small files); matplotlib XML-escapes it
    "svg.hashsalt": "diffy",  # stable element ids: the same analysis gives the same report
    "text.parse_math": False,  # a "$" in a host name is text, not a formula
    "text.usetex": False,
    "font.size": 8,
    "font.family": "DejaVu Sans",
}


class PlotError(Exception):
    """The data cannot be drawn (a malformed dendrogram in a saved analysis)."""


def _label(value: object) -> str:
    """Printable and short: a plot has no room for "N more characters not shown"."""
    return shorten(value, LABEL_CHARS)


def _data_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Glyph missing from font" for exotic characters in labels
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _outlier_label(label: str, outliers: set[str]) -> bool:
    """Dendrogram labels are "host" or "host (+N identical)"."""
    return label in outliers or label.split(" (+", 1)[0] in outliers


def _cluster_colour(scipy_colour: str) -> str:
    """scipy names cluster colours "C0", "C1", ... (matplotlib's cycle, which has red): use ours."""
    if scipy_colour.startswith("C") and scipy_colour[1:].isdigit():
        return CLUSTER_COLOURS[int(scipy_colour[1:]) % len(CLUSTER_COLOURS)]
    return scipy_colour


def outliers_without_leaf(analysis: Analysis) -> list[str]:
    """Outliers that no dendrogram leaf is labelled with (collapsed into another host's leaf)."""
    if analysis.dendrogram is None:
        return []
    named = {label.split(" (+", 1)[0] for label in analysis.dendrogram.labels} | set(
        analysis.dendrogram.labels
    )
    return [h.host for h in analysis.outliers if h.host not in named]


def dendrogram_uri(analysis: Analysis) -> str:
    """The dendrogram (SVG data URI) with the cut drawn and outlier leaves in red."""
    dendro = analysis.dendrogram
    if dendro is None:
        raise PlotError("the analysis has no dendrogram (baseline method, or fewer than two profiles)")
    try:
        z = np.asarray(dendro.linkage, dtype=float)
        n = len(dendro.labels)
        if n < 2 or z.shape != (n - 1, 4) or not np.isfinite(z).all():
            raise PlotError(f"linkage matrix of shape {z.shape} does not fit {n} labels")
        outliers = {h.host for h in analysis.outliers}
        raw_labels = list(dendro.labels)

        def leaf_label(idx: int) -> str:
            if idx < n:
                return raw_labels[idx]
            return f"({int(z[idx - n, 3]):,} profiles)"

        truncated = n > MAX_LEAVES
        with mpl.rc_context(RC):
            tree = scipy_dendrogram(
                z,
                no_plot=True,
                truncate_mode="lastp" if truncated else None,
                p=MAX_LEAVES,
                leaf_label_func=leaf_label,
                color_threshold=float(dendro.cut_distance),
                above_threshold_color=ABOVE_CUT_COLOUR,
            )
    except (ValueError, TypeError, IndexError) as err:
        raise PlotError(f"malformed dendrogram: {err}") from err

    leaves = tree["ivl"]
    height = min(max(2.5, 0.16 * len(leaves) + 1.0), 24.0)
    with mpl.rc_context(RC):
        fig = Figure(figsize=(9, height))
        ax = fig.add_subplot()
        for xs, ys, colour in zip(tree["icoord"], tree["dcoord"], tree["color_list"], strict=False):
            ax.plot(ys, xs, color=_cluster_colour(colour), linewidth=1.0)
        cut = float(dendro.cut_distance)
        ax.axvline(cut, color=OUTLIER_COLOUR, linestyle="--", linewidth=1.0)
        ax.text(cut, 10 * len(leaves) + 2, f" cut {cut:.3g}", color=OUTLIER_COLOUR, va="bottom")
        ax.set_yticks([5 + 10 * i for i in range(len(leaves))])
        ax.set_yticklabels([_label(lbl) for lbl in leaves])
        for tick, raw in zip(ax.get_yticklabels(), leaves, strict=False):
            if _outlier_label(raw, outliers):
                tick.set_color(OUTLIER_COLOUR)
                tick.set_fontweight("bold")
        ax.set_ylim(0, 10 * len(leaves) + 8)
        ax.set_xlabel("distance between host profiles (merges right of the cut join separate clusters)")
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        title = "Hierarchical clustering of host profiles"
        if truncated:
            title += f" (last {MAX_LEAVES} merges of {n:,} profiles)"
        ax.set_title(title, loc="left")
        return _data_uri(fig)


@dataclass(frozen=True)
class HeatmapData:
    hosts: list[HostResult]
    columns: list[tuple[str, str]]
    """(kind, plain words) of each finding (raw: labelled through ``_label``)."""
    matrix: np.ndarray


def _finding_key(finding: Finding) -> tuple:
    return (finding.query, finding.kind, tuple(sorted(finding.row.items())))


def heatmap_data(analysis: Analysis) -> HeatmapData | None:
    """Outliers and top-scored hosts x the findings that weigh most across them."""
    hosts = [h for h in analysis.hosts if h.outlier]
    hosts += [h for h in analysis.hosts if not h.outlier and h.findings][: max(0, HEATMAP_HOSTS - len(hosts))]
    hosts = hosts[:HEATMAP_HOSTS]
    totals: dict[tuple, float] = {}
    example: dict[tuple, Finding] = {}
    for host in hosts:
        for finding in host.findings:
            key = _finding_key(finding)
            totals[key] = totals.get(key, 0.0) + max(finding.weight, 0.0)
            example.setdefault(key, finding)
    if not totals:
        return None
    keys = sorted(totals, key=lambda k: (-totals[k], repr(k)))[:HEATMAP_FINDINGS]
    index = {k: i for i, k in enumerate(keys)}
    matrix = np.zeros((len(hosts), len(keys)))
    for r, host in enumerate(hosts):
        for finding in host.findings:
            c = index.get(_finding_key(finding))
            if c is not None:
                matrix[r, c] = max(matrix[r, c], finding.weight)
    columns = [(example[k].kind, plain_words(example[k])) for k in keys]
    return HeatmapData(hosts=hosts, columns=columns, matrix=matrix)


def heatmap_uri(data: HeatmapData) -> str:
    """Findings as rows (their words read horizontally), hosts as columns, weight as colour."""
    matrix = data.matrix.T
    rows, cols = matrix.shape
    with mpl.rc_context(RC):
        fig = Figure(figsize=(min(4.0 + 0.3 * cols, 16.0), min(1.6 + 0.26 * rows, 12.0)))
        ax = fig.add_subplot()
        image = ax.imshow(matrix, cmap="Reds", aspect="auto", vmin=0, interpolation="nearest")
        ax.set_yticks(range(rows))
        ax.set_yticklabels([_label(f"{kind}: {words}") for kind, words in data.columns])
        ax.set_xticks(range(cols))
        ax.set_xticklabels([_label(h.host) for h in data.hosts], rotation=60, ha="right")
        for tick, host in zip(ax.get_xticklabels(), data.hosts, strict=False):
            if host.outlier:
                tick.set_color(OUTLIER_COLOUR)
                tick.set_fontweight("bold")
        ax.set_title("Most significant findings × hosts (colour: weight of the finding)", loc="left")
        fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02)
        return _data_uri(fig)
