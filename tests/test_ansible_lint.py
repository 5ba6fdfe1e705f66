"""Static checks of the Ansible side: ansible-lint (production profile, no skips), syntax checks,
meta/argument_specs.yml validation (good and bad input), and the collection build."""

from __future__ import annotations

import subprocess
import tarfile

import pytest
import yaml
from collection_helpers import REPO, VENV_BIN, ansible_env, run_playbook

LOCALHOST = REPO / "inventory" / "localhost.yml"
ROLES = ("osquery", "diffy_collect")


def test_ansible_lint_production_profile_passes_without_skips():
    config = yaml.safe_load((REPO / ".ansible-lint").read_text())
    assert config["profile"] == "production"
    assert not config.get("skip_list") and not config.get("warn_list")
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-lint"), "--offline", "--nocolor"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=ansible_env(),
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "Profile 'production' was required, and it passed" in proc.stderr + proc.stdout


@pytest.mark.parametrize("playbook", ["collect.yml", "baseline.yml"])
def test_playbook_syntax(playbook):
    proc = subprocess.run(
        [
            str(VENV_BIN / "ansible-playbook"),
            "--syntax-check",
            "-i",
            str(LOCALHOST),
            str(REPO / "playbooks" / playbook),
        ],
        capture_output=True,
        text=True,
        env=ansible_env(),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_every_default_is_documented_in_argument_specs():
    for role in ROLES:
        defaults = yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())
        specs = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())
        options = specs["argument_specs"]["main"]["options"]
        assert set(defaults) == set(options), role
        assert all(name.startswith(role + "_") for name in defaults), role
        assert all(opt.get("description") for opt in options.values()), role


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"diffy_collect_collector": "fast"}, "diffy_collect_collector"),
        ({"osquery_install_mode": "magic"}, "osquery_install_mode"),
        ({"diffy_collect_query_timeout": "soon"}, "diffy_collect_query_timeout"),
    ],
)
def test_argument_specs_reject_bad_values(tmp_path, extra, message):
    playbook = tmp_path / "spec.yml"
    role = "osquery" if "osquery_install_mode" in extra else "diffy_collect"
    playbook.write_text(f"- hosts: all\n  gather_facts: false\n  roles: [{role}]\n")
    run = run_playbook(playbook, inventory=LOCALHOST, extra_vars=extra)
    assert run.rc != 0
    assert "argument spec" in run.stdout.lower() or "validation" in run.stdout.lower(), run.stdout[-2000:]
    assert message in run.stdout


def test_collection_builds_without_dev_files(tmp_path):
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        env=ansible_env(),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (artifact,) = tmp_path.glob("diffy-diffy-*.tar.gz")
    with tarfile.open(artifact) as tar:
        names = set(tar.getnames())
    assert "plugins/modules/diffy_run_pack.py" in names
    assert "roles/osquery/meta/argument_specs.yml" in names
    assert "playbooks/collect.yml" in names
    assert not any(n.startswith((".venv", "diffy_analysis", "tools", ".git/")) for n in names)
    shipped_tests = {n for n in names if n.startswith("tests")}
    assert shipped_tests <= {"tests", "tests/sanity", "tests/sanity/ignore-2.19.txt"}, shipped_tests
