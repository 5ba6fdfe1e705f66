"""roles/osquery, run for real against this machine, with a STAND-IN osqueryi.

No osqueryi binary is available here, so tests/standin/osqueryi_standin.py (a Python stand-in that
answers `--json SQL` and `--version` with the native collector's tables) is packaged as a real .deb
(dpkg-deb --build), a single-file binary and an osquery-layout tarball.  What is exercised for real:
the role's package_file / url / ephemeral / existing modes (apt installing a .deb, get_url with
checksums over loopback HTTP, amazon.aws.s3_object against a moto S3 on loopback, unarchive, temp
dirs and cleanup), idempotence and check mode, and the collect role's osqueryi path (stdout to a file,
timeouts, errors).  The repo mode and the RedHat family cannot be exercised here (no network, Debian
only): they are lint- and syntax-checked only.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import subprocess
import threading
from pathlib import Path

import pytest
from collection_helpers import (
    REPO,
    STANDIN_DEB_NAME,
    ansible_env,
    build_standin_deb,
    build_standin_tarball,
    build_standin_zipapp,
    dpkg_installed,
    dpkg_purge,
    free_port,
    run_dirs,
    run_playbook,
    start_moto,
)
from test_collect_role import host_tmp, validate_run_dir

LOCALHOST = REPO / "inventory" / "localhost.yml"
COLLECT = REPO / "playbooks" / "collect.yml"

pytestmark = pytest.mark.slow

ROLE_PLAYBOOK = """
- name: Run the osquery role
  hosts: all
  gather_facts: false
  roles:
    - role: osquery
  post_tasks:
    - name: Report the exported facts
      ansible.builtin.debug:
        msg: "OSQUERYI=[{{ osquery_osqueryi_path }}] VERSION=[{{ osquery_osqueryi_version | default('') }}]"
