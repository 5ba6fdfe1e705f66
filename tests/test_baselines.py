"""Named baselines: saved from a verified run, listed, shown, resolved; never from tampered data."""

from __future__ import annotations

import json

import pytest
from runbuilder import build_run

from diffy_analysis import baselines
from diffy_analysis.cli.main import diffy, run
from diffy_analysis.errors import BaselineError, UsageError

USERS = [{"username": "root", "uid": "0"}, {"username": "app", "uid": "1000"}]


@pytest.fixture
def fleet_run(tmp_path):
    hosts = {f"web-{i}": {"users": USERS} for i in (1, 2, 3)}
    return build_run(tmp_path / "src", hosts, statuses={"web-3": "unreachable"})


def test_save_one_host_list_show_and_resolve(tmp_path, fleet_run):
    root = tmp_path / "results"
    saved = baselines.save_from_run(fleet_run, root, "app_x", "clean", hosts=["web-1"])
    assert saved.path == root / "baselines" / "app_x" / "clean"
    assert saved.hosts == ("web-1",)
    manifest = json.loads((saved.path / "manifest.json").read_text())
    assert set(manifest["hosts"]) == {"web-1"}
    assert all(k.startswith("hosts/web-1/") for k in manifest["files"])
    assert sorted(p.name for p in (saved.path / "hosts").iterdir()) == ["web-1"]
    assert (saved.path.stat().st_mode & 0o777) == 0o700
    assert [b.name for b in baselines.list_baselines(root)] == ["clean"]
    assert baselines.get_baseline(root, "app_x", "clean").source.startswith("run ")
    assert baselines.resolve_baseline("app_x/clean", results_root=root) == saved.path
    assert baselines.resolve_baseline(str(saved.path), results_root=root) == saved.path

    from diffy_analysis.verify import verify_run

    assert verify_run(saved.path).ok  # a baseline verifies on its own


def test_whole_run_takes_only_collected_hosts(tmp_path, fleet_run):
    saved = baselines.save_from_run(fleet_run, tmp_path / "r", "app_x", "all")
    assert saved.hosts == ("web-1", "web-2")


def test_refusals(tmp_path, fleet_run):
    root = tmp_path / "r"
    baselines.save_from_run(fleet_run, root, "app_x", "clean", hosts=["web-1"])
    with pytest.raises(BaselineError, match="already exists"):
        baselines.save_from_run(fleet_run, root, "app_x", "clean")
    replaced = baselines.save_from_run(fleet_run, root, "app_x", "clean", hosts=["web-2"], force=True)
    assert replaced.hosts == ("web-2",)
    with pytest.raises(BaselineError, match="not collected"):
        baselines.save_from_run(fleet_run, root, "app_x", "x", hosts=["web-3"])
    with pytest.raises(BaselineError, match="not in the run"):
        baselines.save_from_run(fleet_run, root, "app_x", "x", hosts=["nope"])
    for bad in ("../up", "", ".hidden", "a/b"):
        with pytest.raises(BaselineError, match="bad baseline"):
            baselines.save_from_run(fleet_run, root, "app_x", bad)
    with pytest.raises(BaselineError, match="no baseline app_x/missing"):
        baselines.get_baseline(root, "app_x", "missing")
    with pytest.raises(UsageError, match="give APP/NAME or --app"):
        baselines.resolve_baseline("missing", results_root=root)
    with pytest.raises(BaselineError, match="no baseline app_x/missing"):
        baselines.resolve_baseline("app_x/missing", results_root=root)
    with pytest.raises(BaselineError, match="no such directory"):
        baselines.resolve_baseline("a/b/c", results_root=root)


def test_tampered_run_is_refused(tmp_path, fleet_run):
    (fleet_run / "hosts" / "web-1" / "users.json").write_text("[]")
    with pytest.raises(BaselineError, match="does not match the manifest"):
        baselines.save_from_run(fleet_run, tmp_path / "r", "app_x", "clean", hosts=["web-1"])
    assert not (tmp_path / "r" / "baselines" / "app_x" / "clean").exists()


def test_cli_save_list_show(tmp_path, fleet_run, capsys):
    root = str(tmp_path / "r")
    assert run(diffy, ["baseline", "save", "app_x", "clean", "--from-run", str(fleet_run), "--host", "web-2",
                       "--results-root", root]) == 0  # fmt: skip
    assert "Saved baseline app_x/clean: 1 host(s)" in capsys.readouterr().out
    assert run(diffy, ["baseline", "list", "--results-root", root, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(b["app"], b["name"], b["hosts"]) for b in listed] == [("app_x", "clean", ["web-2"])]
    assert run(diffy, ["baseline", "show", "app_x", "clean", "--results-root", root]) == 0
    assert "hosts (1):  web-2" in capsys.readouterr().out
    assert run(diffy, ["baseline", "show", "app_x", "nope", "--results-root", root]) == 2
    err = capsys.readouterr().err
    assert "no baseline app_x/nope" in err and "Traceback" not in err
    assert run(diffy, ["baseline", "save", "app_x", "x", "--results-root", root]) == 2
    assert "exactly one of --from-run" in capsys.readouterr().err
