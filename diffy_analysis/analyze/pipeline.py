"""The analysis pipeline behind `diffy_analysis.api.analyze`: load -> normalize -> analyze -> Analysis.

``analyze(run_dirs, baseline=None, method="auto", config=None)`` reads results directories,
normalizes every host, and returns an :class:`~diffy_analysis.findings.Analysis`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from diffy_analysis.analyze.baseline import analyze_baseline
from diffy_analysis.analyze.campaigns import find_campaigns
from diffy_analysis.analyze.candidates import Candidate
from diffy_analysis.analyze.confidence import confidence
from diffy_analysis.analyze.entries import SECURITY_SIGNIFICANCE, EntryModel
from diffy_analysis.analyze.evidence import EVIDENCE_HOST_LIMIT, build_findings, raw_rows, top_candidates
from diffy_analysis.analyze.explain import Context
from diffy_analysis.analyze.explain import facts as explain_facts
from diffy_analysis.analyze.flood import Flood, find_floods
from diffy_analysis.analyze.peers import PrevalenceSource, analyze_peers
from diffy_analysis.analyze.scoring import score
from diffy_analysis.analyze.verdict import judge_fleet
from diffy_analysis.baselines import resolve_baseline
from diffy_analysis.errors import BaselineError, UsageError
from diffy_analysis.finding_facts import Facts, Method, sentence
from diffy_analysis.findings import (
    Analysis,
    Campaign,
    Cluster,
    Dendrogram,
    Finding,
    HostResult,
    PopulationDifference,
    QueryGap,
    SkippedHost,
    population_sentence,
)
from diffy_analysis.load import HostSource, LoadOptions, open_results
from diffy_analysis.normalize.build import Fleet, build_fleet
from diffy_analysis.normalize.index import FleetIndex, HostEntry
from diffy_analysis.normalize.rules import Config, load_config

METHODS = ("auto", "peers", "baseline")


# -- baselines (resolved by diffy_analysis.baselines: one name rule) -------------------------------


def _baseline_host(path: Path, options: LoadOptions) -> tuple[Any, str]:
    results = open_results([path], options)
    hosts = list(results.iter_hosts())
    if len(hosts) != 1:
        reasons = "; ".join(f"{s.host}: {s.reason}" for s in results.skipped[:3])
        detail = f" ({reasons})" if reasons and not hosts else ""
        raise BaselineError(
            f"baseline {path} has {len(hosts)} usable hosts{detail}; "
            "give one host's directory, e.g. RUN/hosts/<host_id>"
        )
    return hosts[0], hosts[0].label


# -- the analysis ---------------------------------------------------------------------------------


def _pack_info(results: HostSource) -> dict[str, Any]:
    run = next((r for r in results.runs if not r.bare), None)
    info: dict[str, Any] = dict(run.pack) if run else {}
    if run is None:
        return info
    pack = results.pack_copy(run)
    if isinstance(pack, dict) and isinstance(pack.get("queries"), dict):
        info["queries"] = {
            str(name): {k: q[k] for k in ("description", "value") if isinstance(q.get(k), str)}
            for name, q in pack["queries"].items()
            if isinstance(q, dict)
        }
    return info


def _gaps(entry: HostEntry, all_queries: set[str], host_queries: set[str]) -> tuple[QueryGap, ...]:
    gaps = [QueryGap(q, status, error) for q, status, error in entry.gaps]
    gaps.extend(QueryGap(q, "missing", "not run on this host") for q in sorted(all_queries - host_queries))
    return tuple(sorted(gaps, key=lambda g: g.query))


def _population_differences(
    index: FleetIndex, population: list[tuple[Candidate, int]], n_hosts: int
) -> tuple[PopulationDifference, ...]:
    out = []
    for cand, count in population:
        query = index.query_of(cand.fid)
        row = index.row(cand.fid)
        reference = index.row(cand.ref_fid) if cand.ref_fid is not None else None
        columns = tuple(
            c for c in sorted(set(row) | set(reference or {})) if reference and row.get(c) != reference.get(c)
        )
        ctx = Context(
            "baseline", weak=cand.strength == "weak", varying_column=cand.varying_column, reason=cand.reason
        )
        found = explain_facts(
            query,
            cand.kind,
            row,
            ctx,
            reference_row=reference,
            changed_columns=columns,
            keys=index.rule(query).keys,
            significance=index.significance(cand.fid),
        )
        out.append(
            PopulationDifference(
                query=query,
                kind=cand.kind,  # type: ignore[arg-type]
                row=row,
                explanation=population_sentence(cand.kind, found, count, n_hosts),
                hosts=count,
                hosts_compared=n_hosts,
                changed_columns=columns,
                reference_row=reference,
                facts=found,
            )
        )
    return tuple(out)


def _host_results(
    index: FleetIndex,
    candidates: list[list[Candidate]],
    clusters: list[int | None],
    method: str,
    source: HostSource,
    *,
    model: EntryModel,
) -> tuple[tuple[HostResult, ...], tuple[Campaign, ...]]:
    t = index.config.thresholds
    scores = np.asarray([score(c, t) for c in candidates], dtype=np.float64)
    verdicts = judge_fleet(index, model, candidates)
    floods = find_floods(index)
    # a flood of a security table, or a listing cut at its cap, flags its host whatever else it holds
    outlier = np.asarray(
        [
            v.outlier or any(f.capped or model_security(index, f.query) for f in fl)
            for v, fl in zip(verdicts, floods, strict=True)
        ],
        dtype=bool,
    )
    # Raw evidence for the hosts that matter most: outliers, then other hosts with strong findings.
    strong = [any(c.strength == "strong" for c in found) for found in candidates]
    order = sorted(range(len(index.hosts)), key=lambda i: (not outlier[i], -scores[i], index.hosts[i].label))
    evidence_for = {i for i in order[:EVIDENCE_HOST_LIMIT] if outlier[i] or strong[i]}
    all_queries = set(index.queries_seen)
    results = []
    for i, entry in enumerate(index.hosts):
        chosen = top_candidates(index, candidates[i], t.max_findings)
        raw = None
        if i in evidence_for:
            raw = raw_rows(index, entry, {c.fid for c in chosen if c.kind != "missing"}, source)
        host_queries = {g[0] for g in entry.gaps} | set(entry.collected)
        results.append(
            HostResult(
                host=entry.label,
                host_id=entry.ref.host_id,
                run_id=entry.run_id,
                score=round(float(scores[i]), 6),
                outlier=bool(outlier[i]),
                cluster=clusters[i],
                findings=_with_floods(
                    build_findings(index, chosen, method=method, raw=raw), floods[i], index, method
                ),
                gaps=_gaps(entry, all_queries, host_queries),
                identity=entry.identity.as_dict(),
                notes=tuple(entry.notes),
            )
        )
    campaigns = find_campaigns(index, [v.decisive for v in verdicts], [h.label for h in index.hosts], method)
    # flagged hosts first (a verdict, not a rank), then by score
    results.sort(key=lambda h: (not h.outlier, -h.score, h.host, h.run_id or "", h.host_id))
    return tuple(results), campaigns


def model_security(index: FleetIndex, query: str) -> bool:
    return index.rule(query).significance >= SECURITY_SIGNIFICANCE


def _with_floods(
    findings: tuple[Finding, ...], floods: list[Flood], index: FleetIndex, method: str
) -> tuple[Finding, ...]:
    """The host's flood findings, right after its heaviest finding (never pushing it down)."""
    if not floods:
        return findings
    compared_with: Method = "baseline" if method == "baseline" else "peers"
    extra = tuple(
        _flood_finding(f, round(index.rule(f.query).significance, 6), compared_with) for f in floods
    )
    return findings[:1] + extra + findings[1:]