"""


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    """The stand-in osqueryi as .deb, single binary and tarball (built once)."""
    work = tmp_path_factory.mktemp("standin")
    return {
        "deb": build_standin_deb(work),
        "binary": build_standin_zipapp(work / "osqueryi-standin"),
        "tarball": build_standin_tarball(work),
    }


@pytest.fixture
def role_playbook(tmp_path):
    path = tmp_path / "osquery-role.yml"
    path.write_text(ROLE_PLAYBOOK)
    return path


@pytest.fixture
def no_installed_standin():
    """The stand-in package is absent before and removed after the test."""
    dpkg_purge(STANDIN_DEB_NAME)
    yield
    dpkg_purge(STANDIN_DEB_NAME)


def exported(run) -> tuple[str, str]:
    match = re.search(r"OSQUERYI=\[(.*?)\] VERSION=\[(.*?)\]", run.stdout)
    assert match, run.stdout[-3000:]
    return match.group(1), match.group(2)


def test_package_file_install_check_mode_idempotence_and_collection(
    standin, role_playbook, tmp_path, no_installed_standin
):
    extra = {
        "osquery_install_mode": "package_file",
        "osquery_package_file": str(standin["deb"]),
        "osquery_tmp_parent": str(host_tmp(tmp_path)),
    }
    check = run_playbook(role_playbook, inventory=LOCALHOST, extra_vars=extra, check=True)
    assert check.rc == 0, check.stdout[-3000:]
    assert check.recap()["changed"] >= 1, "check mode reports the install it would do"
    assert not dpkg_installed(STANDIN_DEB_NAME), "check mode changed nothing"

    first = run_playbook(role_playbook, inventory=LOCALHOST, extra_vars=extra)
    assert first.rc == 0, first.stdout[-3000:]
    assert first.recap()["changed"] == 1
    assert dpkg_installed(STANDIN_DEB_NAME)
    assert exported(first) == ("/usr/bin/osqueryi", "0.0.0-diffy-standin")

    second = run_playbook(role_playbook, inventory=LOCALHOST, extra_vars=extra)
    assert second.rc == 0, second.stdout[-3000:]
    assert second.recap()["changed"] == 0, "a second install run changes nothing"
    assert not any(host_tmp(tmp_path).iterdir()), "the staged package was removed"

    # The installed (stand-in) osqueryi is then used as a preinstalled one.
    results = tmp_path / "results"
    run = run_playbook(
        COLLECT,
        inventory=LOCALHOST,
        extra_vars={
            "diffy_results_root": str(results),
            "diffy_collect_collector": "osquery",
            "osquery_install_mode": "existing",
        },
    )
    assert run.rc == 0, run.stdout[-3000:]
    (run_dir,) = run_dirs(results)
    manifest = validate_run_dir(run_dir)
    assert manifest["hosts"]["localhost"]["status"] == "ok"
    record = json.loads((run_dir / "hosts/localhost/host.json").read_text())
    assert (record["collector"], record["collector_version"]) == ("osquery", "0.0.0-diffy-standin")
    assert record["queries"]["processes"]["rows"] > 1


def test_ephemeral_binary_is_used_then_removed(standin, tmp_path, no_installed_standin):
    run = run_playbook(
        COLLECT,
        inventory=LOCALHOST,
        extra_vars={
            "diffy_results_root": str(tmp_path / "results"),
            "diffy_collect_remote_tmp_parent": str(host_tmp(tmp_path)),
            "osquery_tmp_parent": str(host_tmp(tmp_path)),
            "diffy_collect_collector": "osquery",
            "osquery_install_mode": "ephemeral",
            "osquery_ephemeral_src": str(standin["binary"]),
            "osquery_ephemeral_checksum": sha256(standin["binary"]),
        },
    )
    assert run.rc == 0, run.stdout[-3000:]
    (run_dir,) = run_dirs(tmp_path / "results")
    assert validate_run_dir(run_dir)["hosts"]["localhost"]["status"] == "ok"
    record = json.loads((run_dir / "hosts/localhost/host.json").read_text())
    assert record["collector"] == "osquery"
    assert record["collector_version"] == "0.0.0-diffy-standin"
    assert not dpkg_installed(STANDIN_DEB_NAME)
    assert not any(host_tmp(tmp_path).iterdir()), (
        "the ephemeral osqueryi and the collection temp dir are gone"
    )


def test_osquery_staged_by_the_user_then_diffy_collect_leaves_nothing(
    standin, tmp_path, no_installed_standin
):
    """A play stages osqueryi with the osquery role itself, then includes diffy_collect (whose osquery
    setup runs again): one staged dir, used, then removed; nothing stays on the host (issue 16)."""
    playbook = tmp_path / "own.yml"
    playbook.write_text(
        "- name: A responder's own play\n  hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: Stage osqueryi myself\n      ansible.builtin.include_role:\n"
        "        name: diffy.diffy.osquery\n"
        "    - name: Collect for Diffy\n      ansible.builtin.include_role:\n"
        "        name: diffy.diffy.diffy_collect\n"
        "- name: Manifest\n  hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: Write manifest.json\n      ansible.builtin.include_role:\n"
        "        name: diffy.diffy.diffy_collect\n        tasks_from: manifest\n"
    )
    run = run_playbook(
        playbook,
        inventory=LOCALHOST,
        extra_vars={
            "diffy_results_root": str(tmp_path / "results"),
            "diffy_collect_remote_tmp_parent": str(host_tmp(tmp_path)),
            "osquery_tmp_parent": str(host_tmp(tmp_path)),
            "diffy_collect_collector": "osquery",
            "osquery_install_mode": "ephemeral",
            "osquery_ephemeral_src": str(standin["binary"]),
        },
    )
    assert run.rc == 0, run.stdout[-3000:]
    (run_dir,) = run_dirs(tmp_path / "results")
    assert validate_run_dir(run_dir)["hosts"]["localhost"]["status"] == "ok"
    assert json.loads((run_dir / "hosts/localhost/host.json").read_text())["collector"] == "osquery"
    assert not any(host_tmp(tmp_path).iterdir()), "no staged osqueryi and no temp dir left on the host"


def test_ephemeral_tarball_records_errors_and_timeouts_from_osqueryi(standin, tmp_path):
    pack = tmp_path / "edge.json"
    pack.write_text(
        json.dumps(
            {
                "queries": {
                    "good": {"query": "SELECT name FROM os_version;"},
                    "broken_sql": {"query": "SELECT name FROM os_version WHERE;"},
                    "no_such_table": {"query": "SELECT * FROM yara;"},
                    "runaway": {
                        "query": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                        "SELECT count(*) FROM c;",
                        "timeout": 2,
                    },
                    "after_all_that": {"query": "SELECT username FROM users WHERE uid = '0';"},
                }
            }
        )
    )
    results = tmp_path / "results"
    run = run_playbook(
        COLLECT,
        inventory=LOCALHOST,
        extra_vars={
            "diffy_results_root": str(results),
            "diffy_collect_collector": "osquery",
            "diffy_collect_pack": str(pack),
            "osquery_install_mode": "ephemeral",
            "osquery_ephemeral_src": str(standin["tarball"]),
            "osquery_tmp_parent": str(host_tmp(tmp_path)),
            "diffy_collect_remote_tmp_parent": str(host_tmp(tmp_path)),
        },
    )
    assert run.rc == 0, run.stdout[-3000:]
    (run_dir,) = run_dirs(results)
    manifest = validate_run_dir(run_dir)
    assert manifest["hosts"]["localhost"]["status"] == "partial"
    queries = json.loads((run_dir / "hosts/localhost/host.json").read_text())["queries"]
    assert {n: q["status"] for n, q in queries.items()} == {
        "good": "ok",
        "broken_sql": "error",
        "no_such_table": "unsupported",
        "runaway": "timeout",
        "after_all_that": "ok",
    }
    assert "no such table" in queries["no_such_table"]["error"]
    assert not any(host_tmp(tmp_path).iterdir())
    assert not subprocess.run(
        ["pgrep", "-f", str(host_tmp(tmp_path))], capture_output=True, check=False
    ).stdout, "the timed-out osqueryi was killed"


def test_existing_mode_fails_clearly_without_osqueryi(tmp_path, no_installed_standin):
    results = tmp_path / "results"
    run_playbook(
        COLLECT,
        inventory=LOCALHOST,
        extra_vars={
            "diffy_results_root": str(results),
            "diffy_collect_collector": "osquery",
            "osquery_install_mode": "existing",
            "osquery_existing_paths": [str(tmp_path / "no-osqueryi")],
        },
    )
    (run_dir,) = run_dirs(results)
    host = validate_run_dir(run_dir)["hosts"]["localhost"]
    assert host["status"] == "failed"
    assert "No executable osqueryi" in host["error"]
    assert not (run_dir / "hosts" / "localhost").exists(), "a failed host has no result files"


@pytest.fixture
def http_server(standin):
    """Serve the stand-in artifacts on loopback only."""
    directory = standin["deb"].parent

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(directory), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_url_mode_requires_and_checks_the_checksum(standin, role_playbook, http_server, no_installed_standin):
    url = f"{http_server}/{standin['deb'].name}"
    wrong = run_playbook(
        role_playbook,
        inventory=LOCALHOST,
        extra_vars={
            "osquery_install_mode": "url",
            "osquery_url": url,
            "osquery_url_checksum": "sha256:" + "0" * 64,
        },
    )
    assert wrong.rc != 0
    assert "checksum" in wrong.stdout.lower()
    assert not dpkg_installed(STANDIN_DEB_NAME)

    missing = run_playbook(
        role_playbook, inventory=LOCALHOST, extra_vars={"osquery_install_mode": "url", "osquery_url": url}
    )
    assert missing.rc != 0
    assert "osquery_url_checksum" in missing.stdout

    good = run_playbook(
        role_playbook,
        inventory=LOCALHOST,
        extra_vars={
            "osquery_install_mode": "url",
            "osquery_url": url,
            "osquery_url_checksum": sha256(standin["deb"]),
        },
    )
    assert good.rc == 0, good.stdout[-3000:]
    assert dpkg_installed(STANDIN_DEB_NAME)
    assert exported(good)[0] == "/usr/bin/osqueryi"


def test_url_mode_fetches_s3_artifacts_on_the_controller(standin, role_playbook, tmp_path):
    import boto3

    port = free_port()
    moto = start_moto(port, tmp_path / "moto.log")
    creds = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket="artifacts")
        s3.upload_file(str(standin["tarball"]), "artifacts", "osquery/standin.tar.gz")
        dest = tmp_path / "opt-osquery"
        cache = tmp_path / "controller-cache"
        run = run_playbook(
            role_playbook,
            inventory=LOCALHOST,
            env=creds,
            extra_vars={
                "osquery_install_mode": "url",
                "osquery_url": "s3://artifacts/osquery/standin.tar.gz",
                "osquery_url_checksum": sha256(standin["tarball"]),
                "osquery_s3_endpoint_url": f"http://127.0.0.1:{port}",
                "osquery_url_controller_cache": str(cache),
                "osquery_tarball_dest": str(dest),
            },
        )
        assert run.rc == 0, run.stdout[-3000:]
        assert (cache / "standin.tar.gz").read_bytes() == standin["tarball"].read_bytes()
        path, version = exported(run)
        assert path == str(dest / "opt/osquery/bin/osqueryi")
        assert version == "0.0.0-diffy-standin"
        # The host-side tasks never saw a credential: no AWS variable reached a module argument.
        assert "testing" not in run.stdout
    finally:
        moto.terminate()
        moto.wait(timeout=10)


def test_stand_in_is_named_as_such(standin):
    out = subprocess.run(
        [str(standin["binary"]), "--version"], capture_output=True, text=True, env=ansible_env(), check=True
    ).stdout
    assert "STAND-IN" in out
    info = subprocess.run(
        ["dpkg-deb", "-f", str(standin["deb"]), "Package", "Description"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "standin" in info
    assert "STAND-IN" in info
