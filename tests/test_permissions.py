"""What Diffy writes on the controller is readable by its owner only: reports (0600), named baselines
(0700 directories, 0600 files, whatever the source run's modes were). Runs written by the collect
role and `diffy collect` are checked on real collections in tests/test_secrets.py."""

from __future__ import annotations

import stat
from pathlib import Path

from diffy_analysis.cli.main import diffy, load_command, run
from tests.runbuilder import build_run

ROWS = {"users": [{"username": "root", "uid": "0"}]}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _open_run(tmp_path: Path) -> Path:
    """A run whose files are world-readable (0644/0755), as a careless copy would leave them."""
    run_dir = build_run(tmp_path / "results", {"web-1": ROWS, "web-2": ROWS})
    for path in [run_dir, *run_dir.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return run_dir


def test_analysis_reports_are_0600_even_over_an_open_file(tmp_path, capsys):
    run_dir = _open_run(tmp_path)
    analyze = load_command("analyze")
    for fmt in ("json", "table", "html"):
        out = tmp_path / f"report.{fmt}"
        out.write_text("old")
        out.chmod(0o644)
        assert (
            run(analyze, [str(run_dir), "--format", fmt, "--output", str(out)], prog_name="diffy-analyze")
            == 0
        )
        assert _mode(out) == 0o600, fmt
    capsys.readouterr()


def test_report_output_through_a_symlink_is_refused(tmp_path, capsys):
    run_dir = _open_run(tmp_path)
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me")
    link = tmp_path / "report.json"
    link.symlink_to(target)
    code = run(load_command("analyze"), [str(run_dir), "--output", str(link)], prog_name="diffy-analyze")
    assert code == 2 and "cannot write" in capsys.readouterr().err
    assert target.read_text() == "keep me"


def test_diffy_report_output_is_0600(tmp_path, capsys):
    run_dir = _open_run(tmp_path)
    saved = tmp_path / "analysis.json"
    assert run(load_command("analyze"), [str(run_dir), "--format", "json", "-o", str(saved)]) == 0
    out = tmp_path / "report.html"
    assert (
        run(diffy, ["report", str(saved), "--format", "html", "--output", str(out)], prog_name="diffy") == 0
    )
    assert _mode(out) == 0o600
    capsys.readouterr()


def test_saved_baselines_are_owner_only(tmp_path, capsys):
    run_dir = _open_run(tmp_path)
    root = tmp_path / "results"
    argv = ["baseline", "save", "app_x", "clean", "--from-run", str(run_dir), "--host", "web-1"]
    assert run(diffy, [*argv, "--results-root", str(root)], prog_name="diffy") == 0, capsys.readouterr().err
    saved = root / "baselines" / "app_x" / "clean"
    modes = {p: _mode(p) for p in [saved, *saved.rglob("*")]}
    assert len(modes) > 3
    assert all(m == (0o700 if p.is_dir() else 0o600) for p, m in modes.items()), modes
