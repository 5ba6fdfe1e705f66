"""`diffy index RUN_DIR... --es-url URL`: index runs (rows, hosts, manifest) and an analysis."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from diffy_analysis import contract
from diffy_analysis.cli.es_options import (
    describe,
    es_options,
    open_client,
    pop_es_settings,
    raise_if_incomplete,
    store_errors,
)
from diffy_analysis.errors import EXIT_CLEAN, ConfigError, UsageError
from diffy_analysis.findings import Analysis
from diffy_analysis.load import open_results
from diffy_analysis.normalize.rules import Config, load_config
from diffy_analysis.store.bulk import BulkSettings
from diffy_analysis.store.connection import EsSettings
from diffy_analysis.store.indexer import IndexOutcome, index_results
from diffy_analysis.store.mapping import IndexNames


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path, file_okay=False))
@es_options(required=True)
@click.option(
    "--analysis",
    "analysis_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    metavar="FILE",
    help="Also index this saved analysis (diffy-analyze --format json --output FILE) of the runs.",
)
@click.option(
    "--analyze",
    "run_analysis",
    is_flag=True,
    help="Also analyse the runs (peers method, or --baseline) and index the analysis, in one go.",
)
@click.option(
    "--baseline",
    metavar="PATH_OR_NAME",
    help="With --analyze: compare with this baseline (as diffy-analyze --baseline).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    metavar="FILE",
    help="Normalization config (as for diffy-analyze) used for the rows' normalized fingerprints, "
    "which Elasticsearch aggregates for stacking. Use the same file as for the analysis.",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(1, 10_000),
    default=500,
    show_default=True,
    help="Documents per bulk request.",
)
@click.option(
    "--max-retries",
    type=click.IntRange(0, 20),
    default=5,
    show_default=True,
    help="Retries (with exponential backoff) of documents Elasticsearch rejects with 429 or a 5xx.",
)
def index(  # noqa: PLR0917 - click passes options as arguments
    run_dirs: tuple[Path, ...],
    analysis_file: Path | None,
    run_analysis: bool,
    baseline: str | None,
    config_file: Path | None,
    chunk_size: int,
    max_retries: int,
    **params: Any,
) -> int:
    """Index each RUN_DIR into Elasticsearch: every row of every query (one index per query,
    ``<prefix>-rows-<query>-v1``), one document per host (identity, status, skip reason) and one
    per run (manifest summary, skipped and unreachable hosts). With --analyze (analyse now) or
    --analysis FILE (a saved analysis), the analysis too: one document per host result, one per
    finding and one for the analysis.

    Index templates with fixed mappings are created on first use.  Document ids are derived from
    the run, host, query and row, so indexing the same run again creates no duplicates.

    Credentials: DIFFY_ES_API_KEY, or --es-user with DIFFY_ES_PASSWORD, or --es-secret-file.
    TLS certificates are verified unless --es-insecure is given.

    Exit status: 0 when every document was indexed, 2 when anything was not (the counts per index
    and the first reasons are printed) or Elasticsearch cannot be used.
    """
    settings = pop_es_settings(params)
    if settings is None:
        raise UsageError("no Elasticsearch URL: pass --es-url or set DIFFY_ES_URL")
    if run_analysis and analysis_file:
        raise UsageError("give either --analyze or --analysis FILE, not both")
    if baseline and not run_analysis:
        raise UsageError("--baseline is for --analyze")
    analysis = read_analysis(analysis_file) if analysis_file else None
    config = load_config(config_file)
    if run_analysis:
        from diffy_analysis.analyze.pipeline import analyze  # noqa: PLC0415 - numpy/scipy only when asked

        analysis = analyze(list(run_dirs), baseline=baseline, config=config)
    results = open_results(run_dirs)
    bulk = BulkSettings(chunk_size=chunk_size, max_retries=max_retries, refresh=True)
    outcome = index_into(settings, results, analysis=analysis, bulk=bulk, config=config)
    click.echo(describe(outcome, settings), err=True)
    raise_if_incomplete(outcome, settings)
    return EXIT_CLEAN


def index_into(
    settings: EsSettings,
    results: Any,
    *,
    analysis: Analysis | None,
    bulk: BulkSettings,
    config: Config | None = None,
) -> IndexOutcome:
    """Index ``results`` (and ``analysis``) with the client ``settings`` describe."""
    client = open_client(settings)
    names = IndexNames(settings.index_prefix)
    with store_errors(settings, "indexing"):
        return index_results(client, names, results, analysis=analysis, bulk=bulk, config=config)


def read_analysis(path: Path) -> Analysis:
    try:
        doc = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the analysis: {err}") from None
    problems = contract.schema_errors("analysis", doc)
    if problems:
        raise ConfigError(f"{path}: not a diffy-analysis/1 document: " + "; ".join(problems))
    return Analysis.from_json(doc)
