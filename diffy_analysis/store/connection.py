"""How Diffy connects to Elasticsearch: URL, credentials, TLS, and keeping secrets out of output.

Secrets come only from the environment (``DIFFY_ES_API_KEY``, ``DIFFY_ES_PASSWORD``) or from a secret
file, never from a command-line option (they would land in shell history and ``ps``).  Every message
that leaves this package passes through :meth:`EsSettings.redact`, so a secret can never be echoed
in an error, even when Elasticsearch or the transport quotes it back.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import stat
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from diffy_analysis.errors import ConfigError, StoreError, UsageError

ENV_URL = "DIFFY_ES_URL"
ENV_API_KEY = "DIFFY_ES_API_KEY"
ENV_USER = "DIFFY_ES_USER"
ENV_PASSWORD = "DIFFY_ES_PASSWORD"

REDACTED = "[REDACTED]"
_SECRET_LINE = re.compile(r"^\s*(api_key|password|DIFFY_ES_API_KEY|DIFFY_ES_PASSWORD)\s*=\s*(.*?)\s*$")
_MAX_SECRET_FILE = 64 * 1024
_FINGERPRINT = re.compile(r"^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$")


@dataclass(frozen=True)
class EsSettings:
    """Everything needed to build a client. ``repr`` never shows the secrets."""

    url: str
    api_key: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_certs: str | None = None
    ssl_fingerprint: str | None = None
    verify_certs: bool = True
    request_timeout: float = 30.0
    index_prefix: str = "diffy"

    def secrets(self) -> tuple[str, ...]:
        """Every form a secret can take on the wire: as given, the ``Basic`` header's base64 of
        ``user:password``, and the ``id:key`` inside an encoded API key."""
        found = [s for s in (self.api_key, self.password) if s]
        if self.username and self.password:
            found.append(base64.b64encode(f"{self.username}:{self.password}".encode()).decode())
        if self.api_key:
            try:
                decoded = base64.b64decode(self.api_key, validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                decoded = ""
            if ":" in decoded:
                found.extend([decoded, decoded.split(":", 1)[1]])
        return tuple(s for s in found if len(s) >= 4)

    def redact(self, text: str) -> str:
        """``text`` with every secret (and any credentials embedded in a URL) replaced."""
        for secret in sorted(self.secrets(), key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return re.sub(r"(https?://)[^/@\s]+@", r"\1" + REDACTED + "@", text)

    @property
    def display_url(self) -> str:
        """The URL as shown to users: scheme, host and port only."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path.rstrip('/')}"


def read_secret_file(path: Path) -> dict[str, str]:
    """Secrets from a file: lines ``api_key=...`` / ``password=...``, or the bare secret alone.

    A bare secret is returned under the key ``secret``; the caller decides (by whether a user name
    was given) whether it is a password or an API key.  The file's content never appears in errors.
    """
    try:
        info = path.stat()
        if info.st_size > _MAX_SECRET_FILE:
            raise ConfigError(f"secret file {path} is larger than {_MAX_SECRET_FILE} bytes")
        text = path.read_text("utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read secret file {path}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"secret file {path} is not UTF-8 text") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.warn(
            f"secret file {path} is readable by group or others; chmod 600 it", UserWarning, stacklevel=2
        )
    found: dict[str, str] = {}
    other_lines = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _SECRET_LINE.match(line)
        if match:
            name = "api_key" if "API_KEY" in match.group(1).upper() else "password"
            found[name] = match.group(2)
        else:
            other_lines.append(line.strip())
    if found:
        if other_lines:
            raise ConfigError(f"secret file {path}: lines must be api_key=... or password=...")
        return found
    if len(other_lines) != 1:
        raise ConfigError(f"secret file {path} must hold one secret, or api_key=/password= lines")
    return {"secret": other_lines[0]}


