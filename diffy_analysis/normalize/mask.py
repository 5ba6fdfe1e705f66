"""Identity masking: a host's own name, instance id and addresses inside values become placeholders.

Without it every host is unique: its hostname is in /etc/hosts, its IP in a command line, its
instance id in a path. ``web-7.internal 10.0.1.7`` becomes ``<hostname>.internal <ipv4>`` on every
host, so the row is common again. Only the host's *own* identity is masked (from host.json): a
foreign IP in a command line (an attacker's C2) stays visible.

Matching respects token boundaries (``10.0.1.1`` is not masked inside ``10.0.1.12``; ``web-1``
not inside ``web-12``). Loopback and wildcard addresses and ``localhost`` are never masked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable

from diffy_analysis.errors import HostDataError
from diffy_analysis.load import HostIdentity, parse_rows

NEVER_MASK = frozenset(
    {
        "localhost",
        "localhost.localdomain",
        "127.0.0.1",
        "0.0.0.0",
        "::1",
        "::",
        "00:00:00:00:00:00",
        "fe80::1",
    }
)
MIN_TOKEN = 3
_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9._:-]+$")
"""Only plain tokens are masked: a hostile host.json cannot smuggle quotes into the text masking."""

_BOUNDARY = {
    "hostname": (r"(?<![A-Za-z0-9_-])", r"(?![A-Za-z0-9_-])"),
    "instance_id": (r"(?<![A-Za-z0-9_-])", r"(?![A-Za-z0-9_-])"),
    "ipv4": (r"(?<![0-9.])", r"(?![0-9]|\.[0-9])"),
    "ipv6": (r"(?<![0-9A-Fa-f:])", r"(?![0-9A-Fa-f:])"),
    "mac": (r"(?<![0-9A-Fa-f:])", r"(?![0-9A-Fa-f:])"),
}


class IdentityMasker:
    """Masks one host's identity tokens. Cheap to build; the regex is compiled only when needed."""

    def __init__(self, tokens: Iterable[tuple[str, str]]):
        seen: dict[str, str] = {}
        probes: set[str] = set()
        for kind, token in tokens:
            token = (token or "").strip()  # noqa: PLW2901 - normalised copy
            if (
                len(token) >= MIN_TOKEN
                and _SAFE_TOKEN.match(token)
                and token.lower() not in NEVER_MASK
                and token.lower() not in seen
            ):
                seen[token.lower()] = kind
                probes.update((token, token.lower()))
        # longest first, so "web-1.example.com" wins over "web-1"
        self.tokens = sorted(seen.items(), key=lambda kv: (-len(kv[0]), kv[0]))
        self._probes = tuple(sorted(probes))
        self._regex: re.Pattern[str] | None = None
        self._placeholders: dict[str, str] = {}

    @classmethod
    def for_host(cls, identity: HostIdentity) -> IdentityMasker:
        tokens: list[tuple[str, str]] = []
        if identity.hostname:
            tokens.append(("hostname", identity.hostname))
            short = identity.hostname.split(".")[0]
            if short != identity.hostname:
                tokens.append(("hostname", short))
        if identity.instance_id:
            tokens.append(("instance_id", identity.instance_id))
        for ip in identity.ipv4:
            tokens.append(("ipv4", ip))
            tokens.append(("hostname", "ip-" + ip.replace(".", "-")))  # EC2's default host names
        tokens.extend(("ipv6", ip) for ip in identity.ipv6)
        tokens.extend(("mac", mac) for mac in identity.mac)
        return cls(tokens)

    def mentioned_in(self, text: str) -> bool:
        """Fast pre-check over a whole file's text: can any value of it need masking?

        Looks for each token as recorded in host.json and lower-cased (how osquery prints names,
        MACs and instance ids); a file mentioning the host only in upper case is not masked.
        """
        for probe in self._probes:  # noqa: SIM110 - a plain loop: no generator step per probe
            if probe in text:
                return True
        return False

    def masks_a_key(self, text: str) -> bool:
        """Whether a token is a whole JSON object key in ``text`` (a host named like a column, e.g.
        "name" or "shell"): masking the text would rename that column, so values are masked instead."""
        low = text.lower()
        return any(f'"{token}":' in low for token, _kind in self.tokens)

    def _compiled(self) -> re.Pattern[str]:
        if self._regex is None:
            parts = []
            for index, (token, kind) in enumerate(self.tokens):
                before, after = _BOUNDARY[kind]
                parts.append(f"(?P<t{index}>{before}{re.escape(token)}{after})")
                self._placeholders[f"t{index}"] = f"<{kind}>"
            self._regex = re.compile("|".join(parts) or r"(?!x)x", re.IGNORECASE)
        return self._regex

    def mask(self, value: str) -> str:
        """``value`` with every bounded occurrence of the host's tokens replaced by a placeholder.

        Occurrences are found with ``str.find`` on the lower-cased text (C speed, even over a whole
        file) and only candidate positions are boundary-checked in Python; the regex is kept for
        the rare text whose lower-casing changes its length.
        """
        if not self.tokens:
            return value
        low = value.lower()
        if len(low) != len(value):
            return self._compiled().sub(lambda m: self._placeholders[m.lastgroup or ""], value)
        spans: list[tuple[int, int, str]] = []
        taken = bytearray(len(value))
        for token, kind in self.tokens:
            start = 0
            while (i := low.find(token, start)) != -1:
                j = i + len(token)
                start = i + 1
                if not any(taken[i:j]) and _bounded(low, i, j, kind):
                    spans.append((i, j, kind))
                    taken[i:j] = b"\x01" * (j - i)
        if not spans:
            return value
        out = []
        last = 0
        for i, j, kind in sorted(spans):
            out.append(value[last:i])
            out.append(f"<{kind}>")
            last = j
        out.append(value[last:])
        return "".join(out)


