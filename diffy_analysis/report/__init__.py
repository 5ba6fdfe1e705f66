"""Renderers of an Analysis: terminal table, JSON (diffy-analysis/1), self-contained HTML.

``RENDERERS`` is a plain registry, format -> "module:function"; each renderer is imported only
when used (the HTML one pulls in matplotlib-free SVG code, the terminal one rich).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from diffy_analysis.findings import Analysis

RENDERERS: dict[str, str] = {
    "table": "diffy_analysis.report.terminal:render",
    "json": "diffy_analysis.report.json:render",
    "html": "diffy_analysis.report.html:render",
}


def renderer(fmt: str) -> Any:
    """The render function registered for ``fmt`` (imported on first use)."""
    module_name, _, attr = RENDERERS[fmt].partition(":")
    return getattr(importlib.import_module(module_name), attr)


def render(analysis: Analysis, fmt: str, stream: TextIO, **options: Any) -> None:
    """Render ``analysis`` as ``fmt`` (a key of RENDERERS) onto ``stream``."""
    renderer(fmt)(analysis, stream, **options)
