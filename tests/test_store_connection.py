"""Connection settings of the Elasticsearch store: secrets from env or a file, TLS on by default,
and secrets never in messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from elastic_transport import ConnectionError as EsConnectionError
from elastic_transport import TlsError

from diffy_analysis.errors import ConfigError, StoreError, UsageError
from diffy_analysis.store.connection import (
    REDACTED,
    EsSettings,
    build_client,
    read_secret_file,
    settings_from_options,
    store_error,
    translate_errors,
)

API_KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
PASSWORD = "s3cr3t-Pa55word!"


def settings(**kwargs) -> EsSettings:
    kwargs.setdefault("environ", {})
    kwargs.setdefault("warn", lambda message: None)
    return settings_from_options(**kwargs)


def test_url_from_env_and_api_key_from_env():
    got = settings(url=None, environ={"DIFFY_ES_URL": "https://es.test:9200/", "DIFFY_ES_API_KEY": API_KEY})
    assert got.url == "https://es.test:9200"
    assert got.api_key == API_KEY
    assert got.verify_certs is True
    assert API_KEY not in repr(got)


def test_missing_url_is_a_usage_error():
    with pytest.raises(UsageError, match="DIFFY_ES_URL"):
        settings(url=None)


def test_credentials_in_the_url_are_refused_without_echoing_them():
    with pytest.raises(UsageError) as err:
        settings(url=f"https://elastic:{PASSWORD}@es.test:9200")
    assert PASSWORD not in str(err.value)
    assert "DIFFY_ES_PASSWORD" in str(err.value)


def test_basic_auth_needs_user_and_password():
    got = settings(url="https://es.test", username="diffy", environ={"DIFFY_ES_PASSWORD": PASSWORD})
    assert (got.username, got.password) == ("diffy", PASSWORD)
    with pytest.raises(UsageError, match="no user name"):
        settings(url="https://es.test", environ={"DIFFY_ES_PASSWORD": PASSWORD})
    with pytest.raises(UsageError, match="needs a password"):
        settings(url="https://es.test", username="diffy")


def test_api_key_and_password_together_are_refused():
    env = {"DIFFY_ES_API_KEY": API_KEY, "DIFFY_ES_PASSWORD": PASSWORD}
    with pytest.raises(UsageError, match="either an API key"):
        settings(url="https://es.test", username="diffy", environ=env)


@pytest.mark.parametrize(
    ("content", "username", "expected"),
    [
        (f"api_key={API_KEY}\n", None, ("api_key", API_KEY)),
        (f"# comment\npassword = {PASSWORD}\n", "diffy", ("password", PASSWORD)),
        (f"{API_KEY}\n", None, ("api_key", API_KEY)),  # a bare secret without a user: an API key
        (f"{PASSWORD}\n", "diffy", ("password", PASSWORD)),  # ...with a user: a password
    ],
)
def test_secret_file_forms(tmp_path: Path, content: str, username: str | None, expected: tuple[str, str]):
    path = tmp_path / "es.secret"
    path.write_text(content)
    path.chmod(0o600)
    got = settings(url="https://es.test", username=username, secret_file=path)
    assert getattr(got, expected[0]) == expected[1]


def test_secret_file_errors_never_show_its_content(tmp_path: Path):
    path = tmp_path / "es.secret"
    path.write_text(f"{PASSWORD}\n{API_KEY}\n")
    path.chmod(0o600)
    with pytest.raises(ConfigError) as err:
        read_secret_file(path)
    assert PASSWORD not in str(err.value) and API_KEY not in str(err.value)


def test_group_readable_secret_file_warns(tmp_path: Path):
    path = tmp_path / "es.secret"
    path.write_text(f"api_key={API_KEY}\n")
    path.chmod(0o644)
    with pytest.warns(UserWarning, match="chmod 600"):
        read_secret_file(path)


def test_insecure_warns_and_plain_http_with_credentials_warns():
    warnings: list[str] = []
    got = settings_from_options(url="https://es.test", insecure=True, environ={}, warn=warnings.append)
    assert got.verify_certs is False
    assert any("DISABLED" in w for w in warnings)
    warnings.clear()
    settings_from_options(url="http://es.test", environ={"DIFFY_ES_API_KEY": API_KEY}, warn=warnings.append)
    assert any("plain http" in w for w in warnings)
    assert all(API_KEY not in w for w in warnings)


def test_bad_fingerprint_and_missing_ca_bundle(tmp_path: Path):
    with pytest.raises(UsageError, match="fingerprint"):
        settings(url="https://es.test", ssl_fingerprint="abc")
    with pytest.raises(UsageError, match="CA bundle"):
        settings(url="https://es.test", ca_certs=tmp_path / "missing.pem")


def test_client_verifies_tls_by_default_and_uses_the_pinned_fingerprint():
    client = build_client(EsSettings(url="https://es.test:9200", api_key=API_KEY))
    node = client.transport.node_pool.all()[0]
    assert node.config.verify_certs is True
    fingerprint = "AB:" * 31 + "CD"
    pinned = build_client(EsSettings(url="https://es.test:9200", ssl_fingerprint=fingerprint))
    config = pinned.transport.node_pool.all()[0].config
    assert config.ssl_assert_fingerprint == fingerprint.replace(":", "").lower()


def test_redact_covers_the_wire_forms_of_secrets():
    import base64

    basic = EsSettings(url="https://es.test", username="diffy", password=PASSWORD)
    header = base64.b64encode(f"diffy:{PASSWORD}".encode()).decode()
    assert header not in basic.redact(f"Authorization: Basic {header}")
    key = EsSettings(url="https://es.test", api_key=API_KEY)
    decoded = base64.b64decode(API_KEY).decode()
    assert decoded.split(":", 1)[1] not in key.redact(f"bad key {decoded}")


def test_redact_replaces_every_secret_and_url_credentials():
    s = EsSettings(url="https://es.test", api_key=API_KEY, username="u", password=PASSWORD)
    text = f"Authorization: ApiKey {API_KEY} / {PASSWORD} / https://u:{PASSWORD}@es.test"
    redacted = s.redact(text)
    assert API_KEY not in redacted and PASSWORD not in redacted
    assert redacted.count(REDACTED) >= 3


def test_transport_errors_become_store_errors_without_secrets():
    s = EsSettings(url="https://es.test:9200", api_key=API_KEY)
    err = store_error(s, EsConnectionError(f"refused, key was {API_KEY}"), "indexing")
    assert isinstance(err, StoreError)
    assert "cannot reach Elasticsearch at https://es.test:9200" in str(err)
    assert API_KEY not in str(err)
    tls = store_error(s, TlsError("certificate verify failed"), "indexing")
    assert "TLS verification" in str(tls) and "--es-ca-certs" in str(tls)
    with pytest.raises(StoreError), translate_errors(s, "reading"):
        raise EsConnectionError("down")
