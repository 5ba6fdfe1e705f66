"""Secrets and footprint, for real: collect with distinctive fake AWS credentials in the controller's
environment, through ansible-playbook and through `diffy collect` (ansible-runner), then search every
place a credential could land: the results directory, the host's temp dirs (Diffy's and Ansible's),
Ansible's local temp, the playbook output and ansible-runner's private data dir.

Also here, on the same real run: temp dirs removed from the host even when the collector fails
mid-task; two inventory names with one host id refused instead of overwriting each other; results
created 0700/0600; the manifest says who collected, when, with which pack and Diffy version.

The managed "hosts" are this machine over Ansible's local connection (no lab needed): a local
connection inherits the controller's environment by nature, so the test checks what is WRITTEN
(files, output), which is what reaches a remote host too. docs/security.md says what this covers.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import json
import logging
import socket
import stat
import tempfile
from pathlib import Path

import pytest
import yaml

from diffy_analysis import __version__
from diffy_analysis.cli import es_options
from diffy_analysis.cli.index import index
from diffy_analysis.cli.main import diffy, run
from diffy_analysis.contract import safe_host_id
from tests.collection_helpers import REPO, ROLE_DIR, run_dirs, run_playbook
from tests.es_transport import CompatHeaderNode
from tests.runbuilder import build_run

pytest_plugins = ["es_emulator"]

CANARIES = {
    "AWS_ACCESS_KEY_ID": "AKIADIFFYCANARY0000001",
    "AWS_SECRET_ACCESS_KEY": "diffyCanarySecretKey0123456789abcdefABCDEF",
    "AWS_SESSION_TOKEN": "diffyCanarySessionToken0123456789xyz",
}
COLLIDING = ("web/1", safe_host_id("web/1"))  # 'web_1-<hash>' is a safe name: it stays as it is
COLLECT = REPO / "playbooks" / "collect.yml"


def _leaks(*roots: Path) -> list[str]:
    """Files under ``roots`` that contain any canary value (bytes, so binary files count too)."""
    needles = [v.encode() for v in CANARIES.values()]
    found = []
    for root in roots:
        for path in [root, *root.rglob("*")] if root.exists() else []:
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                found.extend(f"{path}: {n.decode()}" for n in needles if n in data)
    return found


@pytest.fixture(scope="module")
def playbook_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("secrets")
    places = {name: base / name for name in ("results", "host-tmp", "remote-tmp", "local-tmp")}
    for path in places.values():
        path.mkdir()
    inventory = {
        "all": {
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                "diffy_collect_collector": "native",
            },
            "hosts": {
                "ok-host": {},
                # the collector fails hard inside the module, after its private temp dir exists
                "fails-mid-run": {
                    "diffy_collect_collector": "osquery",
                    "diffy_collect_osquery_setup": False,
                    "osquery_osqueryi_path": "/nonexistent/osqueryi",
                },
                COLLIDING[0]: {},
                COLLIDING[1]: {},
            },
        }
    }
    (base / "inventory.yml").write_text(yaml.safe_dump(inventory))
    result = run_playbook(
        COLLECT,
        inventory=base / "inventory.yml",
        extra_vars={
            "diffy_results_root": str(places["results"]),
            "diffy_collect_remote_tmp_parent": str(places["host-tmp"]),
        },
        env={
            **CANARIES,
            "ANSIBLE_REMOTE_TEMP": str(places["remote-tmp"]),
            "ANSIBLE_LOCAL_TEMP": str(places["local-tmp"]),
        },
    )
    # two hosts cannot be collected: the manifest is written, then the play fails (diffy_collect_fail_on)
    assert result.rc == 2, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 host(s) of run" in result.stdout
    (base / "output.txt").write_text(result.stdout + result.stderr)
    (run_dir,) = run_dirs(places["results"])
    return {**places, "run": run_dir, "output": base / "output.txt"}


def _manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())


@pytest.mark.slow
def test_no_credential_in_results_host_temp_dirs_or_output(playbook_run):
    assert (
        _leaks(
            playbook_run["results"],
            playbook_run["host-tmp"],
            playbook_run["remote-tmp"],
            playbook_run["local-tmp"],
            playbook_run["output"],
        )
        == []
    )
    host_json = (playbook_run["run"] / "hosts" / "ok-host" / "host.json").read_text()
    assert "AWS_" not in host_json  # no environment facts in the host record at all


@pytest.mark.slow
def test_host_temp_dirs_are_removed_even_when_the_collector_fails(playbook_run):
    hosts = _manifest(playbook_run["run"])["hosts"]
    assert hosts["ok-host"]["status"] == "ok"
    assert hosts["fails-mid-run"]["status"] == "failed"
    assert "does not run" in hosts["fails-mid-run"]["error"]
    assert list(playbook_run["host-tmp"].iterdir()) == []  # no diffy-* dir left by either host
    assert list(playbook_run["remote-tmp"].iterdir()) == []  # nor Ansible's own module temp dirs


@pytest.mark.slow
def test_two_names_with_one_host_id_are_refused_not_overwritten(playbook_run):
    run_dir = playbook_run["run"]
    entry = _manifest(run_dir)["hosts"][COLLIDING[1]]
    assert entry["status"] == "failed"
    assert "shared by inventory hosts" in entry["error"] and "neither was collected" in entry["error"]
    assert not (run_dir / "hosts" / COLLIDING[1]).exists()


def _modes(run_dir: Path) -> dict[str, int]:
    paths = [run_dir, *run_dir.rglob("*")]
    return {str(p.relative_to(run_dir)): stat.S_IMODE(p.lstat().st_mode) for p in paths}


@pytest.mark.slow
def test_results_are_readable_by_their_owner_only(playbook_run):
    modes = _modes(playbook_run["run"])
    assert len(modes) > 5
    for rel, mode in modes.items():
        path = playbook_run["run"] / rel
        assert mode == (0o700 if path.is_dir() else 0o600), (rel, oct(mode))


@pytest.mark.slow
def test_manifest_says_who_collected_when_with_which_pack_and_version(playbook_run):
    run_dir = playbook_run["run"]
    manifest = _manifest(run_dir)
    assert manifest["collected_by"] == {"user": getpass.getuser(), "host": socket.gethostname()}
    assert manifest["started_at"] <= manifest["finished_at"]
    pack_source = ROLE_DIR / "files" / "packs" / "linux-dfir.json"
    assert manifest["pack"]["name"] == "linux-dfir"
    assert manifest["pack"]["sha256"] == hashlib.sha256((run_dir / "pack.json").read_bytes()).hexdigest()
    assert (run_dir / "pack.json").read_bytes() == pack_source.read_bytes()
    assert manifest["diffy_version"] == __version__


@pytest.mark.slow
def test_diffy_collect_through_ansible_runner_leaves_no_credential(tmp_path, monkeypatch, capsys):
    """The same through `diffy collect`: ansible-runner's private data dir (which holds the full
    environment while it runs) is a fresh temp dir, deleted afterwards; nothing leaks into the run."""
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    runner_tmp = tmp_path / "tmp"
    runner_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(runner_tmp))
    monkeypatch.setenv("ANSIBLE_REMOTE_TEMP", str(tmp_path / "remote-tmp"))
    monkeypatch.chdir(tmp_path)
    results = tmp_path / "results"
    argv = [
        "collect", "-l", "localhost", "-i", str(REPO / "inventory" / "localhost.yml"),
        "--collector", "native", "--results-root", str(results), "--json",
    ]  # fmt: skip
    code = run(diffy, argv, prog_name="diffy")
    out = capsys.readouterr()
    assert code == 0, out.err
    run_dir = Path(json.loads(out.out)["run_dir"])
    assert list(runner_tmp.iterdir()) == []  # the private data dir is gone
    assert _leaks(results, tmp_path / "remote-tmp") == []
    assert not any(v in out.out + out.err for v in CANARIES.values())
    assert stat.S_IMODE(results.stat().st_mode) == 0o700
    assert all(m == (0o700 if (run_dir / r).is_dir() else 0o600) for r, m in _modes(run_dir).items())


ES_CANARY_KEY = "ZGlmZnlDYW5hcnlBcGlLZXk6bm90LWEtcmVhbC1rZXk="
ES_CANARY_PASSWORD = "diffyCanaryEsPassword-0123456789"


@pytest.fixture
def es_index_args(es_emulator, es_prefix, tmp_path: Path) -> list[str]:
    run_dir = build_run(
        tmp_path, {"h1": {"users": [{"username": "root"}]}, "h2": {"users": [{"username": "root"}]}}
    )
    return [str(run_dir), "--es-url", es_emulator.url, "--es-index-prefix", es_prefix]


@pytest.mark.parametrize("auth", ["api_key", "basic"])
def test_es_credentials_never_reach_debug_logs_or_output(auth, es_index_args, caplog, capsys, monkeypatch):
    """`diffy index` against the ES-API emulator (a stand-in for Elasticsearch) with every logger at
    DEBUG: the credential is used but appears in no log record and no output."""
    for name in ("DIFFY_ES_URL", "DIFFY_ES_API_KEY", "DIFFY_ES_USER", "DIFFY_ES_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(es_options, "NODE_CLASS", CompatHeaderNode)
    caplog.set_level(logging.DEBUG)
    args = list(es_index_args)
    if auth == "api_key":
        monkeypatch.setenv("DIFFY_ES_API_KEY", ES_CANARY_KEY)
        secrets = [ES_CANARY_KEY]
    else:
        monkeypatch.setenv("DIFFY_ES_PASSWORD", ES_CANARY_PASSWORD)
        args += ["--es-user", "diffy"]
        secrets = [ES_CANARY_PASSWORD, base64.b64encode(f"diffy:{ES_CANARY_PASSWORD}".encode()).decode()]
    code = run(index, args, prog_name="diffy index")
    out = capsys.readouterr()
    assert code == 0, out.err
    assert any(r.name.startswith(("elastic", "urllib3")) for r in caplog.records)  # the client did log
    seen = caplog.text + out.out + out.err
    assert not [s for s in secrets if s in seen]
