"""Changelog fragments are valid for antsibull-changelog (what Galaxy and Automation Hub expect)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_antsibull_changelog_lint_is_clean() -> None:
    tool = Path(sys.executable).parent / "antsibull-changelog"
    proc = subprocess.run([str(tool), "lint"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "", proc.stdout
    assert list((REPO / "changelogs" / "fragments").glob("*.yml")), "fragments are where changes go"