def settings_from_options(
    *,
    url: str | None,
    username: str | None = None,
    secret_file: Path | None = None,
    ca_certs: Path | None = None,
    ssl_fingerprint: str | None = None,
    insecure: bool = False,
    request_timeout: float = 30.0,
    index_prefix: str = "diffy",
    environ: dict[str, str] | None = None,
    warn: Callable[[str], None] | None = None,
) -> EsSettings:
    """Validate connection options (CLI or API) and gather secrets from env or a secret file."""
    env = os.environ if environ is None else environ
    url = url or env.get(ENV_URL)
    if not url:
        raise UsageError(f"no Elasticsearch URL: pass --es-url or set {ENV_URL}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError("the Elasticsearch URL must look like https://host:9200")
    if parts.username is not None or parts.password is not None:
        # Never echo the URL here: it holds the credentials.
        raise UsageError(
            f"do not put credentials in the Elasticsearch URL; use {ENV_API_KEY}, "
            f"{ENV_USER}/{ENV_PASSWORD} or --es-secret-file"
        )
    username = username or env.get(ENV_USER) or None
    api_key = env.get(ENV_API_KEY) or None
    password = env.get(ENV_PASSWORD) or None
    if secret_file is not None:
        from_file = read_secret_file(secret_file)
        bare = from_file.get("secret")
        api_key = from_file.get("api_key") or (bare if bare and not username else None) or api_key
        password = from_file.get("password") or (bare if bare and username else None) or password
    if password and not username:
        raise UsageError(f"a password was given but no user name (--es-user or {ENV_USER})")
    if username and not password:
        raise UsageError(f"--es-user needs a password in {ENV_PASSWORD} or --es-secret-file")
    if api_key and username:
        raise UsageError("give either an API key or a user and password, not both")
    if ssl_fingerprint and not _FINGERPRINT.match(ssl_fingerprint):
        raise UsageError("--es-ssl-fingerprint must be a SHA-256 fingerprint (64 hex digits)")
    if ca_certs is not None and not ca_certs.is_file():
        raise UsageError(f"CA bundle {ca_certs} does not exist")
    if insecure:
        (warn or _warn)(
            "TLS certificate verification is DISABLED for Elasticsearch (--es-insecure): "
            "anyone on the path can read and alter what is stored"
        )
    if parts.scheme == "http" and (api_key or password):
        (warn or _warn)("sending Elasticsearch credentials over plain http; use https")
    return EsSettings(
        url=url.rstrip("/"),
        api_key=api_key,
        username=username,
        password=password,
        ca_certs=str(ca_certs) if ca_certs else None,
        ssl_fingerprint=ssl_fingerprint,
        verify_certs=not insecure,
        request_timeout=request_timeout,
        index_prefix=index_prefix,
    )


def _warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def build_client(settings: EsSettings, *, node_class: type | None = None) -> Any:
    """An ``elasticsearch.Elasticsearch`` client for ``settings``.

    ``node_class`` exists for tests against an emulator that rejects the ES 8/9 compatibility media
    types; a real cluster needs nothing special.  Transport-level retries cover 429/502/503/504 on
    single requests (all of Diffy's writes use deterministic ids, so a retry cannot duplicate).
    """
    # The client is imported only when a cluster is used: `diffy-analyze --help` stays fast.
    from diffy_analysis.extras import require  # noqa: PLC0415

    Elasticsearch = require("elasticsearch", "es", "Elasticsearch").Elasticsearch

    kwargs: dict[str, Any] = {
        "request_timeout": settings.request_timeout,
        "max_retries": 3,
        "retry_on_status": (429, 502, 503, 504),
        "retry_on_timeout": True,
    }
    if settings.api_key:
        kwargs["api_key"] = settings.api_key
    elif settings.username:
        kwargs["basic_auth"] = (settings.username, settings.password or "")
    if settings.url.startswith("https://"):
        kwargs["verify_certs"] = settings.verify_certs
        if not settings.verify_certs:
            kwargs["ssl_show_warn"] = False  # we warned once, in plain words
        if settings.ca_certs:
            kwargs["ca_certs"] = settings.ca_certs
        if settings.ssl_fingerprint:
            kwargs["ssl_assert_fingerprint"] = settings.ssl_fingerprint.replace(":", "").lower()
    if node_class is not None:
        kwargs["node_class"] = node_class
    return Elasticsearch(settings.url, **kwargs)


def store_error(settings: EsSettings, err: BaseException, doing: str) -> StoreError:
    """A StoreError for a client exception, worded for users and with every secret redacted."""
    from elastic_transport import ConnectionError as EsConnectionError  # noqa: PLC0415 - see build_client
    from elastic_transport import TlsError  # noqa: PLC0415
    from elasticsearch import ApiError, AuthenticationException, AuthorizationException  # noqa: PLC0415

    where = settings.display_url
    if isinstance(err, TlsError):
        message = (
            f"TLS verification of {where} failed while {doing} (use --es-ca-certs or --es-ssl-fingerprint)"
        )
    elif isinstance(err, EsConnectionError):
        message = f"cannot reach Elasticsearch at {where} while {doing}"
    elif isinstance(err, AuthenticationException):
        message = f"Elasticsearch at {where} rejected the credentials while {doing} (HTTP 401)"
    elif isinstance(err, AuthorizationException):
        message = f"the credentials lack a privilege needed for {doing} on {where} (HTTP 403)"
    elif isinstance(err, ApiError):
        message = f"Elasticsearch at {where} answered HTTP {err.status_code} while {doing}: {_reason(err)}"
    else:
        message = f"Elasticsearch error while {doing}: {type(err).__name__}: {err}"
    return StoreError(settings.redact(message))


def _reason(err: Any) -> str:
    body = getattr(err, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return f"{error.get('type')}: {str(error.get('reason'))[:300]}"
    return str(getattr(err, "message", err))[:300]


@contextlib.contextmanager
def translate_errors(settings: EsSettings, doing: str) -> Iterator[None]:
    """Turn any client or transport exception into a StoreError with secrets redacted."""
    from elastic_transport import TransportError  # noqa: PLC0415 - see build_client
    from elasticsearch import ApiError  # noqa: PLC0415

    try:
        yield
    except (ApiError, TransportError) as err:
        raise store_error(settings, err, doing) from None
