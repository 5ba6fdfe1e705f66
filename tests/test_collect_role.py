"""roles/diffy_collect + playbooks/collect.yml and baseline.yml, run for real with ansible-playbook
against this machine (local connection) and against hosts that fail or cannot be reached."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from collection_helpers import REPO, SYSTEM_PYTHON, VENV_BIN, ansible_env, run_dirs, run_playbook
from hypothesis import given, settings
from hypothesis import strategies as st

from diffy_analysis import contract

sys.path.insert(0, str(REPO / "plugins" / "module_utils"))
sys.path.insert(0, str(REPO / "plugins" / "modules"))
import diffy_host_id

COLLECT = REPO / "playbooks" / "collect.yml"
BASELINE = REPO / "playbooks" / "baseline.yml"
LOCALHOST = REPO / "inventory" / "localhost.yml"

pytestmark = pytest.mark.slow


def validate_run_dir(run_dir: Path) -> dict:
    """Schema-check manifest, host records and result files; check hashes and permissions."""
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert contract.schema_errors("manifest", manifest) == []
    assert contract.is_run_id(manifest["run_id"])
    pack_digest, _ = contract.sha256_file(run_dir / "pack.json")
    assert manifest["pack"]["sha256"] == pack_digest
    on_disk = {str(p.relative_to(run_dir)) for p in (run_dir / "hosts").rglob("*") if p.is_file()}
    assert set(manifest["files"]) == on_disk
    for rel, entry in manifest["files"].items():
        assert contract.sha256_file(run_dir / rel) == (entry["sha256"], entry["bytes"])
    for path in [run_dir, *run_dir.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path} has mode {mode:o}"
    for host_json in (run_dir / "hosts").glob("*/host.json"):
        record = json.loads(host_json.read_text())
        assert contract.schema_errors("host", record) == []
        for name, query in record["queries"].items():
            result = host_json.parent / f"{name}.json"
            if query["status"] == "ok":
                rows = json.loads(result.read_text())
                assert contract.schema_errors("query-result", rows) == []
                assert len(rows) == query["rows"]
                assert contract.sha256_file(result)[0] == query["sha256"]
            else:
                assert not result.exists()
    return manifest


def host_tmp(tmp_path: Path) -> Path:
    """A private parent for the temp dirs the roles create on the (local) host: checkable for leftovers
    even while other test runs use /tmp."""
    path = tmp_path / "host-tmp"
    path.mkdir(exist_ok=True)
    return path


def test_auto_collection_from_localhost_falls_back_to_native_and_is_schema_valid(tmp_path):
    """The default collector (auto) with no osqueryi on the host: the native collector runs."""
    run = run_playbook(
        COLLECT,
        inventory=LOCALHOST,
        extra_vars={
            "diffy_results_root": str(tmp_path / "results"),
            "osquery_existing_paths": [str(tmp_path / "none")],
            "diffy_collect_remote_tmp_parent": str(host_tmp(tmp_path)),
        },
    )
    assert run.rc == 0, run.stdout[-3000:]
    (run_dir,) = run_dirs(tmp_path / "results")
    assert f"Diffy results: {run_dir}" in run.stdout
    manifest = validate_run_dir(run_dir)
    entry = manifest["hosts"]["localhost"]
    # auto records per host what ran and why native (docs/results-format.md)
    assert entry["collector_reason"].startswith(("osquery absent: ", "osquery failed: ")), entry
    assert entry == {
        "status": "ok",
        "error": None,
        "host": "localhost",
        "collector": "native",
        "collector_reason": entry["collector_reason"],
    }
    assert manifest["collector"] == "auto"
    assert manifest["pack"]["name"] == "linux-dfir"
    assert (run_dir / "pack.json").read_bytes() == (
        REPO / "roles/diffy_collect/files/packs/linux-dfir.json"
    ).read_bytes()
    record = json.loads((run_dir / "hosts/localhost/host.json").read_text())
    assert record["collector"] == "native"
    assert record["collector_reason"] == entry["collector_reason"]
    assert record["hostname"] == os.uname().nodename
    assert record["addresses"]["ipv4"], "facts give this machine's addresses"
    pack = json.loads((run_dir / "pack.json").read_text())
    assert set(record["queries"]) == set(pack["queries"])
    assert all(q["status"] == "ok" for q in record["queries"].values())
    processes = json.loads((run_dir / "hosts/localhost/processes.json").read_text())
    assert any(p["pid"] == str(os.getpid()) for p in processes), "this pytest process is a real row"
    users = json.loads((run_dir / "hosts/localhost/users.json").read_text())
    assert {"uid": "0", "gid": "0", "username": "root"}.items() <= next(
        u for u in users if u["username"] == "root"
    ).items()
    assert not any(host_tmp(tmp_path).iterdir()), "the private temp dir was removed from the host"


def test_failing_and_timing_out_queries_are_recorded_and_the_rest_completes(tmp_path):
    """Also: a relative diffy_results_root (taken from the cwd) and a given diffy_run_id are honoured."""
    pack = tmp_path / "edge.json"
    pack.write_text(
        json.dumps(
            {
                "platform": "linux",
                "queries": {
                    "good": {"query": "SELECT name, version FROM os_version;"},
                    "broken_sql": {"query": "SELECT name FROM os_version WHERE;"},
                    "no_such_table": {"query": "SELECT * FROM yara WHERE path = '/bin/ls';"},
                    "runaway": {
                        "query": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                        "SELECT count(*) FROM c;",
                        "timeout": 2,
                    },
                    "mac_only": {"query": "SELECT * FROM launchd;", "platform": "darwin"},
                    "after_all_that": {"query": "SELECT username FROM users WHERE uid = '0';"},
                    "template_text": {"query": "SELECT '{{ 7*7 }}' AS x, '{% raw %}' AS y;"},
                },
            }
        )
    )
    run = run_playbook(
        COLLECT,
        inventory=LOCALHOST,
        cwd=tmp_path,
        extra_vars={
            "diffy_results_root": "relative-root",
            "diffy_run_id": "20261129T120000Z-abc123",
            "diffy_collect_collector": "native",
            "diffy_collect_pack": str(pack),
        },
    )
    assert run.rc == 0, run.stdout[-3000:]
    run_dir = tmp_path / "relative-root" / "20261129T120000Z-abc123"
    manifest = validate_run_dir(run_dir)
    assert manifest["run_id"] == "20261129T120000Z-abc123"
    assert manifest["pack"]["name"] == "edge"
    assert manifest["hosts"]["localhost"]["status"] == "partial"
    assert "broken_sql" in manifest["hosts"]["localhost"]["error"]
    queries = json.loads((run_dir / "hosts/localhost/host.json").read_text())["queries"]
    assert {n: q["status"] for n, q in queries.items()} == {
        "good": "ok",
        "broken_sql": "error",
        "no_such_table": "unsupported",
        "runaway": "timeout",
        "mac_only": "unsupported",
        "after_all_that": "ok",
        "template_text": "ok",
    }
    assert queries["runaway"]["duration_s"] < 30
    # The pack travels through Ansible as data: Jinja-looking text in it is never templated.
    template_rows = json.loads((run_dir / "hosts/localhost/template_text.json").read_text())
    assert template_rows == [{"x": "{{ 7*7 }}", "y": "{% raw %}"}]
    assert json.loads((run_dir / "hosts/localhost/after_all_that.json").read_text()) == [{"username": "root"}]


def test_unreachable_and_failed_hosts_are_in_the_manifest(tmp_path):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        json.dumps(
            {
                "all": {
                    "hosts": {
                        "localhost": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": SYSTEM_PYTHON,
                        },
                        # Loopback, closed port: refused at once, never leaves the machine.
                        "ghost/1": {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_user": "nobody"},
                        "broken": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": "/nonexistent/python3",
                        },
                    },
                    "children": {"app_x": {"hosts": {"localhost": None, "ghost/1": None, "broken": None}}},
                }
            }
        )
    )
    results = tmp_path / "results"
    run = run_playbook(
        COLLECT,
        inventory=inventory,
        limit="app_x",
        extra_vars={"diffy_results_root": str(results), "diffy_collect_collector": "native"},
        env={"ANSIBLE_HOST_KEY_CHECKING": "False"},
    )
    assert "Diffy results:" in run.stdout, run.stdout[-3000:]  # the run finished despite both hosts
    (run_dir,) = run_dirs(results)
    manifest = validate_run_dir(run_dir)
    ghost_id = contract.safe_host_id("ghost/1")
    assert ghost_id.startswith("ghost_1-")
    assert manifest["hosts"][ghost_id]["status"] == "unreachable"
    assert manifest["hosts"][ghost_id]["host"] == "ghost/1"
    assert manifest["hosts"]["broken"]["status"] == "failed"
    assert manifest["hosts"]["broken"]["error"]
    assert manifest["hosts"]["localhost"]["status"] == "ok"
    assert manifest["limit"] == "app_x"
    assert manifest["app"] == "app_x"
    assert set(manifest["files"]) == {f for f in manifest["files"] if f.startswith("hosts/localhost/")}


def test_a_host_whose_collection_fails_is_recorded_and_left_clean(tmp_path):
    fake = tmp_path / "osqueryi"
    fake.write_text("not a program\n")
    fake.chmod(0o644)  # not executable: the module fails after creating its temp dir
    results = tmp_path / "results"
    run_playbook(
        COLLECT,
        inventory=LOCALHOST,
        extra_vars={
            "diffy_results_root": str(results),
            "diffy_collect_remote_tmp_parent": str(host_tmp(tmp_path)),
            "diffy_collect_collector": "osquery",
            "diffy_collect_osquery_setup": False,
            "osquery_osqueryi_path": str(fake),
        },
    )
    (run_dir,) = run_dirs(results)
    host = validate_run_dir(run_dir)["hosts"]["localhost"]
    assert host["status"] == "failed"
    assert "does not run" in host["error"]
    assert not any(host_tmp(tmp_path).iterdir()), "the module removed its temp dir on failure"


def test_bad_query_names_are_refused_before_any_host_is_touched(tmp_path):
    pack = tmp_path / "bad.json"
    pack.write_text(json.dumps({"queries": {"../escape": {"query": "SELECT 1;"}}}))
    run = run_playbook(
        COLLECT,
        inventory=LOCALHOST,
        extra_vars={"diffy_results_root": str(tmp_path / "r"), "diffy_collect_pack": str(pack)},
    )
    assert run.rc != 0
    assert "query names use only" in run.stdout
    assert not (tmp_path / "r").exists()


def test_baseline_lands_under_baselines_app_name_and_is_never_overwritten(tmp_path):
    extra = {
        "diffy_results_root": str(tmp_path),
        "diffy_collect_collector": "native",
        "diffy_baseline_app": "app_x",
        "diffy_baseline_name": "clean-2026",
    }
    run = run_playbook(BASELINE, inventory=LOCALHOST, extra_vars=extra)
    assert run.rc == 0, run.stdout[-3000:]
    base = tmp_path / "baselines" / "app_x" / "clean-2026"
    manifest = validate_run_dir(base)
    assert manifest["app"] == "app_x"
    assert manifest["hosts"]["localhost"]["status"] == "ok"
    before = (base / "manifest.json").read_bytes()
    again = run_playbook(BASELINE, inventory=LOCALHOST, extra_vars=extra)
    assert again.rc != 0
    assert "already holds a finished run" in again.stdout
    assert (base / "manifest.json").read_bytes() == before
    stale = base / "hosts" / "old-host"
    stale.mkdir(mode=0o700)
    (stale / "host.json").write_text("{}")
    replaced = run_playbook(
        BASELINE, inventory=LOCALHOST, extra_vars={**extra, "diffy_collect_overwrite": True}
    )
    assert replaced.rc == 0, replaced.stdout[-3000:]
    assert not stale.exists(), "an overwritten baseline keeps nothing of the old one"
    assert validate_run_dir(base)["run_id"] != json.loads(before)["run_id"]


def test_check_mode_collects_nothing(tmp_path):
    run = run_playbook(
        COLLECT,
        inventory=LOCALHOST,
        check=True,
        extra_vars={"diffy_results_root": str(tmp_path), "diffy_collect_collector": "native"},
    )
    assert run.rc == 0, run.stdout[-3000:]
    assert not any(tmp_path.rglob("manifest.json"))


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=0, max_size=260))
def test_filter_host_id_rule_equals_the_contract(name):
    assert diffy_host_id.safe_host_id(name) == contract.safe_host_id(name)


@pytest.mark.parametrize("name", ["web-1", "web/1", "..", ".", "", "a" * 250, "i-0abc.eu-west-1", "ünïcode"])
def test_filter_host_id_examples(name):
    assert diffy_host_id.safe_host_id(name) == contract.safe_host_id(name)


def test_manifest_never_drops_a_host_and_reports_shared_host_ids():
    # The module imports the rule as Ansible module_utils; outside Ansible, hand it the same module.
    sys.modules.setdefault("ansible.module_utils.diffy_host_id", diffy_host_id)
    import diffy_manifest

    hosts = diffy_manifest.manifest_hosts(
        {
            "a": {"status": "ok", "error": None},
            "b/c": None,
            "x/1": {"status": "ok"},
            "x_1-" + contract.safe_host_id("x/1").rsplit("-", 1)[1]: {"status": "ok"},
        }
    )
    assert hosts["a"] == {"status": "ok", "error": None, "host": "a"}
    lost = hosts[contract.safe_host_id("b/c")]
    assert (lost["status"], lost["host"]) == ("failed", "b/c")
    assert "no collection result" in lost["error"]
    shared = hosts[contract.safe_host_id("x/1")]
    assert shared["status"] == "failed"
    assert "shared by inventory hosts" in shared["error"]
    assert diffy_host_id.host_ids(["x/1", contract.safe_host_id("x/1"), "y"])[1] == sorted(
        ["x/1", contract.safe_host_id("x/1")]
    )


def test_role_works_from_the_built_collection(tmp_path):
    """Roles in a collection cannot carry plugins: the modules must come from the collection's plugins/."""
    env = ansible_env()
    build = subprocess.run(
        [str(VENV_BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (artifact,) = tmp_path.glob("diffy-diffy-*.tar.gz")
    install = subprocess.run(
        [
            str(VENV_BIN / "ansible-galaxy"),
            "collection",
            "install",
            "--offline",
            "--no-deps",
            # the checkout is itself diffy.diffy on ansible.cfg's collections_path: without --force
            # ansible-galaxy says "already installed" and installs nothing
            "--force",
            "-p",
            str(tmp_path / "cols"),
            str(artifact),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    playbook = tmp_path / "existing.yml"
    playbook.write_text(
        "- name: An existing playbook\n  hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: Collect for Diffy\n      ansible.builtin.include_role:\n"
        "        name: diffy.diffy.diffy_collect\n"
        "- name: Manifest\n  hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: Write manifest.json\n      ansible.builtin.include_role:\n"
        "        name: diffy.diffy.diffy_collect\n        tasks_from: manifest\n"
    )
    (tmp_path / "no-roles").mkdir()
    run = run_playbook(
        playbook,
        inventory=LOCALHOST,
        cwd=tmp_path,
        extra_vars={"diffy_results_root": str(tmp_path / "results"), "diffy_collect_collector": "native"},
        env={
            "ANSIBLE_ROLES_PATH": str(tmp_path / "no-roles"),
            "ANSIBLE_COLLECTIONS_PATH": str(tmp_path / "cols"),
            "ANSIBLE_CONFIG": str(tmp_path / "no-ansible.cfg"),
        },
    )
    assert run.rc == 0, run.stdout[-3000:]
    (run_dir,) = run_dirs(tmp_path / "results")
    assert validate_run_dir(run_dir)["hosts"]["localhost"]["status"] == "ok"


@pytest.mark.parametrize("collector", ["auto", "osquery"])
def test_a_mistyped_osquery_variable_fails_the_run_before_any_host_is_touched(tmp_path, collector):
    """`-e osquery_install_mode=ephemral` once fell back to native silently (auto) or failed every
    host with ansible-playbook exiting 0 (osquery): now one clear error, non-zero, nothing collected."""
    run = run_playbook(
        COLLECT,
        inventory=LOCALHOST,
        extra_vars={
            "diffy_results_root": str(tmp_path / "r"),
            "diffy_collect_collector": collector,
            "osquery_install_mode": "ephemral",
        },
    )
    assert run.rc != 0, run.stdout[-3000:]
    assert "osquery_install_mode" in run.stdout and "ephemral" in run.stdout
    assert "Validate the osquery role's variables" in run.stdout
    assert not (tmp_path / "r").exists(), "nothing may be collected or written"
