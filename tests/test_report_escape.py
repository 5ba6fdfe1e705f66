"""safe_text and shorten: whatever a host reports, what reporters get is printable, bounded text."""

from __future__ import annotations

import html

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from diffy_analysis.findings import Finding
from diffy_analysis.report._escape import DEFAULT_LIMIT, safe_text, shorten
from diffy_analysis.report._words import finding_words, short_words

# Any code point, lone surrogates included (what surrogateescape makes of non-UTF-8 bytes).
ANY_TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()))


@given(st.one_of(ANY_TEXT, st.binary(), st.integers(), st.floats(), st.none()))
@example("\x1b]0;x\x07\u202e\u200b\ud800\udcff\n\t\x00\x7f\x85")
def test_safe_text_is_printable_bounded_and_encodable(value):
    out = safe_text(value)
    assert out.isprintable()
    out.encode("utf-8")  # no lone surrogate survives
    assert len(out) <= 10 * DEFAULT_LIMIT + 60  # an escape is at most 10 characters per input character
    escaped = html.escape(out, quote=True)
    assert "<" not in escaped and '"' not in escaped and "'" not in escaped


@given(ANY_TEXT)
def test_printable_text_is_kept_as_is(value):
    if value.isprintable() and len(value) <= DEFAULT_LIMIT:
        assert safe_text(value) == value


@given(ANY_TEXT, st.integers(min_value=2, max_value=200))
def test_shorten_is_printable_and_short(value, limit):
    out = shorten(value, limit)
    assert out.isprintable()
    assert len(out) <= limit


def test_known_escapes():
    assert safe_text("a\x1b[31mb") == "a\\x1b[31mb"
    assert safe_text("\u202e") == "\\u202e"
    assert safe_text("\U000e0041") == "\\U000e0041"  # a tag character (invisible)
    assert safe_text(b"ok\xff") == "ok\\xff"
    assert safe_text("x" * 600).endswith("… [100 more characters not shown]")


@pytest.mark.timeout(60)
def test_explanations_with_huge_numbers_do_not_make_the_words_slow():
    """A 200,000-digit "port" in an explanation stays fast to show (the reports once parsed the
    sentence with patterns, one of which backtracked over such a value for minutes; they now word
    findings from their facts and show a sentence without facts as written)."""
    huge = "9" * 200_000
    for explanation in (
        f"listens on tcp 0.0.0.0:{huge} (process nc)",
        f"x; on {huge} of {huge} hosts",
        "; on " + "1," * 100_000,
        f"{huge} of {huge} hosts",
    ):
        finding = Finding(
            "listening_ports", "added", {"port": huge}, explanation, 1.0, hosts_with_row=1, hosts_compared=3
        )
        assert len(short_words(finding)) <= 80
        assert finding_words(finding, short=True).endswith("on 1 of 3 hosts")
        assert "more characters not shown" in finding_words(finding)
