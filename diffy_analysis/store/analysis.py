"""The analysis with Elasticsearch as the store: analyse a stored run, or analyse and index one.

* :func:`analyze_stored`: runs read back from Elasticsearch (``store.readback.EsResults``) go through
  the same pipeline as a results directory, so the result is the same.
* :func:`analyze_and_index`: a results directory is analysed as usual, then its rows, hosts, run
  document and the analysis are indexed.
* Prevalence (stacking) from the cluster is opt-in (``prevalence`` = ``runs`` or ``app``): the peers
  method then reports how many hosts of the whole stored fleet have a row (see docs/elasticsearch.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from diffy_analysis.analyze.peers import MappingPrevalence
from diffy_analysis.analyze.pipeline import analyze, analyze_fleet
from diffy_analysis.errors import UsageError
from diffy_analysis.findings import Analysis
from diffy_analysis.load import open_results
from diffy_analysis.normalize.rules import Config, load_config
from diffy_analysis.store.bulk import BulkSettings
from diffy_analysis.store.fingerprints import NormalizedFingerprints
from diffy_analysis.store.indexer import IndexOutcome, index_results
from diffy_analysis.store.mapping import IndexNames
from diffy_analysis.store.readback import EsResults, latest_run_id
from diffy_analysis.store.stacking import StackScope, es_prevalence

PrevalenceScope = Literal["none", "runs", "app"]


@dataclass
class StoreAnalysis:
    analysis: Analysis
    indexed: IndexOutcome | None = None
    run_ids: tuple[str, ...] = ()
    settings: Any = None
    """The connection settings used (for messages; set by the CLI)."""


def resolve_run_ids(
    client: Any, names: IndexNames, run_ids: Sequence[str], *, latest: bool, app: str | None
) -> list[str]:
    """The run ids to read: given ones, or the latest run of ``app``."""
    if latest:
        if run_ids:
            raise UsageError("give either --run RUN_ID or --latest, not both")
        if not app:
            raise UsageError("--latest needs --app APP (the app whose latest stored run to analyse)")
        return [latest_run_id(client, names, app)]
    if not run_ids:
        raise UsageError("give --run RUN_ID (or --app APP --latest) to analyse a run stored in Elasticsearch")
    return list(run_ids)


def stored_prevalence(
    client: Any, names: IndexNames, scope: PrevalenceScope, *, run_ids: Sequence[str], app: str | None
) -> MappingPrevalence | None:
    """Row prevalence counted by the cluster, or None for ``scope == "none"``.

    ``runs``: over the given runs (a host in two runs counts twice); ``app``: over every stored run
    of the app, distinct hosts (cardinality).
    """
    if scope == "none":
        return None
    if scope == "runs":
        return es_prevalence(client, names, StackScope(run_ids=tuple(run_ids)))
    if not app:
        raise UsageError("--es-prevalence app needs the app (--app, or a run whose manifest names it)")
    return es_prevalence(client, names, StackScope(app=app), counting="cardinality")


def analyze_stored(
    client: Any,
    names: IndexNames,
    run_ids: Sequence[str],
    *,
    prevalence: PrevalenceScope = "none",
    **options: Any,
) -> StoreAnalysis:
    """Analyse runs stored in Elasticsearch; ``options`` as for ``analyze_pipeline.analyze``."""
    results = EsResults(client, names, run_ids)
    external = stored_prevalence(
        client, names, prevalence, run_ids=run_ids, app=options.get("app") or results.app
    )
    analysis = analyze((), results=results, prevalence=external, **options)
    return StoreAnalysis(analysis=analysis, run_ids=tuple(results.run_ids))


def analyze_and_index(
    client: Any,
    names: IndexNames,
    run_dirs: Sequence[Path | str],
    *,
    config: Config | Path | str | None = None,
    prevalence: PrevalenceScope = "none",
    bulk: BulkSettings | None = None,
    **options: Any,
) -> StoreAnalysis:
    """Analyse results directories, then index their rows, hosts, runs and the analysis.

    With ``prevalence``, the counts come from what the cluster held *before* this run was indexed
    (plus this run's own hosts, which the peers method always counts).  The rows are indexed with
    the fingerprints of the analysis's own fleet index: two passes over the run, not three."""
    config = config if isinstance(config, Config) else load_config(config)
    results = open_results(run_dirs)
    run_ids = list(results.run_ids)
    external = stored_prevalence(
        client, names, prevalence, run_ids=run_ids, app=options.get("app") or results.app
    )
    analysis, fleet = analyze_fleet(list(run_dirs), config=config, prevalence=external, **options)
    fingerprints = NormalizedFingerprints(fleet.index)
    outcome = index_results(client, names, results, fingerprints=fingerprints, analysis=analysis, bulk=bulk)
    return StoreAnalysis(analysis=analysis, indexed=outcome, run_ids=tuple(run_ids))
