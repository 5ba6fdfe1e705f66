"""Collection through ansible-runner: options, events, the manifest read-back, artifact scrubbing,
and one real run of playbooks/collect.yml against this machine (inventory/localhost.yml)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from diffy_analysis.api import collect
from diffy_analysis.cli.main import diffy, run
from diffy_analysis.collect import CollectOptions
from diffy_analysis.collect.events import EventTracker
from diffy_analysis.collect.result import read_result
from diffy_analysis.collect.runner import (
    extra_vars,
    playbook_deadline,
    project_dir,
    runner_env,
    scrub_artifacts,
    secret_values,
)
from diffy_analysis.errors import CollectionError, UsageError

REPO = Path(__file__).resolve().parents[1]
FAKE_SECRET = "diffyFAKEsecret0123456789abcdefghijklmnop"


def test_options_accept_strings_and_fill_extra_vars(tmp_path):
    pack = tmp_path / "p.json"
    pack.write_text("{}")
    opts = CollectOptions(limit="app_x", inventory=("inv.yml",), pack=str(pack), results_root="r")
    assert opts.inventory == (Path("inv.yml"),) and opts.results_root == Path("r")
    ev = extra_vars(opts, "20261129T143812Z-4f2a9c", tmp_path)
    assert ev == {
        "diffy_results_root": str(tmp_path),
        "diffy_run_id": "20261129T143812Z-4f2a9c",
        "diffy_collect_collector": "auto",
        "diffy_collect_pack": str(pack.resolve()),
        # the playbook's own deadline, below the hard --timeout (1800 s): it still writes the manifest
        "diffy_collect_deadline_s": 1740,
    }
    assert playbook_deadline(90) == 67 and playbook_deadline(10) == 5


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"collector": "magic"}, UsageError, "unknown collector"),
        ({"limit": " "}, UsageError, "--limit is required"),
        ({"run_id": "../etc"}, UsageError, "bad run id"),
        ({"inventory": ("/nonexistent/inv.yml",)}, UsageError, "does not exist"),
        ({"pack": "/nonexistent/pack.json"}, UsageError, "does not exist"),
        ({"playbook": "nope.yml"}, CollectionError, "no playbook"),
    ],
)
def test_bad_options_are_clear_errors_before_anything_runs(tmp_path, kwargs, error, message):
    options = CollectOptions(**{"limit": "app_x", "results_root": tmp_path / "r", **kwargs})
    with pytest.raises(error, match=message):
        collect(options)
    assert not (tmp_path / "r").exists()


def test_runner_env_puts_this_python_first_and_names_the_config():
    env = runner_env(project_dir())
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)
    assert env["ANSIBLE_CONFIG"] == str(REPO / "ansible.cfg")
    assert not any(key.startswith("AWS_") for key in env)  # credentials are inherited, never passed


def test_event_tracker_follows_hosts():
    seen = []
    tracker = EventTracker(on_change=lambda host, state: seen.append((host, state.state)))
    events = [
        {"event": "runner_on_start", "event_data": {"host": "a", "task": "Run the pack"}},
        {"event": "runner_on_ok", "event_data": {"host": "a", "task": "Run the pack"}},
        {"event": "runner_on_failed", "event_data": {"host": "a", "task": "x", "ignore_errors": True}},
        {"event": "runner_on_unreachable", "event_data": {"host": "b", "res": {"msg": "ssh: refused"}}},
        {"event": "runner_on_failed", "event_data": {"host": "c", "task": "Fetch", "res": {"msg": "boom"}}},
        {"event": "playbook_on_stats", "event_data": {}},
        {
            "event": "verbose",
            "stdout": "\x1b[1;35m[WARNING]: Unable to parse x as an inventory source\x1b[0m",
        },
    ]
    for event in events:
        assert tracker(event) is True
    tracker.finish()
    a, b, c = (tracker.hosts[h] for h in "abc")
    assert (a.ok, a.failed, a.state, a.task) == (2, 0, "done", "Run the pack")
    assert (b.state, b.last_error) == ("unreachable", "ssh: refused")
    assert (c.state, c.last_error) == ("failed", "Fetch: boom")
    assert tracker.first_failure == "b unreachable: ssh: refused"
    assert ("a", "done") in seen
    assert tracker.warnings == ["[WARNING]: Unable to parse x as an inventory source"]


def test_no_manifest_means_the_run_failed_as_a_whole(tmp_path):
    with pytest.raises(CollectionError, match="without writing .*manifest.json: b unreachable"):
        read_result(tmp_path, runner_status="failed", rc=2, elapsed_s=1.0, why="b unreachable")


def test_result_reads_every_host_status_from_the_manifest(tmp_path):
    manifest = {
        "run_id": "20261129T143812Z-4f2a9c",
        "hosts": {
            "web-1": {"status": "ok", "error": None, "host": "web-1"},
            "web_2-abc": {"status": "unreachable", "error": "refused", "host": "web/2"},
        },
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    result = read_result(tmp_path, runner_status="successful", rc=0, elapsed_s=2.0, why="")
    assert result.counts == {"ok": 1, "partial": 0, "failed": 0, "unreachable": 1}
    assert not result.complete
    assert [(h.host, h.status, h.error) for h in result.hosts] == [
        ("web-1", "ok", None),
        ("web/2", "unreachable", "refused"),
    ]


def test_scrub_keeps_variable_names_only(tmp_path):
    art = tmp_path / "artifacts" / "ident"
    art.mkdir(parents=True)
    env = {"AWS_SECRET_ACCESS_KEY": FAKE_SECRET, "PATH": "/usr/bin"}
    (art / "command").write_text(json.dumps({"command": ["ansible-playbook"], "env": env}))
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "envvars").write_text(json.dumps(env))
    (art / "job_events").mkdir()
    event = {"event_data": {"res": {"ansible_facts": {"ansible_env": env}}}}
    (art / "job_events" / "1-x.json").write_text(json.dumps(event))
    scrub_artifacts(tmp_path, secrets=secret_values(env))
    doc = json.loads((art / "command").read_text())
    assert doc["env"] == ["AWS_SECRET_ACCESS_KEY", "PATH"]
    assert not (tmp_path / "env").exists()
    assert FAKE_SECRET not in "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    assert "redacted" in (art / "job_events" / "1-x.json").read_text()


@pytest.mark.slow
def test_real_collection_of_this_machine_through_ansible_runner(tmp_path, monkeypatch, capsys):
    """`diffy collect` for real (ansible-runner -> ansible-playbook -> native collector) on localhost,
    with fake AWS credentials in the controller's environment: none of them may land in the run or
    in the kept ansible-runner artifacts."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIADIFFYFAKE0000001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.chdir(tmp_path)  # ansible-runner must not depend on the cwd
    results, kept = tmp_path / "results", tmp_path / "kept"
    argv = [
        "collect", "-l", "localhost", "-i", str(REPO / "inventory" / "localhost.yml"),
        "--collector", "native",
        "--results-root", str(results), "--keep-artifacts", str(kept), "--json",
    ]  # fmt: skip
    code = run(diffy, argv, prog_name="diffy")
    out = capsys.readouterr()
    assert code == 0, out.err
    doc = json.loads(out.out)
    assert doc["counts"]["ok"] == 1 and doc["runner_status"] == "successful"
    run_dir = Path(doc["run_dir"])
    assert run_dir.parent == results
    assert json.loads((run_dir / "manifest.json").read_text())["hosts"]["localhost"]["status"] == "ok"
    assert any(kept.rglob("job_events/*.json"))  # the event log was kept...
    for path in [*results.rglob("*"), *kept.rglob("*")]:  # ...but no credential anywhere
        if path.is_file():
            data = path.read_bytes()
            assert FAKE_SECRET.encode() not in data and b"AKIADIFFYFAKE0000001" not in data, path


