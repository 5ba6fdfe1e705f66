"""Entry points of the `diffy` and `diffy-analyze` commands.

This is the one place where errors become messages and exit codes (diff(1) style: 0 nothing found,
1 differences/outliers found, 2 trouble).  Subcommands live in their own modules and are registered
in ``SUBCOMMANDS`` below; they are imported only when used, so `diffy --help` stays fast.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from diffy_analysis import __version__
from diffy_analysis.errors import EXIT_TROUBLE, DiffyError
from diffy_analysis.text import escape_unprintable

# name -> "module:attribute" of a click command.  Plain data: the registry of subcommands.
SUBCOMMANDS: dict[str, str] = {
    "collect": "diffy_analysis.cli.collect:collect",
    "run": "diffy_analysis.cli.collect:run",
    "analyze": "diffy_analysis.cli.analyze:analyze",
    "baseline": "diffy_analysis.cli.baseline:baseline",
    "index": "diffy_analysis.cli.index:index",
    "report": "diffy_analysis.cli.report:report",
    "verify": "diffy_analysis.cli.verify:verify",
    "lab": "diffy_analysis.cli.lab:lab",
    "validate": "diffy_analysis.cli.validate:validate",
    "scope": "diffy_analysis.cli.scope:scope",
}

# One-line summaries for `diffy --help`, so listing commands imports none of them.
SUMMARIES: dict[str, str] = {
    "collect": "Collect host state from an app's instances with Ansible (ansible-runner).",
    "run": "Collect, then analyse, in one go.",
    "analyze": "Find the hosts that differ from a baseline or stand out from their peers.",
    "baseline": "Save, list and show named functional baselines per app.",
    "index": "Index a run and its analysis into Elasticsearch.",
    "report": "Render a saved analysis (JSON) as a table or a self-contained HTML report.",
    "verify": "Re-hash every file of a run against its manifest.",
    "lab": "Bring a local lab fleet (namespaced hosts + moto EC2) up or down.",
    "validate": "Select the Atomic Red Team tests a validation would run, with every exclusion's reason.",
    "scope": "List every host touched: from a known-bad host or an IOC, widened until closed.",
}


def load_command(name: str) -> click.Command:
    module_name, _, attr = SUBCOMMANDS[name].partition(":")
    return getattr(importlib.import_module(module_name), attr)


class DiffyGroup(click.Group):
    """A click group whose subcommands come from ``SUBCOMMANDS``, imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return None
        return load_command(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUMMARIES[name]) for name in SUBCOMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=DiffyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="diffy")
def diffy() -> None:
    """Diffy: find the instances of an app that an attacker touched.

    Diffy collects host state with osquery (or its native collector) from every instance of an
    application through Ansible, then shows the instances that differ from a functional baseline
    or stand out from their peers.

    Exit codes, as diff(1): 0 nothing found, 1 differences or outliers found, 2 trouble.
    """


def _printable(message: str) -> str:
    """One line, no control characters: messages can quote host names and values a compromised
    host chose (an ESC sequence must not reach the responder's terminal)."""
    return escape_unprintable(message)


def run(command: click.Command, args: list[str] | None = None, prog_name: str | None = None) -> int:
    """Run a click command, turning every error into a one-line message and an exit code."""
    debug = os.environ.get("DIFFY_DEBUG") == "1"
    try:
        result = command.main(args=args, prog_name=prog_name, standalone_mode=False)
    except DiffyError as err:
        if debug:
            raise
        click.echo(f"{prog_name or 'diffy'}: error: {_printable(str(err))}", err=True)
        return err.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_TROUBLE
    except click.ClickException as err:
        err.show()
        return EXIT_TROUBLE
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except BrokenPipeError:
        # `diffy-analyze ... | head`: the reader left; nothing to report.
        sys.stderr.close()
        return 0
    except Exception as err:  # last line of defence: no traceback for users
        if debug:
            raise
        click.echo(
            f"{prog_name or 'diffy'}: internal error: {type(err).__name__}: {_printable(str(err))} "
            "(set DIFFY_DEBUG=1 for a traceback, and please report it)",
            err=True,
        )
        return EXIT_TROUBLE
    if isinstance(result, int):
        return result
    return 0


def diffy_main() -> None:
    sys.exit(run(diffy, prog_name="diffy"))


def analyze_main() -> None:
    sys.exit(run(load_command("analyze"), prog_name="diffy-analyze"))
