"""Making text a compromised host chose safe to show: the one place that escapes unprintable characters.

Two spellings of an escape, both kept because they are part of Diffy's output (the golden analyses
pin them), and one way to drop what cannot be shown:

* :func:`escape_unprintable` -- ``\\xNN`` of the code point (``\\x202e`` for U+202E): what analyze's
  explanations, CLI messages and the collection progress have always written;
* :func:`printable` -- the reports' precise form: ``\\n``/``\\r``/``\\t``, ``\\xNN`` up to U+00FF and for
  undecodable bytes carried as lone surrogates, ``\\uNNNN`` and ``\\UNNNNNNNN`` above;
* :func:`strip_unprintable` -- the unprintable characters removed: for a short label shown next to
  the real name (the hostname a host reported, in the collection summary).
"""

from __future__ import annotations

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_unprintable(text: str) -> str:
    """Every character that is not printable (``str.isprintable``) as ``\\x`` + its code point in hex."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def _escape_char(ch: str) -> str:
    named = _NAMED.get(ch)
    if named:
        return named
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:
        # A byte that was not valid UTF-8, smuggled through as a lone surrogate: show the byte.
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str) -> str:
    """Replace every character that is not printable (``str.isprintable``) by a visible escape."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape_char(ch) for ch in text)


def strip_unprintable(text: str) -> str:
    """``text`` without the characters that are not printable (``str.isprintable``)."""
    if text.isprintable():
        return text
    return "".join(ch for ch in text if ch.isprintable())