def test_unreadable_inventory_is_a_clear_error(tmp_path, monkeypatch):
    """A real ansible-runner run whose aws_ec2 inventory cannot reach its endpoint (a closed port on
    loopback): the error names the limit and Ansible's own reason, and nothing is left behind."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    inventory = tmp_path / "broken.aws_ec2.yml"
    inventory.write_text(
        "plugin: amazon.aws.aws_ec2\nendpoint_url: http://127.0.0.1:9\nregions: [us-east-1]\n"
    )
    with pytest.raises(CollectionError) as info:
        collect(limit="app_x", inventory=(inventory,), results_root=tmp_path / "r", timeout=120)
    message = str(info.value)
    assert "no host of the inventory matched --limit 'app_x'" in message
    assert "Could not connect to the endpoint URL" in message
    assert not any((tmp_path / "r").iterdir())


def test_install_modes_match_the_osquery_role_argument_spec():
    import yaml

    from diffy_analysis.collect.options import OSQUERY_INSTALL_MODES

    spec = yaml.safe_load((REPO / "roles" / "osquery" / "meta" / "argument_specs.yml").read_text())
    choices = spec["argument_specs"]["main"]["options"]["osquery_install_mode"]["choices"]
    assert set(OSQUERY_INSTALL_MODES) == set(choices)


def test_extra_vars_from_the_cli(tmp_path, capsys):
    base = ["collect", "-l", "x", "--results-root", str(tmp_path / "r")]
    assert run(diffy, [*base, "-e", "no_equals_sign"], prog_name="diffy") == 2
    assert "bad extra var 'no_equals_sign'" in capsys.readouterr().err
    assert run(diffy, [*base, "-e", "diffy_run_id=x"], prog_name="diffy") == 2
    assert "diffy_run_id cannot be passed as an extra var" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
