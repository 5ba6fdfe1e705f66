"""Make attacker-controlled values safe to show.

Every value in a report (process names, command lines, paths, even host names and the analysis'
own explanations, which quote those values) comes from hosts that may be controlled by the attacker
being investigated.  Before any reporter shows a value it passes through ``safe_text``:

- anything that is not text (bytes, numbers, None) becomes text; undecodable bytes and lone
  surrogates (what ``surrogateescape`` makes of non-UTF-8 input) become visible ``\\xNN`` escapes;
- every non-printable character (C0/C1 controls such as ESC, newlines, tabs, DEL, bidi overrides,
  zero-width characters, line/paragraph separators, unassigned code points) becomes a visible
  escape, so a value can neither drive the terminal nor forge a line or reorder what is shown;
- very long values are cut, with a note saying how much was cut.

Markup: the terminal reporter never lets rich parse markup in values (it passes ``Text`` objects);
the HTML reporter uses ``html_value``, which is ``safe_text`` and then ``html.escape`` (quotes too),
safe in text and in quoted attributes alike.
"""

from __future__ import annotations

import html

from diffy_analysis.text import printable

# Longest value shown in full.  Long enough for any sane command line, short enough that a 1 MB
# "process name" cannot drown a report.
DEFAULT_LIMIT = 500


def to_text(value: object) -> str:
    """Any value as text; bytes are decoded leniently (undecodable bytes kept as escapes)."""
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "surrogateescape")
    if isinstance(value, str):
        return value
    return str(value)


def truncate(text: str, limit: int | None) -> str:
    """Cut ``text`` to ``limit`` characters, saying how many were cut."""
    if limit is None or len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit:,} more characters not shown]"


def safe_text(value: object, limit: int | None = DEFAULT_LIMIT) -> str:
    """``value`` as printable, bounded text, safe to hand to a renderer that escapes markup."""
    text = to_text(value)
    if limit is not None and len(text) > limit:
        # Cut before escaping so an escape sequence is never cut in half.
        cut = len(text) - limit
        return f"{printable(text[:limit])}… [{cut:,} more characters not shown]"
    return printable(text)


def shorten(value: object, limit: int) -> str:
    """Printable and at most about ``limit`` characters, cut with an ellipsis: for one-line summaries
    (verdict, plot labels) whose full text is shown elsewhere in the report."""
    text = safe_text(to_text(value)[: limit * 2], None)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def html_value(value: object, limit: int | None = DEFAULT_LIMIT) -> str:
    """Any value, made safe (printable, bounded) and HTML-escaped for text and quoted attributes."""
    return html.escape(safe_text(value, limit), quote=True)


def html_text(text: str) -> str:
    """HTML-escape text that is already safe (made by ``safe_text`` or the reporters' own words)."""
    return html.escape(text, quote=True)
