"""Conformance tests: fixed raw inputs (a fixture filesystem tree) and the rows osquery 5.x prints
for them.  Every expectation in tests/test_conformance_*.py is derived by READING osquery's C++ at
release 5.23.1 (github osquery/osquery; the file and lines are cited next to it), never by running
the native collector; the native engine reads the fixture tree through its configurable root."""

from __future__ import annotations

import sys
from pathlib import Path

from collection_helpers import MODULE_UTILS

sys.path.insert(0, str(MODULE_UTILS))
import diffy_native_engine

OSQUERY_RELEASE = "5.23.1"


def tree(root: Path, files: dict[str, str | bytes], links: dict[str, str] | None = None) -> Path:
    """Write `files` (host path -> content) under root; `links` are symlinks (host path -> target)."""
    for path, content in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    for path, dest in (links or {}).items():
        link = root / path.lstrip("/")
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(dest)
    return root


def query(root: Path, sql: str) -> list[dict[str, str]]:
    """The rows as `osqueryi --json` prints them: every value a string, NULL as ""."""
    engine = diffy_native_engine.Engine(root=str(root))
    try:
        columns, rows = engine.query(sql)
    finally:
        engine.close()
    return diffy_native_engine.rows_as_objects(columns, rows)
