"""`diffy report`: render a saved analysis; exit codes as diff(1); clear one-line errors."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from report_samples import baseline_analysis, hostile_analysis, peers_analysis

from diffy_analysis.findings import Analysis, HostResult

DIFFY = str(Path(sys.executable).parent / "diffy")


def diffy(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": str(Path(sys.executable).parent), "NO_COLOR": "1", "LANG": "C.UTF-8"}
    return subprocess.run(
        [DIFFY, "report", *args], capture_output=True, text=True, input=stdin, timeout=120, env=env
    )


@pytest.fixture
def saved(tmp_path: Path):
    def save(analysis: Analysis, name: str = "analysis.json") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(analysis.to_json()))
        return path

    return save


def test_table_is_the_default_and_exit_2_when_hosts_stand_out_and_others_are_missing(saved):
    result = diffy(str(saved(peers_analysis())))
    assert result.returncode == 2, result.stderr  # outliers found, and hosts skipped: trouble wins
    assert "Hosts ranked by score" in result.stdout
    assert result.stdout.strip().splitlines()[-2].startswith("2 of 24 hosts stand out: i-0abc1234")
    assert "\x1b" not in result.stdout


def test_quiet_and_exit_0_when_nothing_stands_out(saved):
    clean = Analysis(
        method="peers",
        run_ids=("r",),
        hosts=tuple(HostResult(f"h{i}", f"h{i}", 0.0, False, 1, ()) for i in range(4)),
    )
    result = diffy(str(saved(clean)), "--quiet")
    assert result.returncode == 0
    assert result.stdout == "No host stands out (4 hosts analysed).\n"


def test_html_to_a_file_is_private_and_complete(saved, tmp_path):
    out = tmp_path / "report.html"
    result = diffy(str(saved(hostile_analysis())), "--format", "html", "--output", str(out))
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    doc = out.read_text("ascii")
    assert doc.rstrip().endswith("</html>")
    assert "<script>window.__pwned" not in doc
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_json_round_trip_and_standard_input(saved):
    path = saved(baseline_analysis())
    result = diffy(str(path), "--format", "json")
    assert result.returncode == 2
    assert json.loads(result.stdout) == json.loads(path.read_text())
    piped = diffy("-", "-q", stdin=result.stdout)
    assert piped.stdout.startswith("1 of 3 hosts differs from the baseline web-clean-2026-11")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON: Expecting property name enclosed in double quotes at line 1, column 2"),
        ('{"format": "diffy-results/1"}', "is not a diffy-analysis/1 document (format: 'diffy-results/1')"),
        ("[1, 2]", "is not a diffy-analysis/1 document (format: 'list')"),
        ('{"format": "diffy-analysis/1", "hosts": 3}', "does not match the analysis schema"),
    ],
)
def test_bad_input_is_a_one_line_error_and_exit_2(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = diffy(str(path))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreadable_input_and_unwritable_output(saved, tmp_path):
    missing = diffy(str(tmp_path / "nope.json"))
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr and "No such file or directory" in missing.stderr
    path = saved(peers_analysis())
    bad = diffy(str(path), "--format", "html", "--output", str(tmp_path / "no" / "dir" / "r.html"))
    assert bad.returncode == 2
    assert "cannot write" in bad.stderr and "Traceback" not in bad.stderr
    binary = tmp_path / "bin.json"
    binary.write_bytes(b'{"format": "\xff"}')
    result = diffy(str(binary))
    assert result.returncode == 2 and "is not UTF-8 text" in result.stderr


@pytest.mark.parametrize("command", ["report", "analyze"])
def test_formats_are_the_registered_renderers(command):
    from diffy_analysis.cli.main import load_command
    from diffy_analysis.report import RENDERERS

    (fmt,) = [p for p in load_command(command).params if p.name == "fmt"]
    assert set(fmt.type.choices) == set(RENDERERS)


def test_json_output_keeps_non_utf8_values(saved, tmp_path):
    """A lone surrogate (a non-UTF-8 byte from a host) survives --format json, to a file and a pipe."""
    path = saved(hostile_analysis())
    out = tmp_path / "again.json"
    assert diffy(str(path), "--format", "json", "--output", str(out)).returncode == 2
    original = json.loads(path.read_text())
    assert json.loads(out.read_text("utf-8")) == original
    piped = diffy(str(path), "--format", "json")
    assert piped.returncode == 2, piped.stderr
    assert json.loads(piped.stdout) == original