def _flood_finding(flood: Flood, significance: float, compared_with: Method) -> Finding:
    # The sentence is made from the facts, as every finding's is (finding_facts.sentence), so the
    # reporters render a flood like any other finding.
    facts = Facts(
        subject_column=None,
        subject=None,
        statement=flood.explanation(),
        compared_with=compared_with,
        significance=significance,
    )
    return Finding(
        query=flood.query,
        kind="added",
        row={
            "rows": str(flood.rows),
            "usual_rows": str(flood.usual),
            "capped": "yes" if flood.capped else "no",
        },
        explanation=sentence("added", facts),
        weight=significance,
        strength="strong",
        facts=facts,
    )


def analyze(
    run_dirs: Sequence[Path | str] | Path | str,
    *,
    baseline: Path | str | None = None,
    method: str = "auto",
    config: Config | Path | str | None = None,
    prevalence: PrevalenceSource | None = None,
    app: str | None = None,
    results_root: Path | str | None = None,
    load_options: LoadOptions | None = None,
    results: HostSource | None = None,
) -> Analysis:
    """Analyse results directories and return the Analysis (see :func:`analyze_fleet`)."""
    return analyze_fleet(
        run_dirs,
        baseline=baseline,
        method=method,
        config=config,
        prevalence=prevalence,
        app=app,
        results_root=results_root,
        load_options=load_options,
        results=results,
    )[0]


