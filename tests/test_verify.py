"""`diffy verify`: re-hashing a run against its manifest detects every change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from diffy_analysis.cli.main import load_command, run
from diffy_analysis.errors import ResultsError
from diffy_analysis.verify import verify_run

SAMPLE_RUN = Path(__file__).parent / "data" / "sample-run" / "20261129T101500Z-a1b2c3"
HOST = "hosts/i-0a1b2c3d4e5f60002"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    dest = tmp_path / SAMPLE_RUN.name
    shutil.copytree(SAMPLE_RUN, dest)
    return dest


def problems(run_dir: Path) -> set[tuple[str, str]]:
    return {(p.path, p.problem) for p in verify_run(run_dir).problems}


def test_untouched_run_verifies(run_dir):
    report = verify_run(run_dir)
    assert report.ok
    assert report.files_checked == 6
    assert report.bytes_checked > 0


def test_one_byte_change_is_detected(run_dir):
    target = run_dir / HOST / "listening_ports.json"
    data = bytearray(target.read_bytes())
    data[data.index(b"4444")] = ord("5")  # same size, one byte different
    target.write_bytes(bytes(data))
    assert problems(run_dir) == {(f"{HOST}/listening_ports.json", "changed")}


def test_deleted_and_added_files_are_detected(run_dir):
    (run_dir / HOST / "users.json").unlink()
    (run_dir / HOST / "extra.json").write_text("[]")
    assert problems(run_dir) == {(f"{HOST}/users.json", "missing"), (f"{HOST}/extra.json", "unexpected")}


def test_symlinks_are_reported_and_never_followed(run_dir, tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text("[]")
    target = run_dir / HOST / "users.json"
    target.unlink()
    target.symlink_to(outside)
    assert problems(run_dir) == {(f"{HOST}/users.json", "symlink")}


def test_missing_manifest_is_trouble_not_a_crash(tmp_path):
    with pytest.raises(ResultsError, match="manifest.json is missing"):
        verify_run(tmp_path)


def test_cli_exit_codes_follow_diff(run_dir, capsys):
    verify = load_command("verify")
    assert run(verify, [str(run_dir)], prog_name="diffy verify") == 0
    (run_dir / HOST / "users.json").write_text("[]")
    assert run(verify, [str(run_dir)], prog_name="diffy verify") == 1
    out = capsys.readouterr().out
    assert "changed" in out and "users.json" in out
    assert run(verify, [str(run_dir.parent / "nope")], prog_name="diffy verify") == 2
    err = capsys.readouterr().err
    assert "manifest.json is missing" in err and "Traceback" not in err
