"""`diffy scope RUN... --from HOST --ioc VALUE`: every host touched, iterated until closed.

A thin layer over :func:`diffy_analysis.analyze.scope.scope`; errors are DiffyError subclasses
that cli/main.py turns into messages and exit codes (0: nothing in scope, 1: hosts in scope).
"""

from __future__ import annotations

from pathlib import Path

import click

from diffy_analysis.cli.output import report_stream
from diffy_analysis.errors import UsageError


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("run_dirs", nargs=-1, type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--from", "from_hosts", multiple=True, metavar="HOST", help="A host known to be bad (name or id)."
)
@click.option(
    "--ioc",
    "iocs",
    multiple=True,
    metavar="VALUE",
    help="An indicator: address, hash, path, user, key fingerprint (SHA256:…), cron command (substring).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "html"]), default="table", show_default=True
)
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True), help="Write to this file.")
@click.option(
    "--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), help="Analysis config."
)
def scope(  # noqa: PLR0917 - click passes options as arguments
    run_dirs: tuple[Path, ...],
    from_hosts: tuple[str, ...],
    iocs: tuple[str, ...],
    fmt: str,
    output: str | None,
    config_path: Path | None,
) -> int:
    """List every host sharing a known-bad host's rare artifacts or an IOC, widening until closed.

    Each host comes with its evidence chain: the round it was found in and the artifact (with the
    host it was first found on) that brought it in. Exit codes: 0 no host in scope, 1 hosts in
    scope, 2 trouble.
    """
    if not run_dirs:
        raise UsageError("give at least one RUN_DIR (a results directory written by `diffy collect`)")
    from diffy_analysis.analyze.scope import scope as run_scope  # noqa: PLC0415 - lazy: numpy/scipy
    from diffy_analysis.report.scope import RENDER  # noqa: PLC0415

    result = run_scope(list(run_dirs), from_hosts=from_hosts, iocs=iocs, config=config_path)
    with report_stream(output) as stream:
        RENDER[fmt](result, stream)
    return result.exit_code
