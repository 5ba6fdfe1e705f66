"""AWX/AAP as code (playbooks/awx_setup.yml) tested as far as a machine without a controller allows:
syntax, every awx.awx task's options checked against the installed modules' documented argument
specs, the settings check refusing bad input before any module runs.  Nothing here talks to a
controller: check mode against a stub URL would not be a test, so it is not pretended to be one.
Also playbooks/analyze.yml (the "Diffy analyse" job template) for real on two stored runs."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml
from collection_helpers import REPO, VENV_BIN, ansible_env
from runbuilder import build_run, clean_fleet

SETUP = REPO / "playbooks" / "awx_setup.yml"
GOOD = ["-e", "diffy_awx_scm_url=https://git.example/diffy.git", "-e", "diffy_awx_ee_image=reg/diffy-ee:1",
        "-e", '{"diffy_awx_apps": ["app_x", "app_y"]}']  # fmt: skip


def ansible_playbook(*args: str, cwd=REPO) -> subprocess.CompletedProcess:
    env = ansible_env({"ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "CONTROLLER_HOST": "http://127.0.0.1:9"})
    return subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), *args], capture_output=True, text=True, env=env,
        timeout=180, check=False, cwd=cwd,
    )  # fmt: skip


def test_syntax():
    """All four playbooks in one ansible-playbook (it checks each; one start instead of four)."""
    names = ("awx_setup.yml", "analyze.yml", "index.yml", "respond.yml")
    paths = [str(REPO / "playbooks" / n) for n in names]
    proc = ansible_playbook("--syntax-check", "-i", "localhost,", *paths)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert all(f"playbook: {path}" in proc.stdout for path in paths), proc.stdout


def test_every_awx_task_uses_only_options_the_module_documents():
    tasks = yaml.safe_load(SETUP.read_text())[0]["tasks"]
    used = {}
    for task in tasks:
        for key, args in task.items():
            if key.startswith("awx.awx."):
                used.setdefault(key, set()).update(args)
    assert set(used) >= {
        "awx.awx.project", "awx.awx.credential", "awx.awx.inventory", "awx.awx.inventory_source",
        "awx.awx.job_template", "awx.awx.workflow_job_template", "awx.awx.schedule",
    }  # fmt: skip
    docs = json.loads(
        subprocess.run(
            [str(VENV_BIN / "ansible-doc"), "-j", *used], capture_output=True, text=True, timeout=120,
            check=True, env=ansible_env(),
        ).stdout
    )  # fmt: skip
    for module, options in used.items():
        spec = docs[module]["doc"]["options"]
        known = set(spec) | {a for o in spec.values() for a in o.get("aliases", [])}
        assert options <= known, f"{module}: unknown options {sorted(options - known)}"
    templates = next(t for t in tasks if "awx.awx.job_template" in t)
    names = {item["name"] for item in templates["loop"]}
    assert names == {"Diffy collect", "Diffy analyse", "Diffy index", "Diffy respond", "Diffy save baseline"}
    for item in templates["loop"]:
        assert (REPO / item["playbook"]).is_file()


@pytest.mark.parametrize(
    "bad",
    [
        [],
        ["-e", "diffy_awx_scm_url=file:///etc", *GOOD[2:]],
        [*GOOD[:4], "-e", '{"diffy_awx_apps": ["app x; rm"]}'],
        [*GOOD, "-e", "diffy_awx_results_root=relative/path"],
    ],
)
def test_bad_settings_are_refused_before_any_module_runs(bad):
    proc = ansible_playbook(str(SETUP), *bad)
    assert proc.returncode != 0
    assert "Give diffy_awx_scm_url" in proc.stdout
    assert "TASK [Execution environment]" not in proc.stdout


def test_analyze_playbook_picks_the_newest_run_and_reports_what_is_new(tmp_path):
    old, new = "20261201T080000Z-aaaaaa", "20261202T080000Z-bbbbbb"
    build_run(tmp_path, clean_fleet(3, prefix="i-0a"), run_id=old)
    build_run(tmp_path, clean_fleet(3, prefix="i-0b"), run_id=new)
    build_run(tmp_path, clean_fleet(2, prefix="i-0c"), run_id="20261203T080000Z-cccccc", app="app_y")
    proc = ansible_playbook(
        str(REPO / "playbooks" / "analyze.yml"),
        "-e",
        f"diffy_results_root={tmp_path}",
        "-e",
        "diffy_app=app_x",
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    doc = json.loads((tmp_path / "analyses" / new / "analysis.json").read_text())
    assert doc["run_ids"] == [new] and doc["since"]["previous_run"] == old
    assert (tmp_path / "analyses" / new / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert not (tmp_path / "analyses" / old).exists()
