"""analyze/since.py and `diffy-analyze RUN --since PREVIOUS_RUN|latest`: rows that appeared or
disappeared fleet-wide between two runs of an app, with the fleet rolled in between (no instance
id in common), in every report format."""

from __future__ import annotations

import io
import json

import pytest
from runbuilder import build_run, clean_fleet

from diffy_analysis.analyze.since import compare_runs, find_previous_run, with_since
from diffy_analysis.api import analyze
from diffy_analysis.cli.main import analyze_main, run
from diffy_analysis.errors import ResultsError, UsageError
from diffy_analysis.findings import Analysis
from diffy_analysis.report import render

OLD, NEW, NEWER = "20261201T080000Z-aaaaaa", "20261202T080000Z-bbbbbb", "20261203T080000Z-cccccc"
LISTENER = {
    "protocol": "6", "family": "2", "address": "0.0.0.0", "port": "4444", "pid": "4242", "fd": "3",
    "socket": "99", "name": "nc", "path": "/usr/bin/nc", "cmdline": "nc -lk 4444", "uid": "0",
}  # fmt: skip


def rolled(count: int, prefix: str, *, listener_on: tuple[int, ...] = (), drop_edr: bool = False) -> dict:
    hosts = clean_fleet(count, prefix=prefix)
    for i, rows in enumerate(hosts.values(), 1):
        if i in listener_on:
            rows["listening_ports"].append(dict(LISTENER, pid=str(4000 + i)))
        if drop_edr:
            rows["systemd_units"] = []  # the EDR sensor is gone
    return hosts


@pytest.fixture
def root(tmp_path):
    build_run(tmp_path, rolled(5, "i-0old"), run_id=OLD)
    # The cluster rolled: every instance id is new; one carries a listener; the EDR unit went away.
    build_run(tmp_path, rolled(6, "i-0new", listener_on=(3,), drop_edr=True), run_id=NEW)
    return tmp_path


def test_rows_that_appeared_and_disappeared_fleet_wide_despite_new_instance_ids(root):
    since = compare_runs(root / NEW, root / OLD)
    assert (since.previous_run, since.current_run) == (OLD, NEW)
    assert (since.previous_hosts, since.current_hosts, since.hosts_kept) == (5, 6, 0)
    appeared = [c for c in since.changes if c.kind == "appeared"]
    assert len(appeared) == 1  # per-host pids, hostnames and addresses are noise, not change
    assert appeared[0].query == "listening_ports" and appeared[0].row["port"] == "4444"
    assert (appeared[0].hosts, appeared[0].hosts_compared, appeared[0].host_names) == (1, 6, ("i-0new003",))
    assert "appeared: on 1 of 6 hosts now, none of 5 before" in appeared[0].explanation
    gone = [c for c in since.changes if c.kind == "disappeared"]
    assert gone and {c.query for c in gone} == {"systemd_units"}
    assert all(c.hosts == 5 and c.hosts_compared == 5 for c in gone)


def test_same_fleet_state_means_no_change(tmp_path):
    build_run(tmp_path, rolled(4, "i-0a"), run_id=OLD)
    build_run(tmp_path, rolled(4, "i-0b"), run_id=NEW)
    assert compare_runs(tmp_path / NEW, tmp_path / OLD).changes == ()


def test_a_query_collected_in_one_run_only_is_named_not_compared(tmp_path):
    old = rolled(3, "i-0a")
    for rows in old.values():
        del rows["deb_packages"]
    build_run(tmp_path, old, run_id=OLD)
    build_run(tmp_path, rolled(3, "i-0b"), run_id=NEW)
    since = compare_runs(tmp_path / NEW, tmp_path / OLD)
    assert since.queries_not_compared == ("deb_packages",)
    assert not [c for c in since.changes if c.query == "deb_packages"]


def test_latest_is_the_newest_earlier_run_of_the_same_app(root):
    build_run(root, rolled(2, "i-0y"), run_id="20261201T120000Z-dddddd", app="app_y")
    build_run(root, rolled(2, "i-0z"), run_id=NEWER)  # later than NEW: never "previous"
    assert find_previous_run(root / NEW) == root / OLD
    assert find_previous_run(root / NEWER) == root / NEW
    with pytest.raises(ResultsError, match="no earlier run of app 'app_x'"):
        find_previous_run(root / OLD)


def test_comparing_runs_of_different_apps_is_refused(tmp_path):
    build_run(tmp_path, rolled(2, "i-0a"), run_id=OLD, app="app_y")
    build_run(tmp_path, rolled(2, "i-0b"), run_id=NEW)
    with pytest.raises(UsageError, match="not of 'app_x'"):
        compare_runs(tmp_path / NEW, tmp_path / OLD)


def test_analysis_json_round_trip_and_reports(root):
    analysis = with_since(analyze([root / NEW]), root / NEW, "latest")
    assert analysis.exit_code == 1
    doc = analysis.to_json()
    assert doc["since"]["previous_run"] == OLD
    assert Analysis.from_json(json.loads(json.dumps(doc))).to_json() == doc
    for fmt, needle in (("table", "rows appeared"), ("html", 'id="since"'), ("json", '"since"')):
        out = io.StringIO()
        render(analysis, fmt, out)
        assert needle in out.getvalue() and "4444" in out.getvalue(), fmt


def test_without_since_nothing_changes_in_the_document(root):
    assert "since" not in analyze([root / NEW]).to_json()


def test_cli_since_latest_and_explicit(root, tmp_path, capsys, monkeypatch):
    out = tmp_path / "a.json"
    monkeypatch.setattr("sys.argv", ["diffy-analyze"])
    from diffy_analysis.cli.main import load_command

    command = load_command("analyze")
    code = run(command, [str(root / NEW), "--since", "latest", "--format", "json", "-o", str(out)])
    assert code == 1
    assert json.loads(out.read_text())["since"]["previous_run"] == OLD
    code = run(command, [str(root / NEW), "--since", str(root / OLD)])
    assert code == 1 and "1 rows appeared" in capsys.readouterr().out
    code = run(command, [str(root / NEW), "--since", str(tmp_path / "nope")])
    assert code == 2 and "not a run directory" in capsys.readouterr().err
    code = run(command, [str(root / NEW), str(root / OLD), "--since", "latest"])
    assert code == 2 and "one RUN_DIR" in capsys.readouterr().err
    assert analyze_main  # the console entry point stays importable
