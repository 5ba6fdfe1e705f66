"""The Elasticsearch connection options shared by `diffy index` and `diffy-analyze`.

Secrets are deliberately not options: they come from ``DIFFY_ES_API_KEY`` / ``DIFFY_ES_PASSWORD``
or from ``--es-secret-file``, so they never appear in shell history or ``ps``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

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
from diffy_analysis.store.mapping import check_prefix

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
