"""`diffy-analyze` (also `diffy analyze`): find the hosts that differ, and say why.

A thin layer over :func:`diffy_analysis.api.analyze`: option handling lives in small functions so
other options (e.g. Elasticsearch sources) can be added without touching the rest. Errors are
raised as DiffyError subclasses; ``cli/main.py:run`` turns them into messages and exit codes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO, cast

import click

from diffy_analysis import __version__
from diffy_analysis.cli import progress
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


def _with_since(
    analysis: Any, paths: list[Path], since: str, results_root: Path | None, config: Path | None
) -> Any:
    """--since: add the fleet-wide changes since an earlier run (analyze/since.py)."""
    if len(paths) != 1:
        raise UsageError("--since compares one RUN_DIR with an earlier run of its app")
    from diffy_analysis.analyze.since import with_since  # noqa: PLC0415 - lazy: numpy

    return with_since(analysis, paths[0], since, results_root=results_root, config=config)


def _analyze_with_progress(paths: list[Path], config: Any, settings: dict[str, Any], *, forced: bool) -> Any:
    """The analysis with "loading N of M hosts" on stderr (cli/progress.py): the run is opened
    here, with the load options the analysis would use, and read through a counting source.
    ``forced`` (--progress): drawn even when stderr is not a terminal."""
    from diffy_analysis.api import analyze as run_analysis  # noqa: PLC0415 - lazy: numpy/scipy
    from diffy_analysis.load import HostSource, open_results  # noqa: PLC0415

    with progress.LoadProgress(force=forced) as shown:
        source = progress.CountingSource(open_results(paths, settings["load_options"]), shown.on_host)
        return run_analysis(paths, config=config, results=cast(HostSource, source), **settings)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="diffy-analyze")
@click.argument("run_dirs", nargs=-1, type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--baseline",
    metavar="PATH_OR_NAME",
    help="Compare every host with this clean host: a host directory (RUN/hosts/<id>), a one-host run, "
    "or a baseline saved with `diffy baseline`: NAME (for the run's app or --app) or APP/NAME.",
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
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(0, 64),
    default=1,
    show_default=True,
    help="Processes reading the run's hosts (read, hash, check, mask) while this one parses and "
    "compares them; the same report whatever the number. 1: none (measured on a shared 2-core "
    "machine, 2 readers cut the wall time little for ~40% more CPU: docs/performance.md); "
    "0: up to 2 (the CPUs available) for runs of 500 hosts or more.",
)
@click.option(
    "--progress/--no-progress",
    "progress_shown",
    default=None,
    help='Show the "loading N of M hosts" line on stderr (default: only when stderr is a terminal '
    "and the format is not json).",
)
@click.option(
    "--since",
    metavar="PREVIOUS_RUN|latest",
    help="Also report the rows that appeared or disappeared fleet-wide since an earlier run of the app "
    "(a run directory, or `latest`: the newest earlier run of the app under --results-root, default "
    "the run's parent directory). Fleets are compared, not hosts; exit 1 also when rows appeared.",
)
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
    jobs: int,
    progress_shown: bool | None,
    since: str | None,
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
    usable, documents Elasticsearch did not take) and also whenever a host of the run could not be
    collected or analysed (skipped), whatever was found on the others (the findings are still
    reported).
    """
    if explain_config:
        return _explain_config(config_path, sys.stdout)
    options = {"baseline": baseline, "method": method, "config": config_path, "app": app}
    stored = analyze_with_store(store_params, run_dirs, results_root=results_root, **options)
    if stored is not None:  # Elasticsearch as source or destination: store/analysis.py
        analysis = stored.analysis
        if since:
            analysis = _with_since(analysis, _check_inputs(run_dirs), since, results_root, config_path)
        write_report(analysis, fmt, output, quiet=quiet)
        finish_store(stored)
        return stored.analysis.exit_code
    paths = _check_inputs(run_dirs)
    from diffy_analysis.api import analyze as run_analysis  # noqa: PLC0415 - lazy: numpy/scipy
    from diffy_analysis.load import LoadOptions  # noqa: PLC0415
    from diffy_analysis.normalize.rules import load_config  # noqa: PLC0415

    config = load_config(config_path)
    load_options = LoadOptions(max_file_bytes=config.thresholds.max_file_mb * 1024 * 1024, jobs=jobs)
    settings: dict[str, Any] = {
        "baseline": baseline,
        "method": method,
        "app": app,
        "results_root": results_root,
        "load_options": load_options,
    }
    shown = progress.wanted(fmt, sys.stderr) if progress_shown is None else progress_shown
    if shown:
        result = _analyze_with_progress(paths, config, settings, forced=progress_shown is True)
    else:
        result = run_analysis(paths, config=config, **settings)
    if since:
        result = _with_since(result, paths, since, results_root, config_path)
    write_report(result, fmt, output, quiet=quiet)
    return result.exit_code
