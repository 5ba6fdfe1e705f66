"""An analysis-only install works, and a part whose extra is missing says which extra to install
(diffy_analysis/extras.py, issue 16). The optional packages are hidden from a child interpreter by
an import hook, the closest stand-in for a venv without them that costs no install."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "tests" / "data" / "sample-run" / "20261129T101500Z-a1b2c3"
OPTIONAL = ("ansible", "ansible_runner", "boto3", "elasticsearch", "elastic_transport", "matplotlib", "moto")

CHILD = """
import sys
BLOCKED = set(sys.argv[1].split(","))

class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)")
        return None

sys.meta_path.insert(0, Hide())
from diffy_analysis.cli.main import analyze_main, diffy_main
sys.argv = sys.argv[2:]
(analyze_main if sys.argv[0] == "diffy-analyze" else diffy_main)()
"""


def child(*args: str, blocked: tuple[str, ...] = OPTIONAL) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHILD, ",".join(blocked), *args],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_analysis_needs_no_optional_package(fmt: str) -> None:
    proc = child("diffy-analyze", str(SAMPLE), "--format", fmt)
    # the sample run has an unreachable host, so the analysis says trouble (2) with its findings
    assert proc.returncode == 2 and proc.stdout, proc.stderr
    assert "Traceback" not in proc.stderr
    if fmt == "json":
        assert json.loads(proc.stdout)["format"] == "diffy-analysis/1"


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (("diffy-analyze", str(SAMPLE), "--format", "html"), "html"),
        (("diffy", "collect", "-l", "app_x", "-i", "inventory/localhost.yml"), "collect"),
        (("diffy-analyze", str(SAMPLE), "--es-url", "http://127.0.0.1:9"), "es"),
    ],
)
def test_a_missing_extra_is_one_clear_line(args: tuple[str, ...], extra: str) -> None:
    proc = child(*args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"pip install 'diffy-analysis[{extra}]'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_hook_is_not_vacuous() -> None:
    """Without hiding anything the same HTML report renders: the failure above is the missing extra."""
    proc = child("diffy-analyze", str(SAMPLE), "--format", "html", blocked=("nothing_here",))
    assert proc.returncode == 2, proc.stderr  # an unreachable host in the sample run
    assert proc.stdout.lstrip().lower().startswith("<!doctype html")
