"""`diffy scope RUN... --from HOST --ioc VALUE`: every host touched, iterated until closed.

A thin layer over :func:`diffy_analysis.analyze.scope.scope`; errors are DiffyError subclasses
that cli/main.py turns into messages and exit codes (0: nothing in scope, 1: hosts in scope).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from diffy_analysis.cli.es_options import es_options, open_client, pop_es_settings, store_errors
from diffy_analysis.cli.output import report_stream
from diffy_analysis.errors import UsageError


def _stored_results(params: dict[str, Any], run_dirs: tuple[Path, ...]) -> Any:
    """Runs stored in Elasticsearch (``--es-url`` + ``--run``), read back like run directories."""
    runs = tuple(params.pop("es_runs", ()) or ())
    settings = pop_es_settings(params)
    if settings is None:
        if runs:
            raise UsageError("--run needs --es-url (or DIFFY_ES_URL)")
        return None
    if not runs or run_dirs:
        raise UsageError("with --es-url, give the stored runs with --run RUN_ID (and no RUN_DIR)")
    from diffy_analysis.store.mapping import IndexNames  # noqa: PLC0415 - only with Elasticsearch
    from diffy_analysis.store.readback import EsResults  # noqa: PLC0415

    client = open_client(settings)
    with store_errors(settings, "reading runs back from Elasticsearch"):
        return EsResults(client, IndexNames(settings.index_prefix), runs)


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
@click.option(
    "--run", "es_runs", multiple=True, metavar="RUN_ID", help="A run stored in Elasticsearch (--es-url)."
)
@es_options()
def scope(  # noqa: PLR0917 - click passes options as arguments
    run_dirs: tuple[Path, ...],
    from_hosts: tuple[str, ...],
    iocs: tuple[str, ...],
    fmt: str,
    output: str | None,
    config_path: Path | None,
    **store_params: Any,
) -> int:
    """List every host sharing a known-bad host's rare artifacts or an IOC, widening until closed.

    With --es-url and --run RUN_ID, runs stored in Elasticsearch are read back instead of RUN_DIRs.
    Each host comes with its evidence chain: the round it was found in and the artifact (with the
    host it was first found on) that brought it in. Exit codes: 0 no host in scope, 1 hosts in
    scope, 2 trouble.
    """
    stored = _stored_results(store_params, run_dirs)
    if not run_dirs and stored is None:
        raise UsageError("give at least one RUN_DIR (a results directory written by `diffy collect`)")
    from diffy_analysis.analyze.scope import scope as run_scope  # noqa: PLC0415 - lazy: numpy/scipy
    from diffy_analysis.report.scope import RENDER  # noqa: PLC0415

    result = run_scope(list(run_dirs), from_hosts=from_hosts, iocs=iocs, config=config_path, results=stored)
    with report_stream(output) as stream:
        RENDER[fmt](result, stream)
    return result.exit_code
