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
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)", name=name)
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


DEVTOOLS_HINT = "git clone the project and run scripts/setup.sh"


def test_without_the_dev_tooling_diffy_lab_is_one_clear_line() -> None:
    """An install without tools/ (the wheel): `diffy lab` names what to install, no ImportError."""
    proc = child("diffy", "lab", "status", blocked=("diffy_lab",))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert DEVTOOLS_HINT in proc.stderr and "diffy_lab" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_without_the_dev_tooling_validate_plans_but_does_not_run() -> None:
    """`diffy validate` (the plan) is product; `--run` drives lab hosts, which is dev tooling."""
    atomics = str(REPO / "tests" / "data" / "validate-run")
    planned = child("diffy", "validate", "--atomics", atomics, blocked=("diffy_lab",))
    assert planned.returncode == 0 and "tests selected" in planned.stdout, planned.stderr
    ran = child("diffy", "validate", "--atomics", atomics, "--run", blocked=("diffy_lab",))
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert DEVTOOLS_HINT in ran.stderr and "Traceback" not in ran.stderr


def test_require_devtools_tells_absent_tooling_from_its_missing_dependency(tmp_path, monkeypatch) -> None:
    from diffy_analysis.errors import MissingExtraError
    from diffy_analysis.extras import require_devtools

    assert require_devtools("diffy_lab.spec", "x").__name__ == "diffy_lab.spec"
    with pytest.raises(MissingExtraError, match="ships with a checkout"):
        require_devtools("diffy_probe_absent.sub", "probing")
    # The tooling is there, one of its own dependencies is not: that dependency is named.
    (tmp_path / "diffy_probe_broken").mkdir()
    (tmp_path / "diffy_probe_broken" / "__init__.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(MissingExtraError, match="'no_such_dependency_xyz'"):
        require_devtools("diffy_probe_broken", "probing")