class HostMasking:
    """The one masking path of a fleet index, with its two entry points: a file's ``text`` before it
    is parsed (a ``load.TextFilter``: hosts streamed by ``build_fleet``) and ``rows`` already parsed
    (hosts handed over already read: a baseline, an evidence re-read, the Elasticsearch reader's).
    Both take the host's one masker (built once per host) and the one order of steps (``_steps``)."""

    def __init__(self, wanted: Callable[[str], bool]):
        self._wanted = wanted
        """query -> whether its rows are masked (the config and the query's rule)."""
        self._wanted_by_query: dict[str, bool] = {}
        self._for: tuple[HostIdentity, IdentityMasker] | None = None

    def masker(self, identity: HostIdentity, query: str) -> IdentityMasker | None:
        """The host's masker when ``query`` is masked; one host at a time."""
        wanted = self._wanted_by_query.get(query)
        if wanted is None:
            wanted = self._wanted_by_query[query] = self._wanted(query)
        if not wanted:
            return None
        if self._for is None or self._for[0] is not identity:
            self._for = (identity, IdentityMasker.for_host(identity))
        return self._for[1]

    @staticmethod
    def _steps(masker: IdentityMasker | None, text: str) -> str:
        """What to do with a file: "none" (no token in it), "values" (a token is a column name:
        mask values one by one, never keys) or "text" (mask the whole text at once)."""
        if masker is None or not masker.mentioned_in(text):
            return "none"
        return "values" if masker.masks_a_key(text) else "text"

    def text(self, identity: HostIdentity, query: str, text: str) -> str:
        """The file's text with the host's identity masked; the very same str when nothing to mask."""
        masker = self.masker(identity, query)
        steps = self._steps(masker, text)
        if masker is None or steps == "none":
            return text
        if steps == "values":
            try:
                rows = parse_rows(text, f"{query}.json")
            except HostDataError:
                return text  # the reader reports the real problem
            return json.dumps([{k: masker.mask(v) for k, v in r.items()} for r in rows], ensure_ascii=False)
        return masker.mask(text)

    def rows(
        self, identity: HostIdentity, query: str, rows: list[dict[str, str]], text: str | None
    ) -> list[dict[str, str]]:
        """``rows`` (parsed from ``text``) with the host's identity masked; the very same list when
        nothing to mask. A text that is not the file's JSON (the Elasticsearch reader keeps the
        values, one per line, as its stand-in) is masked value by value."""
        masker = self.masker(identity, query) if text is not None else None
        steps = self._steps(masker, text) if text is not None else "none"
        if masker is None or text is None or steps == "none":
            return rows
        if steps == "values":
            return [{k: masker.mask(v) for k, v in row.items()} for row in rows]
        masked = masker.mask(text)
        if masked == text:
            return rows
        try:
            masked_rows = parse_rows(masked, f"{query}.json")
        except HostDataError:
            return [{k: masker.mask(v) for k, v in row.items()} for row in rows]
        return masked_rows if len(masked_rows) == len(rows) else rows


_WORD = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
_HEX = frozenset("0123456789abcdef:")
_DIGITS = frozenset("0123456789")


def _bounded(low: str, i: int, j: int, kind: str) -> bool:
    """The same boundaries as ``_BOUNDARY``'s lookarounds, on lower-cased text."""
    before = low[i - 1] if i > 0 else ""
    after = low[j] if j < len(low) else ""
    if kind in ("hostname", "instance_id"):
        return before not in _WORD and after not in _WORD
    if kind == "ipv4":
        return (
            before not in _DIGITS
            and before != "."
            and after not in _DIGITS
            and not (after == "." and j + 1 < len(low) and low[j + 1] in _DIGITS)
        )
    return before not in _HEX and after not in _HEX
