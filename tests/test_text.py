"""diffy_analysis/text.py: the one module that makes host-chosen text safe to show."""

from __future__ import annotations

from pathlib import Path

from diffy_analysis.text import escape_unprintable, printable, strip_unprintable

PACKAGE = Path(__file__).resolve().parents[1] / "diffy_analysis"


def test_the_three_forms():
    hostile = "a\x1b[2J\u202eb\n\udcff"
    assert escape_unprintable(hostile) == "a\\x1b[2J\\x202eb\\x0a\\xdcff"
    assert printable(hostile) == "a\\x1b[2J\\u202eb\\n\\xff"
    assert strip_unprintable(hostile) == "a[2Jb"
    for helper in (escape_unprintable, printable, strip_unprintable):
        assert helper("plain text") == "plain text"


def test_no_other_product_module_filters_printable_characters_itself():
    """A second home-made escape drifts from this one (issue 15): every product module uses text.py.
    (The collector's target side, roles/*/module_utils, cannot import the package and is not scanned.)"""
    own = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "text.py" and "isprintable(" in path.read_text("utf-8")
    ]
    assert own == []
