"""The JSON report: the "diffy-analysis/1" document.

Described in docs/analysis-format.md; its schema is diffy_analysis/schemas/analysis.schema.json.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from diffy_analysis.findings import Analysis

# The document is written in pieces of about this many characters: at 100,000 hosts it is ~580 MB,
# and building it as one string (and its UTF-8 bytes, to check them) cost ~3 GB of peak memory.
_PIECE = 1 << 20


class _Prepared:
    """One walk over the document: non-finite floats replaced (copy on write: containers that hold
    none are the model's own, not copies) and whether any string has no UTF-8 form."""

    def __init__(self) -> None:
        self.unencodable = False

    def _text(self, value: str) -> None:
        if not self.unencodable and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                self.unencodable = True

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            self._text(value)
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else None  # JSON has no NaN/Infinity (defensive)
        if isinstance(value, dict):
            changed: dict[Any, Any] | None = None
            for key, item in value.items():
                if isinstance(key, str):
                    self._text(key)
                new = self.value(item)
                if new is not item:
                    changed = dict(value) if changed is None else changed
                    changed[key] = new
            return value if changed is None else changed
        if isinstance(value, list | tuple):
            items: list[Any] | None = None
            for index, item in enumerate(value):
                new = self.value(item)
                if new is not item:
                    items = list(value) if items is None else items
                    items[index] = new
            return value if items is None else items
        return value


def document(analysis: Analysis) -> dict[str, Any]:
    return _Prepared().value(analysis.to_json())


def render(analysis: Analysis, stream: TextIO) -> None:
    """Write the analysis as indented JSON (UTF-8 text, stable key order from the model), in pieces:
    the same bytes as ``json.dumps(doc, indent=2)`` (which joins the same encoder's chunks)."""
    prepared = _Prepared()
    doc = prepared.value(analysis.to_json())
    # A hostile host can report lone surrogates (JSON "\ud800"): they have no UTF-8 form, so the
    # document is then written with \u escapes; the values round-trip exactly through any JSON reader.
    encoder = json.JSONEncoder(indent=2, ensure_ascii=prepared.unencodable, allow_nan=False)
    piece: list[str] = []
    size = 0
    for chunk in encoder.iterencode(doc):
        piece.append(chunk)
        size += len(chunk)
        if size >= _PIECE:
            stream.write("".join(piece))
            piece, size = [], 0
    piece.append("\n")
    stream.write("".join(piece))
