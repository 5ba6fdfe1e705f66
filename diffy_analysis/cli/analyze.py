"""`diffy-analyze` (also `diffy analyze`): find the hosts that differ, and say why.

A thin layer over :func:`diffy_analysis.api.analyze`: option handling lives in small functions so
other options (e.g. Elasticsearch sources) can be added without touching the rest. Errors are
raised as DiffyError subclasses; ``cli/main.py:run`` turns them into messages and exit codes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

import click

from diffy_analysis import __version__
from diffy_analysis.cli.es_options import analyze_store_options, analyze_with_store, finish_store
from diffy_analysis.cli.output import report_output_options, write_report
from diffy_analysis.errors import UsageError


def _explain_config(config_path: Path | None, stream: TextIO) -> int:
    from diffy_analysis.normalize.rules import load_config  # noqa: PLC0415 - lazy, keeps --help fast

    stream.write(load_config(config_path).explain() + "\n")
    return 0


def _check_inputs(run_dirs: tuple[Path, ...]) -> list[Path]:
    if not run_dirs:
        raise UsageError("give at least one RUN_DIR (a results directory written by `diffy collect`)")
    return list(run_dirs)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="diffy-analyze")
@click.argument("run_dirs", nargs=-1, type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--baseline",
    metavar="PATH_OR_NAME",
    help="Compare every host with this clean host: a host directory (RUN/hosts/<id>), a one-host run, "
    "or the name of a baseline saved for the app (see `diffy baseline`).",
)
@click.option(
    "--method",
    type=click.Choice(["auto", "peers", "baseline"]),
    default="auto",
    show_default=True,
    help="peers: cluster hosts and flag those that stand out from their population; baseline: diff "
    "against --baseline; auto: baseline when --baseline is given, else peers.",
)
@report_output_options
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Analysis config file (TOML or YAML): per-query keys, ignored columns, masking, thresholds. "
    "See docs/configuration.md.",
)
@click.option(
    "--explain-config",
    is_flag=True,
    help="Print the effective normalization rules and thresholds (defaults + --config) and exit.",
)
@click.option(
    "--app", help="The app whose named baselines --baseline NAME refers to (default: the run's app)."
)
@click.option(
    "--results-root",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where named baselines live (<results-root>/baselines/<app>/<name>); default ./diffy-results.",
)
@click.option("--quiet", "-q", is_flag=True, help="Table format: only the verdict and outlier hosts.")
@analyze_store_options
def analyze(  # noqa: PLR0917 - click passes options as arguments
    run_dirs: tuple[Path, ...],
    baseline: str | None,
    method: str,
    fmt: str,
    output: str | None,
    config_path: Path | None,
    explain_config: bool,
    app: str | None,
    results_root: Path | None,
    quiet: bool,
    **store_params: Any,
) -> int:
    """Find the hosts of RUN_DIR(s) that differ from a baseline or stand out from their peers.

    RUN_DIR is a results directory written by `diffy collect` (manifest.json + hosts/). Several
    runs are analysed together. Hosts that could not be collected or read are listed as skipped,
    with the reason.

    With --es-url (or DIFFY_ES_URL), RUN_DIRs are also indexed into Elasticsearch with the
    analysis (as `diffy index` does); with --es-url and --run RUN_ID (or --app APP --latest), a run
    stored in Elasticsearch is analysed instead of a directory, with the same result.

    Exit codes: 0 nothing found, 1 differences or outliers found, 2 trouble (bad input, nothing
    usable, documents Elasticsearch did not take).
    """
    if explain_config:
        return _explain_config(config_path, sys.stdout)
    options = {"baseline": baseline, "method": method, "config": config_path, "app": app}
    stored = analyze_with_store(store_params, run_dirs, results_root=results_root, **options)
    if stored is not None:  # Elasticsearch as source or destination: store/analysis.py
        write_report(stored.analysis, fmt, output, quiet=quiet)
        finish_store(stored)
        return stored.analysis.exit_code
    paths = _check_inputs(run_dirs)
    from diffy_analysis.api import analyze as run_analysis  # noqa: PLC0415 - lazy: numpy/scipy

    result = run_analysis(
        paths, baseline=baseline, method=method, config=config_path, app=app, results_root=results_root
    )
    write_report(result, fmt, output, quiet=quiet)
    return result.exit_code
