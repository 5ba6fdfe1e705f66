"""Text helpers the row describers share: every value may come from an attacker-controlled host."""

from __future__ import annotations

from diffy_analysis.text import escape_unprintable

MAX_VALUE = 120

PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "132": "sctp", "0": "all"}
FAMILIES = {"2": "IPv4", "10": "IPv6", "1": "unix", "17": "packet"}


def clip(value: str | None, limit: int = MAX_VALUE) -> str:
    """Shorten and make printable: control characters become \\xNN escapes."""
    if value and len(value) <= limit and value.isprintable():
        return value  # the common case, as the steps below would return it
    text = value or ""
    text = escape_unprintable(text[: limit * 2])
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_hash(value: str | None) -> str:
    return (value or "")[:12] + ("…" if value and len(value) > 12 else "")
