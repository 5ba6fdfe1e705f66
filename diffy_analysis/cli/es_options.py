"""The Elasticsearch connection options shared by `diffy index` and `diffy-analyze`.

Secrets are deliberately not options: they come from ``DIFFY_ES_API_KEY`` / ``DIFFY_ES_PASSWORD``
or from ``--es-secret-file``, so they never appear in shell history or ``ps``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from diffy_analysis.errors import StoreError, UsageError
from diffy_analysis.store.connection import (
    ENV_API_KEY,
    ENV_PASSWORD,
    ENV_URL,
    ENV_USER,
    EsSettings,
    build_client,
    settings_from_options,
    translate_errors,
)
from diffy_analysis.store.mapping import IndexNames, check_prefix

if TYPE_CHECKING:
    from diffy_analysis.store.indexer import IndexOutcome

store_errors = translate_errors  # the name the CLI modules use

F = TypeVar("F", bound=Callable[..., Any])

NODE_CLASS: type | None = None
"""Transport node class for the client (None: the client's default).  A seam for tests against an
emulator that rejects Elasticsearch's compatibility media types; real clusters need nothing here."""

ES_PARAMS = (
    "es_url",
    "es_user",
    "es_secret_file",
    "es_ca_certs",
    "es_ssl_fingerprint",
    "es_insecure",
    "es_index_prefix",
    "es_timeout",
)


def es_options(*, required: bool = False) -> Callable[[F], F]:
    """Click decorator adding the ``--es-*`` options (``required``: the URL must be given)."""

    def decorate(func: F) -> F:
        options = [
            click.option(
                "--es-url",
                envvar=ENV_URL,
                required=required,
                metavar="URL",
                help=f"Elasticsearch URL, e.g. https://es.example:9200 (env {ENV_URL}). "
                "Credentials never go in the URL.",
            ),
            click.option(
                "--es-user",
                envvar=ENV_USER,
                metavar="NAME",
                help=f"User for basic auth (env {ENV_USER}); the password comes from {ENV_PASSWORD} "
                "or --es-secret-file. Without a user, an API key from "
                f"{ENV_API_KEY} or the secret file is used, if any.",
            ),
            click.option(
                "--es-secret-file",
                type=click.Path(path_type=Path, dir_okay=False, exists=True),
                metavar="FILE",
                help="File holding the secret: 'api_key=...' and/or 'password=...' lines, or the bare "
                "secret alone (a password with --es-user, else an API key). Keep it chmod 600.",
            ),
            click.option(
                "--es-ca-certs",
                type=click.Path(path_type=Path, dir_okay=False),
                metavar="PEM",
                help="CA bundle to verify the cluster's TLS certificate with.",
            ),
            click.option(
                "--es-ssl-fingerprint",
                metavar="SHA256",
                help="Pin the cluster's certificate by its SHA-256 fingerprint (hex, colons allowed).",
            ),
            click.option(
                "--es-insecure",
                is_flag=True,
                help="Disable TLS certificate verification (prints a warning; never for real evidence).",
            ),
            click.option(
                "--es-index-prefix",
                default="diffy",
                show_default=True,
                envvar="DIFFY_ES_INDEX_PREFIX",
                metavar="PREFIX",
                help="Prefix of every Diffy index and template (e.g. one prefix per team or tenant).",
            ),
            click.option(
                "--es-timeout",
                type=click.FloatRange(min=1),
                default=30.0,
                show_default=True,
                metavar="SECONDS",
                help="Timeout of each request to Elasticsearch.",
            ),
        ]
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def pop_es_settings(params: dict[str, Any]) -> EsSettings | None:
    """Remove the ``es_*`` parameters from ``params``; settings when a URL was given, else None."""
    values = {name: params.pop(name, None) for name in ES_PARAMS}
    if not values["es_url"]:
        return None
    return settings_from_options(
        url=values["es_url"],
        username=values["es_user"],
        secret_file=values["es_secret_file"],
        ca_certs=values["es_ca_certs"],
        ssl_fingerprint=values["es_ssl_fingerprint"],
        insecure=bool(values["es_insecure"]),
        request_timeout=float(values["es_timeout"] or 30.0),
        index_prefix=check_prefix(values["es_index_prefix"] or "diffy"),
    )


def open_client(settings: EsSettings) -> Any:
    return build_client(settings, node_class=NODE_CLASS)


# --------------------------------------------------------------------------------------------------
# diffy-analyze: Elasticsearch as a source (--run / --latest) or as a destination (RUN_DIR + --es-url)


def analyze_store_options(func: F) -> F:
    """The ``--es-*`` options plus ``--run``, ``--latest`` and ``--es-prevalence`` for diffy-analyze."""
    options = [
        click.option(
            "--run",
            "es_runs",
            multiple=True,
            metavar="RUN_ID",
            help="Analyse this run as stored in Elasticsearch (--es-url) instead of a RUN_DIR. Repeatable.",
        ),
        click.option(
            "--latest",
            "es_latest",
            is_flag=True,
            help="With --es-url and --app: analyse the app's most recent run stored in Elasticsearch.",
        ),
        click.option(
            "--es-prevalence",
            type=click.Choice(["none", "runs", "app"]),
            default="none",
            show_default=True,
            help="Peers method: count how many hosts have each row with Elasticsearch aggregations. "
            "runs: over the analysed stored runs; app: over every stored run of the app (distinct "
            "hosts), so findings say 'on 3 of 12,000 hosts'. See docs/elasticsearch.md.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return es_options()(func)


def analyze_with_store(params: dict[str, Any], run_dirs: Sequence[Path], **analyze_options: Any) -> Any:
    """Run diffy-analyze's analysis through the store when ``--es-url`` (or DIFFY_ES_URL) is set.

    Returns None when Elasticsearch is not involved (the caller analyses RUN_DIRs as usual), else a
    ``store.analysis.StoreAnalysis``; call :func:`finish_store` after rendering it.
    """
    runs = tuple(params.pop("es_runs", ()) or ())
    latest = bool(params.pop("es_latest", False))
    # click.Choice limits it to none | runs | app (the PrevalenceScope literals)
    prevalence: Any = params.pop("es_prevalence", "none") or "none"
    settings = pop_es_settings(params)
    if settings is None:
        if runs or latest or prevalence != "none":
            raise UsageError("--run, --latest and --es-prevalence need --es-url (or DIFFY_ES_URL)")
        return None
    if (runs or latest) and run_dirs:
        raise UsageError("give RUN_DIRs or --run/--latest, not both")
    # Heavy (numpy, scipy, the client): imported only when Elasticsearch is used.
    from diffy_analysis.store.analysis import analyze_and_index, analyze_stored, resolve_run_ids  # noqa: PLC0415
    from diffy_analysis.store.bulk import BulkSettings  # noqa: PLC0415

    names = IndexNames(settings.index_prefix)
    client = open_client(settings)
    with store_errors(settings, "analysing with Elasticsearch"):
        if not run_dirs:
            run_ids = resolve_run_ids(client, names, runs, latest=latest, app=analyze_options.get("app"))
            result = analyze_stored(client, names, run_ids, prevalence=prevalence, **analyze_options)
        else:
            bulk = BulkSettings(refresh=True)
            result = analyze_and_index(
                client, names, list(run_dirs), prevalence=prevalence, bulk=bulk, **analyze_options
            )
    result.settings = settings
    return result


def finish_store(result: Any) -> None:
    """After the report: say what was indexed, and fail (exit 2) when documents were lost."""
    if result is None or result.indexed is None:
        return
    click.echo(describe(result.indexed, result.settings), err=True)
    raise_if_incomplete(result.indexed, result.settings)


def describe(outcome: IndexOutcome, settings: EsSettings) -> str:
    runs = ", ".join(outcome.run_ids) or "(no run id)"
    lines = [
        f"indexed run {runs} into {settings.display_url} (prefix {settings.index_prefix}): "
        f"{outcome.hosts_indexed} host(s), {outcome.rows} row(s), {outcome.hosts_skipped} skipped host(s); "
        + outcome.report.summary()
    ]
    if outcome.analysis_id:
        lines.append(
            f"analysis {outcome.analysis_id} indexed ({outcome.stale_deleted} stale document(s) removed)"
        )
    for index, columns in sorted(outcome.unmapped_columns.items()):
        shown = ", ".join(repr(c) for c in columns[:5]) + (" ..." if len(columns) > 5 else "")
        lines.append(f"note: {index}: column(s) stored and read back, not searchable by field: {shown}")
    return "\n".join(settings.redact(line) for line in lines)


def raise_if_incomplete(outcome: IndexOutcome, settings: EsSettings) -> None:
    report = outcome.report
    if report.ok:
        return
    reasons = "; ".join(report.reasons[:3])
    raise StoreError(
        settings.redact(
            f"{report.total_failed} document(s) were NOT indexed"
            + (f" (first reasons: {reasons})" if reasons else "")
        )
    )
