"""`diffy-analyze`: exit codes like diff(1), no tracebacks, schema-valid JSON, report files."""

from __future__ import annotations

import json
import stat

from runbuilder import build_run, clean_fleet

from diffy_analysis import contract
from diffy_analysis.cli.main import load_command, run

BIND_SHELL = {
    "protocol": "6",
    "family": "2",
    "address": "0.0.0.0",
    "port": "4444",
    "pid": "31337",
    "fd": "3",
    "socket": "777",
    "name": "nc",
    "path": "/usr/bin/nc",
    "cmdline": "nc -lvp 4444",
    "uid": "0",
}


def _analyze(args, capsys):
    code = run(load_command("analyze"), [str(a) for a in args], prog_name="diffy-analyze")
    out, err = capsys.readouterr()
    return code, out, err


def test_clean_run_exits_0(tmp_path, capsys):
    code, out, err = _analyze([build_run(tmp_path, clean_fleet(8)), "--format", "json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert contract.schema_errors("analysis", doc) == []
    assert doc["summary"] == {"hosts_analysed": 8, "hosts_skipped": 0, "outliers": 0}


def test_outlier_exits_1_with_schema_valid_json(tmp_path, capsys):
    hosts = clean_fleet(12)
    hosts["web-004"]["listening_ports"].append(BIND_SHELL)
    run_dir = build_run(tmp_path / "all", hosts)
    code, _, err = _analyze([run_dir, "--format", "json"], capsys)
    assert code == 1, err
    run_dir = build_run(tmp_path, hosts, statuses={"web-099": "unreachable"})
    code, out, err = _analyze([run_dir, "--format", "json"], capsys)
    # a host of the run was not collected: exit 2 (trouble) whatever was found, findings still reported
    assert code == 2, err
    doc = json.loads(out)
    assert contract.schema_errors("analysis", doc) == []
    assert doc["hosts"][0]["host"] == "web-004" and doc["hosts"][0]["outlier"] is True
    assert doc["skipped"] == [
        {
            "host": "web-099",
            "reason": "collection unreachable",
            "status": "unreachable",
            "run_id": run_dir.name,
        }
    ]


def test_table_format_and_output_file(tmp_path, capsys):
    hosts = clean_fleet(6)
    hosts["web-002"]["listening_ports"].append(BIND_SHELL)
    report = tmp_path / "report.txt"
    code, out, err = _analyze([build_run(tmp_path, hosts), "--output", report], capsys)
    assert code == 1, err
    assert out == ""
    assert "web-002" in report.read_text()
    assert stat.S_IMODE(report.stat().st_mode) == 0o600


def test_bad_input_exits_2_without_traceback(tmp_path, capsys):
    code, _, err = _analyze([tmp_path / "missing"], capsys)
    assert code == 2
    assert "Traceback" not in err and err.startswith("diffy-analyze: error:")
    (tmp_path / "empty").mkdir()
    code, _, err = _analyze([tmp_path / "empty"], capsys)
    assert code == 2 and "manifest.json" in err and "Traceback" not in err


def test_nothing_usable_exits_2_with_the_reasons(tmp_path, capsys):
    run_dir = build_run(tmp_path, {"a": {"users": []}}, raw_files={"a": {"users": b"{not json"}})
    code, _, err = _analyze([run_dir], capsys)
    assert code == 2
    assert "no host could be analysed" in err and "malformed JSON" in err
    assert "Traceback" not in err


def test_bad_config_exits_2(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text("[thresholds]\nrare_fraction = 7\n")
    code, _, err = _analyze([build_run(tmp_path, clean_fleet(3)), "--config", config], capsys)
    assert code == 2 and "rare_fraction" in err


def test_explain_config_prints_the_effective_rules(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("queries:\n  processes:\n    also_ignore: [cwd]\n")
    code, out, _ = _analyze(["--explain-config", "--config", config], capsys)
    assert code == 0
    doc = json.loads(out)
    assert "cwd" in doc["queries"]["processes"]["ignore"]
    assert doc["queries"]["listening_ports"]["keys"][:4] == ["protocol", "family", "address", "port"]


def test_baseline_option(tmp_path, capsys):
    hosts = clean_fleet(5)
    hosts["web-003"]["listening_ports"].append(BIND_SHELL)
    run_dir = build_run(tmp_path / "f", hosts)
    code, out, err = _analyze(
        [run_dir, "--baseline", run_dir / "hosts" / "web-001", "--format", "json"], capsys
    )
    assert code == 1, err
    doc = json.loads(out)
    assert doc["method"] == "baseline"
    assert [h["host"] for h in doc["hosts"] if h["outlier"]] == ["web-003"]
    assert contract.schema_errors("analysis", doc) == []


def test_baseline_app_slash_name_as_diffy_baseline_tells_users(tmp_path, capsys):
    """`diffy baseline --help` says `diffy-analyze RUN_DIR --baseline APP/NAME`: that works."""
    from diffy_analysis import baselines

    hosts = clean_fleet(5)
    hosts["web-003"]["listening_ports"].append(BIND_SHELL)
    run_dir = build_run(tmp_path / "f", hosts)
    root = tmp_path / "results"
    baselines.save_from_run(run_dir, root, "web_tier", "clean", hosts=["web-001"])
    args = [run_dir, "--baseline", "web_tier/clean", "--results-root", root, "--format", "json"]
    code, out, err = _analyze(args, capsys)
    assert code == 1, err
    doc = json.loads(out)
    assert doc["method"] == "baseline" and doc["baseline"] == "web_tier/clean"
    assert [h["host"] for h in doc["hosts"] if h["outlier"]] == ["web-003"]
    # NAME alone is looked up for the --app given (here the baseline's app, not the run's).
    code, out, err = _analyze([*args[:2], "clean", *args[3:], "--app", "web_tier"], capsys)
    assert code == 1, err and json.loads(out)["baseline"] == "clean"
    code, out, err = _analyze([*args[:2], "web_tier/missing", *args[3:]], capsys)
    assert code == 2 and "no baseline web_tier/missing" in err and "Traceback" not in err


def test_no_run_dir_is_a_usage_error(capsys):
    code, _, err = _analyze([], capsys)
    assert code == 2 and "RUN_DIR" in err


def test_jobs_give_the_same_report_and_progress_is_shown_when_asked(tmp_path, capsys):
    run_dir = build_run(tmp_path, clean_fleet(8))
    code, serial, _ = _analyze([run_dir, "--format", "json", "--jobs", "1"], capsys)
    code2, parallel, err = _analyze([run_dir, "--format", "json", "--jobs", "2"], capsys)
    assert (code, serial) == (code2, parallel) and err == ""  # not a terminal: no progress line
    code3, forced, err = _analyze([run_dir, "--format", "json", "-j", "2", "--progress"], capsys)
    assert (code3, forced) == (code, serial)  # stdout stays the report alone
    assert "analysing 8 hosts" in err or "loading" in err  # the line went to stderr, as asked
    code4, _, err = _analyze([run_dir, "--format", "json", "--jobs", "65"], capsys)
    assert code4 == 2 and "Traceback" not in err
