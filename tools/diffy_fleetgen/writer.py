"""Write a fleet plan as a contract-valid results directory (docs/results-format.md), fast.

Hosts are generated in chunks by a small process pool; each worker writes its hosts' files and
returns their manifest entries as ready-made JSON text, which the parent streams into manifest.json.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from diffy_analysis.contract import (
    HOST_RECORD_NAME,
    HOSTS_DIR,
    MANIFEST_NAME,
    PACK_COPY_NAME,
    RESULTS_FORMAT,
)
from diffy_fleetgen.artifacts import ARTIFACTS
from diffy_fleetgen.catalog_system import KERNEL_RELEASE
from diffy_fleetgen.hostgen import QUERIES, HostSpec, add_volatile_columns, build_tables, table_json
from diffy_fleetgen.plan import RUN_STARTED, FleetPlan, Injection

CHUNK = 250
OSQUERY_VERSION = "5.12.1"


def _iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _write(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def host_record(spec: HostSpec, queries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "host": spec.host_id,
        "host_id": spec.host_id,
        "hostname": spec.hostname,
        "collected_at": _iso(spec.collected_at),
        "collector": "osquery",
        "collector_version": OSQUERY_VERSION,
        "os": {
            "family": "Debian",
            "distribution": "Debian",
            "version": "12",
            "kernel": KERNEL_RELEASE,
            "arch": "x86_64",
        },
        "cloud": {
            "provider": "aws",
            "instance_id": spec.host_id,
            "image_id": "ami-0c1f7b2e9d8a6b5c4",
            "region": "eu-west-1",
            "account_id": "123456789012",
            "autoscaling_group": "acme-orders-prod",
            "instance_type": spec.instance_type,
            "tags": {"app": "acme_orders", "Name": f"acme-orders-{spec.hostname}"},
        },
        "addresses": {"ipv4": [spec.ipv4], "ipv6": [], "mac": [spec.mac]},
        "queries": queries,
    }


def write_host(
    host_dir: Path,
    spec: HostSpec,
    injections: list[Injection],
    rel_prefix: str,
    *,
    per_host_volatile: bool = False,
) -> tuple[list[str], list[dict[str, Any]]]:
    """Write one host; return its manifest ``files`` entries (JSON text) and the injected evidence."""
    rng = random.Random(f"fleetgen/host/{spec.host_id}/{spec.index}")
    tables = build_tables(spec, rng)
    truth = []
    for inj in injections:
        evidence = ARTIFACTS[inj.artifact].apply(tables, spec, inj.params, rng)
        truth.append(
            {"artifact": inj.artifact, "campaign": inj.campaign, "params": inj.params, "evidence": evidence}
        )
    if per_host_volatile:  # its own generator: every other value stays what the seed gives
        add_volatile_columns(tables, spec, random.Random(f"fleetgen/volatile/{spec.host_id}"))
    Path(host_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
    entries: list[str] = []
    queries: dict[str, dict[str, Any]] = {}
    for query in QUERIES:
        data = table_json(tables[query]).encode("utf-8")
        digest = hashlib.sha256(data).hexdigest()
        _write(f"{host_dir}/{query}.json", data)
        entries.append(f'"{rel_prefix}/{query}.json":{{"sha256":"{digest}","bytes":{len(data)}}}')
        queries[query] = {
            "status": "ok",
            "rows": len(tables[query]),
            "error": None,
            "duration_s": round(0.01 + rng.random() * (0.3 if query == "processes" else 0.05), 3),
            "sha256": digest,
        }
    record = json.dumps(host_record(spec, queries), indent=2).encode("utf-8")
    _write(f"{host_dir}/{HOST_RECORD_NAME}", record)
    entries.append(
        f'"{rel_prefix}/{HOST_RECORD_NAME}":{{"sha256":"{hashlib.sha256(record).hexdigest()}",'
        f'"bytes":{len(record)}}}'
    )
    return entries, truth


def _write_chunk(
    args: tuple[str, list[HostSpec], dict[int, list[Injection]], bool],
) -> tuple[str, dict[str, list]]:
    run_dir, specs, injections, volatile = args
    entries: list[str] = []
    truth: dict[str, list] = {}
    for spec in specs:
        rel = f"{HOSTS_DIR}/{spec.host_id}"
        host_entries, host_truth = write_host(
            Path(run_dir) / rel, spec, injections.get(spec.index, []), rel, per_host_volatile=volatile
        )
        entries.extend(host_entries)
        if host_truth:
            truth[spec.host_id] = host_truth
    return ",\n".join(entries), truth


def _chunks(
    plan: FleetPlan, run_dir: Path
) -> Iterator[tuple[str, list[HostSpec], dict[int, list[Injection]], bool]]:
    for start in range(0, len(plan.hosts), CHUNK):
        specs = plan.hosts[start : start + CHUNK]
        yield (
            str(run_dir),
            specs,
            {s.index: plan.injections[s.index] for s in specs if s.index in plan.injections},
            plan.options.per_host_volatile,
        )


def write_run(
    plan: FleetPlan, run_dir: Path, pack_bytes: bytes, *, workers: int = 2, run_id: str | None = None
) -> dict[str, list]:
    """Write the run directory; return the injected evidence per host id."""
    run_id = run_id or plan.options.run_id()
    (run_dir / HOSTS_DIR).mkdir(mode=0o700, parents=True, exist_ok=True)
    _write(str(run_dir / PACK_COPY_NAME), pack_bytes)
    truth: dict[str, list] = {}
    tmp_manifest = run_dir / (MANIFEST_NAME + ".part")
    with open(tmp_manifest, "w", encoding="utf-8") as out:
        head = {
            "format": RESULTS_FORMAT,
            "run_id": run_id,
            "started_at": _iso(RUN_STARTED),
            "finished_at": _iso(RUN_STARTED + 60 + len(plan.hosts) // 50),
            "pack": {"name": "linux-dfir", "sha256": hashlib.sha256(pack_bytes).hexdigest()},
            "collector": "osquery",
            "limit": "acme_orders",
            "app": "acme_orders",
            "diffy_version": "0.1.0",
            "collected_by": {"user": "responder", "host": "bastion-1"},
            "hosts": {s.host_id: {"status": "ok", "error": None, "host": s.host_id} for s in plan.hosts}
            | {h: {"status": "unreachable", "error": err, "host": h} for h, err in plan.unreachable},
        }
        text = json.dumps(head, indent=1)
        out.write(text[:-2] + ',\n "files": {\n')
        first = True
        if workers > 1 and len(plan.hosts) > CHUNK:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                results = pool.map(_write_chunk, _chunks(plan, run_dir))
                first = _drain(results, out, truth, first)
        else:
            first = _drain(map(_write_chunk, _chunks(plan, run_dir)), out, truth, first)
        out.write("\n }\n}\n")
    tmp_manifest.chmod(0o600)
    tmp_manifest.replace(run_dir / MANIFEST_NAME)
    return truth


def _drain(results: Iterator[tuple[str, dict[str, list]]], out, truth: dict[str, list], first: bool) -> bool:
    for entries, chunk_truth in results:
        if entries:
            out.write(entries if first else ",\n" + entries)
            first = False
        truth.update(chunk_truth)
    return first


def options_json(plan: FleetPlan) -> dict[str, Any]:
    doc = asdict(plan.options)
    doc["inject"] = list(doc["inject"])
    return doc
