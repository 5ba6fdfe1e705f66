"""The CLI surface: entry points, help texts, and the one place errors become exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest

from diffy_analysis.cli.main import SUBCOMMANDS, SUMMARIES, diffy, load_command, run
from diffy_analysis.errors import EXIT_TROUBLE, ResultsError

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_every_subcommand_is_registered_summarised_and_loadable():
    assert set(SUBCOMMANDS) == set(SUMMARIES)
    for name in SUBCOMMANDS:
        command = load_command(name)
        assert isinstance(command, click.Command)
        assert command.help, f"diffy {name} has no help text"


@pytest.mark.parametrize("argv", [["diffy", "--help"], ["diffy-analyze", "--help"], ["diffy", "--version"]])
def test_entry_points_run(argv):
    result = subprocess.run([str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_subcommand_help(name):
    result = subprocess.run([str(BIN / "diffy"), name, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_diffy_error_becomes_a_message_and_exit_2(capsys):
    @click.command()
    def broken() -> None:
        raise ResultsError("runs/x: no manifest.json", hint="is this a results directory?")

    assert run(broken, [], prog_name="diffy-analyze") == EXIT_TROUBLE
    err = capsys.readouterr().err
    assert err.strip() == "diffy-analyze: error: runs/x: no manifest.json (is this a results directory?)"


def test_unexpected_exception_has_no_traceback(capsys, monkeypatch):
    monkeypatch.delenv("DIFFY_DEBUG", raising=False)

    @click.command()
    def crashes() -> None:
        raise ZeroDivisionError("boom")

    assert run(crashes, [], prog_name="diffy") == EXIT_TROUBLE
    err = capsys.readouterr().err
    assert "internal error" in err and "Traceback" not in err


def test_usage_errors_exit_2(capsys):
    assert run(diffy, ["no-such-command"], prog_name="diffy") == EXIT_TROUBLE
    assert "No such command" in capsys.readouterr().err


def test_command_return_value_is_the_exit_code():
    @click.command()
    def found() -> int:
        return 1

    assert run(found, [], prog_name="diffy") == 1


def test_cli_reference_is_generated_from_help():
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_cli_docs.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
