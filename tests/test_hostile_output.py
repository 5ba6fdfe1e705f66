"""`diffy collect` prints what hosts sent back (their names, hostnames, error messages): a compromised
host must not be able to write escape sequences or rich markup to the responder's terminal, neither
in the live progress display nor in the summary table."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from rich.console import Console

from diffy_analysis.cli import collect as collect_cli
from diffy_analysis.cli.main import load_command, run
from diffy_analysis.collect.events import HostState
from diffy_analysis.collect.progress import HostProgress
from diffy_analysis.collect.result import CollectResult, HostOutcome
from tests.runbuilder import build_run

HOSTILE = "web-1\x1b]0;pwned\x07\x1b[2J\x1b[31mRED\x00\r[link=http://evil.invalid]click[/link] [/]"


def _plain_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, color_system=None, width=200), out


LIVE_CONTROL = re.compile(r"\x1b\[\?25[lh]|\x1b\[2K|\x1b\[\d*A|\r")
"""The cursor and line controls rich's live display writes itself (not text from hosts)."""


def _assert_clean(text: str) -> None:
    text = LIVE_CONTROL.sub("", text)
    assert "\x1b" not in text and "\x07" not in text and "\x00" not in text and "\r" not in text


def test_live_progress_escapes_host_names_and_errors():
    console, out = _plain_console()
    with HostProgress(console=console) as display:
        display.update(HOSTILE, HostState(HOSTILE, task=HOSTILE))
        display.update(HOSTILE, HostState(HOSTILE, state="failed", failed=1, last_error=HOSTILE))
        display.progress.refresh()
    _assert_clean(out.getvalue())
    assert "\\x1b" in out.getvalue()  # visible, escaped


def test_collect_summary_escapes_what_hosts_sent(monkeypatch, capsys):
    result = CollectResult(
        run_id="20261129T101500Z-abcdef",
        run_dir=Path("/tmp/nowhere"),
        runner_status="failed",
        rc=2,
        hosts=(HostOutcome("web-1", HOSTILE, "failed", error=HOSTILE, hostname=HOSTILE),),
        manifest={},
    )
    console, out = _plain_console()
    monkeypatch.setattr("rich.console.Console", lambda *a, **k: console)
    collect_cli.print_summary(result)
    _assert_clean(out.getvalue())


def test_verify_escapes_file_names_found_on_disk(tmp_path, capsys):
    """A file name under hosts/ can come from anyone who could write there; verify lists it."""
    run_dir = build_run(tmp_path, {"h1": {"users": [{"username": "root"}]}})
    (run_dir / "hosts" / "h1" / "evil\x1b]0;pwned\x07.json").write_text("[]")
    (run_dir / "hosts" / "h1" / b"bad\xff".decode("utf-8", "surrogateescape")).write_text("x")
    assert run(load_command("verify"), [str(run_dir)], prog_name="diffy verify") == 1
    out = capsys.readouterr().out
    _assert_clean(out)
    assert "evil\\x1b]0;pwned\\x07.json" in out and "unexpected" in out


def test_error_messages_quoting_host_names_are_escaped(tmp_path, capsys):
    """Nothing usable: the one-line error names the first hosts and reasons; a host label full of
    escape sequences (from the inventory or a tampered manifest) is shown escaped."""
    run_dir = build_run(tmp_path, {"h1": {"users": [{"username": "root"}]}})
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["hosts"]["h1"].update(status="unreachable", error="ssh: \x1b]0;pwned\x07 gone", host="h\x1b[2J1")
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    assert run(load_command("analyze"), [str(run_dir)], prog_name="diffy-analyze") == 2
    err = capsys.readouterr().err
    _assert_clean(err.rstrip("\n"))
    assert "h\\x1b[2J1" in err and err.count("\n") == 1
