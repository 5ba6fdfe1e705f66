"""The JSON report: the "diffy-analysis/1" document.

Described in docs/analysis-format.md; its schema is diffy_analysis/schemas/analysis.schema.json.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from diffy_analysis.findings import Analysis


def _finite(value: Any) -> Any:
    """JSON has no NaN/Infinity: replace them (defensive; scores are always finite)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def document(analysis: Analysis) -> dict[str, Any]:
    return _finite(analysis.to_json())


def render(analysis: Analysis, stream: TextIO) -> None:
    """Write the analysis as indented JSON (UTF-8 text, stable key order from the model)."""
    doc = document(analysis)
    text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A hostile host can report lone surrogates (JSON "\ud800"): they have no UTF-8 form, so
        # write \u escapes instead; the values round-trip exactly through any JSON reader.
        text = json.dumps(doc, indent=2, ensure_ascii=True, allow_nan=False)
    stream.write(text + "\n")
