"""The collect role composes into other runs (issue 16): tags install / collect / fetch / manifest select
its steps on a real localhost run, the controller-side tasks never inherit a play's `become`, and check
mode says plainly that it does nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from collection_helpers import REPO, run_playbook

COLLECT = REPO / "playbooks" / "collect.yml"
LOCALHOST = REPO / "inventory" / "localhost.yml"
pytestmark = pytest.mark.slow


def _small_pack(tmp_path: Path) -> Path:
    """Two queries of the default pack: the tags, not the tables, are under test."""
    queries = json.loads((REPO / "roles/diffy_collect/files/packs/linux-dfir.json").read_text())["queries"]
    pack = tmp_path / "small.json"
    pack.write_text(json.dumps({"queries": {q: queries[q] for q in ("users", "groups")}}))
    return pack


def _run(tmp_path: Path, *tags: str, check: bool = False):
    host_tmp = tmp_path / "host-tmp"
    host_tmp.mkdir(exist_ok=True)
    extra = {
        "diffy_results_root": str(tmp_path / "results"),
        "diffy_run_id": "20261202T000000Z-tagged",
        "diffy_collect_collector": "native",
        "diffy_collect_pack": str(_small_pack(tmp_path)),
        "diffy_collect_remote_tmp_parent": str(host_tmp),
    }
    argv_tags = {"ANSIBLE_RUN_TAGS": ",".join(tags)} if tags else {}
    run = run_playbook(COLLECT, inventory=LOCALHOST, extra_vars=extra, check=check, env=argv_tags)
    return run, tmp_path / "results" / extra["diffy_run_id"], host_tmp


def test_tags_collect_and_fetch_bring_the_results_home_without_a_manifest(tmp_path: Path) -> None:
    run, run_dir, host_tmp = _run(tmp_path, "collect", "fetch")
    assert run.rc == 0, run.stdout[-3000:]
    assert sorted(p.name for p in (run_dir / "hosts" / "localhost").iterdir()) == [
        "groups.json", "host.json", "users.json",
    ]  # fmt: skip
    assert not (run_dir / "manifest.json").exists(), "the manifest step was not selected"
    status = json.loads((run_dir / ".status" / "localhost.json").read_text())
    assert status["status"] == "ok"
    assert list(host_tmp.iterdir()) == [], "clean-up is not a tag: it always runs"


def test_tag_install_alone_collects_and_fetches_nothing(tmp_path: Path) -> None:
    run, run_dir, host_tmp = _run(tmp_path, "install")
    assert run.rc == 0, run.stdout[-3000:]
    assert "Run every query of the pack" not in run.stdout
    assert not (run_dir / "hosts").exists() or not any((run_dir / "hosts").rglob("*.json"))
    assert not (run_dir / "manifest.json").exists()
    status = json.loads((run_dir / ".status" / "localhost.json").read_text())
    assert status["status"] == "failed" and "did not finish" in status["error"]
    assert list(host_tmp.iterdir()) == []


def test_tag_manifest_alone_records_every_host_as_not_collected(tmp_path: Path) -> None:
    run, run_dir, _ = _run(tmp_path, "manifest")
    assert run.rc != 0, "hosts that were not collected fail the run (diffy_collect_fail_on)"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["hosts"]["localhost"]["status"] == "failed"
    assert not (run_dir / "hosts" / "localhost").exists()


def test_check_mode_says_it_does_nothing(tmp_path: Path) -> None:
    run, run_dir, host_tmp = _run(tmp_path, check=True)
    assert run.rc == 0, run.stdout[-3000:]
    assert "Check mode: Diffy does NOTHING on localhost" in run.stdout
    assert not run_dir.exists() and list(host_tmp.iterdir()) == []


def _tasks(node: object):
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        yield node
        for key in ("block", "rescue", "always"):
            yield from _tasks(node.get(key, []))


def test_controller_tasks_never_inherit_the_plays_become() -> None:
    """A play with `become: true` must not sudo on the controller for the delegate_to: localhost tasks
    (run directory, status files, manifest): each of them says become: false."""
    delegated = []
    for path in sorted((REPO / "roles").glob("*/tasks/*.yml")):
        for task in _tasks(yaml.safe_load(path.read_text())):
            if task.get("delegate_to") == "localhost":
                delegated.append((path.name, task.get("name"), task.get("become")))
    assert len(delegated) >= 8
    assert [d for d in delegated if d[2] is not False] == []
