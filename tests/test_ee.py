"""The execution environment's build context: `ansible-builder create` (v3) works here without a
container engine, and the context holds what the image needs.  Building the image itself needs
podman or docker (docs/service.md); neither exists on this machine, so that step is not run."""

from __future__ import annotations

import subprocess
import tomllib

import yaml
from collection_helpers import REPO, VENV_BIN


def test_ansible_builder_create_writes_a_complete_context(tmp_path):
    context = tmp_path / "context"
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-builder"), "create", "--context", str(context), "-f",
         str(REPO / "execution-environment.yml")],
        capture_output=True, text=True, timeout=120, check=False, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    dockerfile = (context / "Dockerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="quay.io/centos/centos:stream9"' in dockerfile
    assert "ansible-galaxy collection install" in dockerfile
    assert "pip install --no-cache-dir --no-deps /tmp/diffy-src" in dockerfile
    build = context / "_build"
    assert (build / "requirements.txt").read_text() == (REPO / "ee" / "requirements.txt").read_text()
    assert "openssh-clients" in (build / "bindep.txt").read_text()
    galaxy = yaml.safe_load((build / "requirements.yml").read_text())
    assert {c["name"] for c in galaxy["collections"]} == {"amazon.aws", "awx.awx"}
    package = build / "diffy"
    assert (package / "pyproject.toml").is_file()
    assert (package / "diffy_analysis" / "cli" / "main.py").is_file()
    assert (package / "diffy_analysis" / "schemas" / "analysis.schema.json").is_file()


def test_ee_python_requirements_follow_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    runtime = [*project["dependencies"], *extras["collect"], *extras["es"], *extras["html"]]
    wanted = {d for d in runtime if not d.startswith(("ansible>", "ansible-runner"))}
    lines = (REPO / "ee" / "requirements.txt").read_text().splitlines()
    assert {line for line in lines if line and not line.startswith("#")} == wanted
    spec = yaml.safe_load((REPO / "execution-environment.yml").read_text())
    assert spec["version"] == 3
    assert spec["dependencies"]["ansible_runner"]["package_pip"].startswith("ansible-runner")
