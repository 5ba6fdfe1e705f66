"""One option style across every command, and click's shell completion working for both programs
(issue 16; documented in docs/cli.md and the README)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click

from diffy_analysis.cli.main import SUBCOMMANDS, diffy, load_command

BIN = Path(sys.executable).parent
LONG = re.compile(r"^--[a-z][a-z0-9]*(-[a-z0-9]+)*$")  # --results-root, never --results_root or --resultsRoot


def _commands() -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = [("diffy", diffy)]
    for name in SUBCOMMANDS:
        command = load_command(name)
        found.append((name, command))
        if isinstance(command, click.Group):
            found += [(f"{name} {sub}", cmd) for sub, cmd in command.commands.items()]
    return found


def test_every_option_is_kebab_case_long_with_one_letter_short_forms() -> None:
    bad = []
    for name, command in _commands():
        for param in command.params:
            if not isinstance(param, click.Option):
                continue
            for opt in [*param.opts, *param.secondary_opts]:
                if opt.startswith("--"):
                    if not LONG.match(opt):
                        bad.append(f"{name}: {opt}")
                elif not re.fullmatch(r"-[A-Za-z]", opt):
                    bad.append(f"{name}: {opt}")
            if not any(o.startswith("--") for o in param.opts):
                bad.append(f"{name}: {param.opts} has no long form")
    assert not bad, bad


def test_machine_output_is_always_format_json() -> None:
    """`--format json` everywhere (analyze's report formats are table|json|html, the others text|json)."""
    with_format = 0
    for name, command in _commands():
        for param in command.params:
            if "--format" in getattr(param, "opts", []):
                with_format += 1
                assert isinstance(param.type, click.Choice), name
                assert "json" in param.type.choices, f"{name}: {param.type.choices}"
    assert with_format >= 5


def _complete(prog: str, words: str) -> str:
    var = "_" + prog.upper().replace("-", "_") + "_COMPLETE"
    env = {**os.environ, var: "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)}
    proc = subprocess.run([str(BIN / prog)], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_shell_completion_of_both_programs() -> None:
    script = subprocess.run(
        [str(BIN / "diffy")], capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "_DIFFY_COMPLETE": "bash_source"},
    )  # fmt: skip
    assert "complete -o nosort -F _diffy_completion diffy" in script.stdout
    assert "plain,collect" in _complete("diffy", "diffy col").splitlines()
    assert "plain,--format" in _complete("diffy-analyze", "diffy-analyze --form").splitlines()
