"""The wheel holds the product and no dev tooling (issue 15), and stands alone (issue 16): built from this
checkout, installed with its [collect] extra into a fresh virtualenv, run from a directory that is not a
checkout, `diffy collect` collects localhost with the collection the wheel ships and `diffy-analyze`
analyses that run.

No network: the wheel is built without build isolation (setuptools from this venv), and pip resolves the
[collect] extra offline (``--no-index``) against the dependencies already installed in this checkout's
venv, which the fresh venv sees through a .pth file (a STAND-IN for downloading them: this machine has no
wheelhouse). The console scripts of those dependencies (ansible-playbook, ...) are written into the fresh
venv's bin/ from their entry points, as pip would when installing them there. The checkout's own
diffy-analysis (an editable install) is left out of what the fresh venv sees.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run(argv: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)


def _fresh_venv(root: Path) -> Path:
    """A virtualenv whose site-packages see this venv's dependencies, but not diffy-analysis itself."""
    proc = _run([sys.executable, "-m", "venv", "--without-pip", str(root)], timeout=120)
    assert proc.returncode == 0, proc.stderr
    python = root / "bin" / "python"
    site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    )
    deps = root / "deps"  # this venv's site-packages minus diffy-analysis (symlinks, no copies)
    deps.mkdir()
    ours = Path(sysconfig.get_paths()["purelib"])
    for entry in ours.iterdir():
        lowered = entry.name.lower()
        ours_too = ("diffy_analysis", "__editable__", "diffy-analysis", "diffy_devtools", "diffy-devtools")
        if lowered.startswith(ours_too) or entry.suffix == ".pth":
            continue
        (deps / entry.name).symlink_to(entry)
    (site / "diffy-deps.pth").write_text(str(deps) + "\n")
    for dist in metadata.distributions(path=[str(ours)]):
        if (dist.metadata["Name"] or "").lower() == "diffy-analysis":
            continue
        for ep in dist.entry_points.select(group="console_scripts"):
            module, _, attr = ep.value.partition(":")
            script = root / "bin" / ep.name
            script.write_text(
                f"#!{python}\nimport sys\nfrom {module} import {attr.split('.')[0]}\nsys.exit({attr}())\n"
            )
            script.chmod(0o755)
    return python


def _check_contents(wheel: Path) -> None:
    """The product and no dev tooling: fleetgen and the lab (30% of the package once) live in tools/,
    their own dist; the schemas, the report assets, py.typed and the licence are in. (Checked on
    this test's wheel: one build, not two.)"""
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
        # no module of the dev tooling, under any name it ever had
        tooling = (
            "diffy_fleetgen/",
            "diffy_lab/",
            "tools/",
            "diffy_analysis/fleetgen/",
            "diffy_analysis/lab/",
        )
        assert not [n for n in names if n.startswith(tooling)]
        assert not [n for n in names if n.endswith(("validate/runner.py", "validate/execute.py"))]
        # the lab's pytest helpers (diffy_lab.testing) were shipped once
        assert not [n for n in names if n.endswith(".py") and b"import pytest" in whl.read(n)]
    for needed in (
        "diffy_analysis/py.typed",
        "diffy_analysis/schemas/manifest.schema.json",
        "diffy_analysis/schemas/host.schema.json",
        "diffy_analysis/report/assets/report.css",
        "diffy_analysis/cli/main.py",
    ):
        assert needed in names, needed
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_wheel_installed_in_a_fresh_venv_collects_localhost_and_analyses_it(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    build = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(REPO),
        ],
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = wheels.glob("diffy_analysis-*.whl")
    _check_contents(wheel)

    python = _fresh_venv(tmp_path / "venv")
    install = _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-index",
         "--disable-pip-version-check", f"{wheel}[collect]"],
        timeout=300,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    where = _run(
        [str(python), "-c", "import diffy_analysis; print(diffy_analysis.__file__)"], cwd=tmp_path, timeout=60
    )
    package = Path(where.stdout.strip()).parent
    assert package.is_relative_to(tmp_path / "venv"), where.stdout + where.stderr

    work = tmp_path / "elsewhere"  # not a checkout: no playbooks/, no ansible.cfg
    work.mkdir()
    (work / "hosts.ini").write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "DIFFY_"))}
    env["PATH"] = f"{python.parent}:/usr/bin:/bin"
    env["ANSIBLE_LOCAL_TEMP"] = str(tmp_path / "ansible-tmp")
    bin_dir = python.parent
    shipped = package / "_collection/ansible_collections/diffy/diffy"
    default_pack = shipped / "roles/diffy_collect/files/packs/linux-dfir.json"
    assert (
        default_pack.read_bytes() == (REPO / "roles/diffy_collect/files/packs/linux-dfir.json").read_bytes()
    )
    # Four queries of the shipped default pack keep the test fast (the whole pack takes minutes here).
    queries = json.loads(default_pack.read_text())["queries"]
    small = {"queries": {q: queries[q] for q in ("listening_ports", "processes", "users", "groups")}}
    (work / "pack.json").write_text(json.dumps(small))
    collect = _run(
        [str(bin_dir / "diffy"), "collect", "-i", "hosts.ini", "-l", "all", "--collector", "native",
         "--results-root", "results", "--pack", "pack.json", "--format", "json"],
        cwd=work, env=env, timeout=300,
    )  # fmt: skip
    assert collect.returncode == 0, collect.stdout[-2000:] + collect.stderr[-3000:]
    (run_dir,) = [p for p in (work / "results").iterdir() if (p / "manifest.json").is_file()]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["hosts"]["localhost"]["status"] == "ok"
    found = _run([str(python), "-c", "from diffy_analysis.collect import project_dir; print(project_dir())"],
                 cwd=work, env=env, timeout=60)  # fmt: skip
    assert Path(found.stdout.strip()) == shipped, found.stdout + found.stderr
    assert json.loads((run_dir / "pack.json").read_text()) == small

    analyze = _run(
        [str(bin_dir / "diffy-analyze"), str(run_dir), "--format", "json"], cwd=work, env=env, timeout=300
    )
    assert analyze.returncode in (0, 1), analyze.stdout[-2000:] + analyze.stderr[-3000:]
    report = json.loads(analyze.stdout)
    assert report["run_ids"] == [manifest["run_id"]]
    assert [h["host_id"] for h in report["hosts"]] == list(manifest["hosts"])

    # The wheel holds no lab (tools/ is a dev-only dist): `diffy lab` says what to install, in one line.
    lab = _run([str(bin_dir / "diffy"), "lab", "status"], cwd=work, env=env, timeout=60)
    assert lab.returncode == 2 and "Traceback" not in lab.stderr, lab.stderr
    assert "git clone the project and run scripts/setup.sh" in lab.stderr, lab.stderr