def analyze_fleet(
    run_dirs: Sequence[Path | str] | Path | str,
    *,
    baseline: Path | str | None = None,
    method: str = "auto",
    config: Config | Path | str | None = None,
    prevalence: PrevalenceSource | None = None,
    app: str | None = None,
    results_root: Path | str | None = None,
    load_options: LoadOptions | None = None,
    results: HostSource | None = None,
) -> tuple[Analysis, Fleet]:
    """Analyse results directories; return the Analysis and the fleet index it was computed on
    (the store indexes that index's fingerprints, store/analysis.py).

    run_dirs: one or more run directories (``diffy-results/1``), or bare host directories.
    baseline: a host directory, a one-host run directory, or the name of a baseline saved for the
        app (``<results_root>/baselines/<app>/<name>``). ``method="auto"`` uses it when given.
    method: ``auto`` | ``peers`` | ``baseline``.
    config: a :class:`Config`, or the path of a config file (docs/configuration.md).
    prevalence: external row counts for the peers method (see analyze/peers.PrevalenceSource).
    results: a ``HostSource`` opened elsewhere (e.g. a run read back from Elasticsearch,
        ``store.readback.EsResults``); ``run_dirs`` is then ignored.
    Raises a DiffyError subclass (ResultsError when nothing usable is left, exit code 2).
    """
    if method not in METHODS:
        raise UsageError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "baseline" and baseline is None:
        raise UsageError("the baseline method needs a baseline (--baseline PATH_OR_NAME)")
    if method == "peers" and baseline is not None:
        raise UsageError("--baseline given with --method peers; drop one of them")
    chosen = "baseline" if baseline is not None else "peers"
    if not isinstance(config, Config):
        config = load_config(config)
    options = load_options or LoadOptions(max_file_bytes=config.thresholds.max_file_mb * 1024 * 1024)
    paths = [run_dirs] if isinstance(run_dirs, str | Path) else list(run_dirs)
    results = results if results is not None else open_results(paths, options)
    base_host = None
    baseline_label = None
    if chosen == "baseline":
        base_path = resolve_baseline(baseline, app=app or results.app, results_root=results_root)  # type: ignore[arg-type]
        base_host, base_name = _baseline_host(base_path, options)
        baseline_label = str(baseline) if not Path(str(baseline)).exists() else f"{base_name} ({base_path})"
    fleet = build_fleet(results, config, reference=base_host)
    index, reference = fleet.index, fleet.reference
    if not index.hosts:
        raise results.nothing_usable()

    settings: dict[str, Any] = {"thresholds": asdict(config.thresholds), "identity_masking": config.mask}
    population: tuple[PopulationDifference, ...] = ()
    clusters_out: tuple[Cluster, ...] = ()
    dendrogram = None
    model = EntryModel(index)
    if chosen == "peers":
        outcome = analyze_peers(index, prevalence, model)
        candidates = outcome.candidates
        host_clusters: list[int | None] = list(outcome.host_cluster)
        settings.update(outcome.settings)
    else:
        assert reference is not None
        b = analyze_baseline(index, reference, model)
        candidates = b.candidates
        host_clusters = [None] * len(index.hosts)
        population = _population_differences(index, b.population, len(index.hosts))
        settings.update(b.settings)
    hosts, campaigns = _host_results(index, candidates, host_clusters, chosen, results, model=model)
    settings["verdict"] = "entry model (docs/analysis.md): a decisive finding flags its host"
    settings["auto_ignored_columns"] = {q: list(c) for q, c in sorted(index.auto_ignored.items())}
    settings["distinct_profiles"] = len(index.profiles)
    if chosen == "peers":
        clusters_out, dendrogram = _clusters(outcome, hosts)
    analysis = Analysis(
        method=chosen,  # type: ignore[arg-type]
        run_ids=results.run_ids,
        hosts=hosts,
        clusters=clusters_out,
        skipped=tuple(
            SkippedHost(host=s.host, reason=s.reason, status=s.status, run_id=s.run_id)
            for s in results.skipped
        ),
        baseline=baseline_label,
        app=app or results.app,
        dendrogram=dendrogram,
        pack=_pack_info(results),
        settings=settings,
        population_differences=population,
        campaigns=campaigns,
        confidence=confidence(
            len(hosts), chosen, populations=len(outcome.clustering.populations) if chosen == "peers" else None
        ),
    )
    return analysis, fleet


def _clusters(outcome: Any, hosts: Iterable[HostResult]) -> tuple[tuple[Cluster, ...], Dendrogram | None]:
    c = outcome.clustering
    members: dict[int, list[HostResult]] = {k: [] for k in c.sizes}
    for h in hosts:
        if h.cluster is not None:
            members[h.cluster].append(h)
    clusters = tuple(
        Cluster(
            id=k,
            size=c.sizes[k],
            hosts=tuple(sorted(h.host for h in members[k])),
            outlier=k not in c.populations and bool(members[k]) and all(h.outlier for h in members[k]),
        )
        for k in sorted(c.sizes)
    )
    dendrogram = None
    if c.linkage is not None:
        dendrogram = Dendrogram(
            linkage=tuple((float(a), float(b), float(d), float(n)) for a, b, d, n in c.linkage.tolist()),
            labels=tuple(c.leaf_labels),
            cut_distance=round(float(c.cut_distance), 6),
        )
    return clusters, dendrogram
