"""`diffy collect` and `diffy run`: collection through ansible-runner, with a live per-host display."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from diffy_analysis.cli.machine_output import machine_format_option
from diffy_analysis.collect import COLLECTORS, CollectOptions, CollectResult
from diffy_analysis.collect.options import DEFAULT_TIMEOUT, OSQUERY_INSTALL_MODES, default_results_root
from diffy_analysis.errors import EXIT_CLEAN, EXIT_TROUBLE, UsageError

_STATUS_STYLE = {"ok": "green", "partial": "yellow", "failed": "red", "unreachable": "red"}


def collect_options(func):
    """The options `collect` and `run` share (applied bottom-up, listed top-down in --help)."""
    decorators = [
        click.option(
            "-l",
            "--limit",
            required=True,
            help="Hosts to collect: an app group (app_x), an instance id, any Ansible --limit pattern.",
        ),
        click.option(
            "-i",
            "--inventory",
            multiple=True,
            type=click.Path(exists=True, path_type=Path),
            help="Inventory file or directory (repeatable) [default: the one in the project's ansible.cfg].",
        ),
        click.option(
            "--pack",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="Query pack (JSON) [default: the role's linux-dfir pack].",
        ),
        click.option(
            "--collector",
            type=click.Choice(COLLECTORS),
            default="auto",
            show_default=True,
            help="osquery (osqueryi), native (Diffy's stdlib collector), or auto (osquery when present).",
        ),
        click.option(
            "--osquery-install-mode",
            type=click.Choice(OSQUERY_INSTALL_MODES),
            help="How the osquery role gets osqueryi onto hosts [default: the role's].",
        ),
        click.option(
            "--results-root",
            type=click.Path(file_okay=False, path_type=Path),
            default=default_results_root,
            show_default="$DIFFY_RESULTS_ROOT or ./diffy-results",
            help="Where runs are written (<results-root>/<run_id>/).",
        ),
        click.option(
            "--timeout",
            type=float,
            default=DEFAULT_TIMEOUT,
            show_default=True,
            help="Seconds before the whole playbook run is stopped.",
        ),
        click.option("--forks", type=int, help="Hosts collected in parallel [default: Ansible's]."),
        click.option(
            "--keep-artifacts",
            type=click.Path(file_okay=False, path_type=Path),
            help="Keep ansible-runner's event log and stdout under this directory (never in the run dir).",
        ),
        click.option(
            "-e",
            "--extra-var",
            "extra_vars",
            multiple=True,
            metavar="KEY=VALUE",
            help="Extra variable for the playbook (repeatable), e.g. -e osquery_ephemeral_src=/srv/osqueryi.",
        ),
        click.option("--no-progress", is_flag=True, help="No live per-host display."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _extra_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise UsageError(f"bad extra var {pair!r}: expected KEY=VALUE with KEY a variable name")
        out[key] = value
    return out


def _options(params: dict) -> CollectOptions:
    return CollectOptions(
        extravars=_extra_vars(params["extra_vars"]),
        limit=params["limit"],
        inventory=tuple(params["inventory"]),
        pack=params["pack"],
        collector=params["collector"],
        osquery_install_mode=params["osquery_install_mode"],
        results_root=Path(params["results_root"]),
        timeout=params["timeout"],
        forks=params["forks"],
        keep_artifacts=params["keep_artifacts"],
    )


def run_collection(options: CollectOptions, *, progress: bool) -> CollectResult:
    from diffy_analysis.api import collect as api_collect  # noqa: PLC0415

    if not progress or not sys.stderr.isatty():
        return api_collect(options)
    from diffy_analysis.collect.progress import HostProgress  # noqa: PLC0415

    with HostProgress() as display:
        return api_collect(options, on_host=display.update)


def print_summary(result: CollectResult) -> None:
    """The people's summary of a collection, on standard error: standard output is kept for machine
    output (`diffy collect --format json`, `diffy run --format json`)."""
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    from diffy_analysis.report._escape import safe_text  # noqa: PLC0415

    console = Console(stderr=True)
    counts = result.counts
    collected = counts["ok"] + counts["partial"]
    parts = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    console.print(
        f"[bold]Collected {collected} of {len(result.hosts)} hosts[/] in {result.elapsed_s:.1f}s"
        f" (run {result.run_id}): {parts or 'no hosts matched'}"
    )
    if result.hosts:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        for col in ("host", "hostname", "status", "why"):
            table.add_column(col)
        for host in result.hosts:
            style = _STATUS_STYLE.get(host.status, "white")
            table.add_row(  # host names and errors come from hosts: no raw control characters
                Text(safe_text(host.host, 120)),
                Text(safe_text(host.hostname or "-", 120)),
                Text(safe_text(host.status, 20), style=style),
                Text(safe_text(host.error or "", 300)),
            )
        console.print(table)
    console.print(f"Run directory: [bold]{result.run_dir}[/]")


@click.command()
@collect_options
@machine_format_option("a summary on standard error")
def collect(as_json: bool, no_progress: bool, **params) -> int:
    """Collect host state from the hosts matching --limit with playbooks/collect.yml, through
    ansible-runner, into a new run directory.

    Same result as `ansible-playbook playbooks/collect.yml -l LIMIT`. Exit 0 when every host was
    collected (ok or partial), 2 when a host failed or was unreachable, or no host matched; the run
    directory and its manifest are written either way.
    """
    result = run_collection(_options(params), progress=not no_progress and not as_json)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        print_summary(result)
    return EXIT_CLEAN if result.complete else EXIT_TROUBLE


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@collect_options
@click.pass_context
def run(ctx: click.Context, no_progress: bool, **params) -> int:
    """Collect (as `diffy collect`), then analyse the new run (as `diffy-analyze RUN_DIR`).

    Options not listed here are passed to the analysis, e.g. `--baseline app_x/clean`,
    `--format html --output report.html`. Exit codes as diffy-analyze: 0 nothing found,
    1 outliers or differences found, 2 trouble.
    """
    from diffy_analysis.cli.main import load_command  # noqa: PLC0415

    result = run_collection(_options(params), progress=not no_progress)
    print_summary(result)
    click.echo("", err=True)
    analyze = load_command("analyze")
    code = analyze.main(args=[str(result.run_dir), *ctx.args], prog_name="diffy run", standalone_mode=False)
    return code if isinstance(code, int) else EXIT_CLEAN
