"""Property tests: any analysis, with any text an attacker could plant in it, renders safely.

hypothesis builds analyses whose every string (host names, queries, rows, explanations, gap errors,
skip reasons, identity) is arbitrary Unicode, lone surrogates and control characters included; the
terminal and HTML reporters must neither fail nor let a character through that could drive a
terminal or become markup.
"""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffy_analysis.findings import Analysis, Cluster, Finding, HostResult, QueryGap, SkippedHost
from diffy_analysis.report import html as html_report
from diffy_analysis.report import terminal

TEXT = st.text(
    alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=40
) | st.sampled_from(
    ["<script>window.__pwned=1</script>", '"><img src=x onerror=alert(1)>', "\x1b[2J", "$x^2$"]
)
SGR = re.compile(r"\x1b\[[0-9;]*m")


@st.composite
def findings(draw, compared: int) -> Finding:
    kind = draw(st.sampled_from(["added", "missing", "changed"]))
    row = draw(st.dictionaries(TEXT, TEXT, max_size=4))
    with_row = draw(st.integers(min_value=0, max_value=compared))
    return Finding(
        query=draw(TEXT),
        kind=kind,
        row=row,
        explanation=draw(TEXT),
        weight=draw(st.floats(min_value=0, max_value=20)),
        changed_columns=tuple(row)[:2] if kind == "changed" else (),
        reference_row=draw(st.dictionaries(TEXT, TEXT, max_size=3)) if kind == "changed" else None,
        hosts_with_row=with_row,
        hosts_compared=compared,
        prevalence=with_row / compared,
        strength=draw(st.sampled_from(["strong", "weak"])),
    )


@st.composite
def analyses(draw) -> Analysis:
    n = draw(st.integers(min_value=0, max_value=5))
    names = draw(st.lists(TEXT, min_size=n, max_size=n, unique=True))
    hosts = []
    for name in names:
        hosts.append(
            HostResult(
                host=name,
                host_id=name,
                score=draw(st.floats(min_value=0, max_value=50)),
                outlier=draw(st.booleans()),
                cluster=draw(st.none() | st.integers(min_value=1, max_value=3)),
                findings=tuple(draw(st.lists(findings(max(n, 1)), max_size=3))),
                gaps=tuple(
                    QueryGap(
                        draw(TEXT), draw(st.sampled_from(["error", "timeout", "unsupported"])), draw(TEXT)
                    )
                    for _ in range(draw(st.integers(min_value=0, max_value=2)))
                ),
                identity=draw(st.dictionaries(TEXT, TEXT, max_size=2)),
            )
        )
    hosts.sort(key=lambda h: -h.score)
    return Analysis(
        method=draw(st.sampled_from(["peers", "baseline"])),
        run_ids=(draw(TEXT),),
        hosts=tuple(hosts),
        clusters=(Cluster(1, max(n, 1), tuple(names)),),
        skipped=tuple(
            SkippedHost(draw(TEXT), draw(TEXT), draw(st.sampled_from(["unreachable", "failed", "invalid"])))
            for _ in range(draw(st.integers(min_value=0, max_value=2)))
        ),
        baseline=draw(st.none() | TEXT),
        app=draw(st.none() | TEXT),
    )


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(analyses(), st.booleans())
def test_terminal_renders_any_analysis_safely(analysis, color):
    out = io.StringIO()
    terminal.render(analysis, out, color=color)
    text = SGR.sub("", out.getvalue())
    text.encode("utf-8")
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text)
    quiet = io.StringIO()
    terminal.render(analysis, quiet, quiet=True)
    assert 1 <= len(quiet.getvalue().splitlines()) <= 2


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(analyses())
def test_html_renders_any_analysis_safely(analysis):
    doc = html_report.render_string(analysis)
    doc.encode("ascii")
    parser = Tags()
    parser.feed(doc)
    tags = [t for t, _ in parser.tags]
    assert tags.count("script") == 1 and tags.count("style") == 1
    assert "svg" not in tags and "iframe" not in tags
    for _, attrs in parser.tags:
        for name, value in attrs:
            assert not name.startswith("on")
            assert "pwned" not in (value or "") and "alert(" not in (value or "")
