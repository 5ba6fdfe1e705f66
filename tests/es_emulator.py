"""Test helpers for the Elasticsearch store: an EMULATOR, not Elasticsearch.

No real Elasticsearch can be installed on the test machines.  These helpers start osmem-server (PyPI
``osmem-server``: an in-memory server speaking the OpenSearch REST API, with mappings, bulk, search,
composite/terms/cardinality aggregations and scroll) on 127.0.0.1, and give the product's client a
TEST-SIDE node class, because elasticsearch-py 8/9 always sends the compatibility media type
``application/vnd.elasticsearch+json; compatible-with=N``, which the emulator rejects with 406.
The product code takes the node class as a parameter and needs nothing of this against a real
cluster.  Tests against a real cluster are opt-in: set DIFFY_TEST_ES_URL (marker ``real_es``).

Fixtures (a test module says ``pytest_plugins = ["es_emulator"]``): ``es_emulator`` (one server per
test session), ``es_prefix`` (a unique index prefix per test, so tests sharing the emulator never
see each other's documents), ``es_settings`` and ``es_client``; ``real_es_settings`` and
``real_es_client`` for the opt-in tests against a real cluster (skipped unless DIFFY_TEST_ES_URL is
set; they use a unique prefix and delete their indices and templates afterwards).
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from es_transport import CompatHeaderNode

from diffy_analysis.store.connection import EsSettings, build_client, settings_from_options

READY_TIMEOUT_S = 20.0
_COUNTER = itertools.count(1)


@dataclass
class Emulator:
    url: str
    process: subprocess.Popen

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"{}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_emulator() -> Emulator:
    """Start osmem-server on a free loopback port and wait (bounded) until it answers."""
    from osmem_server import resolve_binary

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        # -parent-pid: the emulator exits by itself if this test process dies without cleaning up.
        [
            resolve_binary(),
            "-addr",
            f"127.0.0.1:{port}",
            "-no-stdin-watch",
            "-no-ja",
            "-parent-pid",
            str(os.getpid()),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"osmem-server exited with {process.returncode} during start-up")
        try:
            with urllib.request.urlopen(url + "/", timeout=1) as resp:
                if resp.status == 200:
                    return Emulator(url, process)
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.05)
    process.kill()
    process.wait(timeout=5)
    raise RuntimeError(f"osmem-server did not answer on {url} within {READY_TIMEOUT_S} s")


def stop_emulator(emulator: Emulator) -> None:
    emulator.process.terminate()
    try:
        emulator.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        emulator.process.kill()
        emulator.process.wait(timeout=5)


@pytest.fixture(scope="session")
def es_emulator() -> Iterator[Emulator]:
    """osmem-server (an ES-API EMULATOR, not Elasticsearch) on 127.0.0.1, one per test session."""
    emulator = start_emulator()
    yield emulator
    stop_emulator(emulator)


@pytest.fixture
def es_prefix() -> str:
    """A unique index prefix per test: tests share one emulator but never each other's indices."""
    return f"t{os.getpid()}-{next(_COUNTER)}"


@pytest.fixture
def es_settings(es_emulator: Emulator, es_prefix: str) -> EsSettings:
    return EsSettings(url=es_emulator.url, index_prefix=es_prefix, request_timeout=10.0)


@pytest.fixture
def es_client(es_settings: EsSettings) -> Any:
    return build_client(es_settings, node_class=CompatHeaderNode)


REAL_ES_SKIP = "set DIFFY_TEST_ES_URL (and DIFFY_ES_API_KEY or DIFFY_ES_USER/DIFFY_ES_PASSWORD) to run"


@pytest.fixture
def real_es_settings(es_prefix: str) -> Iterator[EsSettings]:
    """Settings for a REAL cluster named by DIFFY_TEST_ES_URL (opt-in); cleans up after itself."""
    url = os.environ.get("DIFFY_TEST_ES_URL")
    if not url:
        pytest.skip(REAL_ES_SKIP)
    ca = os.environ.get("DIFFY_TEST_ES_CA_CERTS")
    settings = settings_from_options(
        url=url,
        ca_certs=Path(ca) if ca else None,
        index_prefix=f"diffy-test-{es_prefix}",
        warn=lambda message: None,
    )
    yield settings
    client = build_client(settings)
    client.options(ignore_status=404).indices.delete(index=f"{settings.index_prefix}-*")
    client.options(ignore_status=404).indices.delete_index_template(name=f"{settings.index_prefix}-*")


@pytest.fixture
def real_es_client(real_es_settings: EsSettings) -> Any:
    return build_client(real_es_settings)


# --------------------------------------------------------------------------------------------------
# A TLS front for the emulator: real TLS (a self-signed certificate for 127.0.0.1) to test
# certificate verification, CA bundles, fingerprint pinning and --es-insecure end to end.


@dataclass
class TlsFront:
    url: str
    ca_file: Path
    fingerprint: str
    """SHA-256 of the certificate (DER), hex with colons, as Kibana and `openssl x509` print it."""


def _self_signed(directory: Path) -> tuple[Path, Path, str]:
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "diffy-test-es")])
    now = dt.datetime.now(dt.UTC)
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "es-cert.pem", directory / "es-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return cert_file, key_file, ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


# Module scope, not session: its server thread must be gone before later files fork load workers
# (load.directory.fork_is_safe reads serially while another thread runs).
@pytest.fixture(scope="module")
def es_tls_front(es_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsFront]:
    """https://127.0.0.1:PORT forwarding every request to the emulator (a test-side TLS proxy)."""
    import http.client
    import http.server
    import ssl
    import threading
    from urllib.parse import urlsplit

    cert_file, key_file, fingerprint = _self_signed(tmp_path_factory.mktemp("tls"))
    upstream = urlsplit(es_emulator.url)

    class Forward(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield TlsFront(f"https://127.0.0.1:{server.server_address[1]}", cert_file, fingerprint)
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# --------------------------------------------------------------------------------------------------
# One realistic fleet, indexed once per session (the emulator indexes a few hundred documents a
# second, so tests share it read-only instead of indexing it again).


@dataclass
class IndexedFleet:
    fleet: Any
    """fleetgen.GeneratedFleet: run_dir, baseline_dir, truth()."""
    run_id: str
    settings: EsSettings
    client: Any
    outcome: Any


@pytest.fixture(scope="session")
def indexed_fleet(es_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> IndexedFleet:
    """A fleetgen fleet (8 hosts + 1 unreachable, injected attacker artifacts) indexed into the
    emulator under the prefix ``fleet``. Tests must not write under that prefix."""
    from diffy_analysis.load import open_results
    from diffy_analysis.store.bulk import BulkSettings
    from diffy_analysis.store.indexer import index_results
    from diffy_analysis.store.mapping import IndexNames
    from diffy_fleetgen import FleetOptions, generate_fleet

    fleet = generate_fleet(tmp_path_factory.mktemp("fleet"), FleetOptions(hosts=8, seed=11, unreachable=1))
    settings = EsSettings(url=es_emulator.url, index_prefix="fleet", request_timeout=30.0)
    client = build_client(settings, node_class=CompatHeaderNode)
    results = open_results([fleet.run_dir])
    outcome = index_results(
        client, IndexNames("fleet"), results, bulk=BulkSettings(chunk_size=500, refresh=True)
    )
    assert outcome.report.ok, outcome.report.reasons
    return IndexedFleet(fleet, results.run_ids[0], settings, client, outcome)
