"""Diffy: a differencing engine for digital forensics and incident response on cloud fleets.

The library API (used by the CLI, for teams embedding Diffy in their own tooling) lives in
``diffy_analysis.api``: ``collect(...)``, ``analyze(...)``.  Importing this package has no side effects.
"""

from __future__ import annotations

from typing import Any

from diffy_analysis.version import __version__

__all__ = ["__version__", "analyze", "collect"]


def collect(*args: Any, **kwargs: Any) -> Any:  # thin re-export, documented in api.py
    """Run the collection playbook; see :func:`diffy_analysis.api.collect`."""
    from diffy_analysis.api import collect as _collect  # noqa: PLC0415 - keeps `import diffy_analysis` light

    return _collect(*args, **kwargs)


def analyze(*args: Any, **kwargs: Any) -> Any:  # thin re-export, documented in api.py
    """Analyse results directories; see :func:`diffy_analysis.api.analyze`."""
    from diffy_analysis.api import analyze as _analyze  # noqa: PLC0415 - keeps `import diffy_analysis` light

    return _analyze(*args, **kwargs)
