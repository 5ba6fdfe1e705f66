"""Write a fleet as a ``diffy-results/1`` run directory, a baseline run, and ``truth.json``.

Layout: ``<out>/<fleet>/truth.json``, ``<out>/<fleet>/results/<run_id>/...`` and
``<out>/<fleet>/baselines/<run_id>/...``. Query files are byte-for-byte what ``osqueryi --json``
prints: one compact object per line, keys sorted, every value a string.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from pathlib import Path
from typing import Any

from .fleet import Fleet
from .host import Host, derive_seed, hexid
from .pack import Pack

GENERATOR = "heldout-synth/1"
OSQUERY_VERSION = "5.10.2"


def iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def run_id(epoch: int, *parts: Any) -> str:
    rng = random.Random(derive_seed("run-id", *parts))
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch)) + "-" + hexid(rng, 3)


def osquery_json(rows: list[dict[str, str]]) -> bytes:
    if not rows:
        return b"[\n\n]\n"
    lines = [json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False) for r in rows]
    return ("[\n  " + ",\n  ".join(lines) + "\n]\n").encode()


def _sort_rows(query: str, rows: list[dict[str, str]]) -> list[dict[str, str]]:
    # osquery walks /proc in pid order; other tables keep their natural source order.
    if query in ("processes",):
        return sorted(rows, key=lambda r: int(r["pid"]))
    if query == "listening_ports":
        return sorted(rows, key=lambda r: (int(r["pid"]), int(r["fd"])))
    return rows


def write_host(root: Path, host: Host, pack: Pack, fleet: dict[str, Any]) -> dict[str, Any]:
    hdir = root / "hosts" / host.host_id
    hdir.mkdir(parents=True, exist_ok=True)
    queries: dict[str, Any] = {}
    files: dict[str, Any] = {}
    rng = random.Random(derive_seed("durations", host.host_id))
    for query, columns in pack.columns.items():
        rows = _sort_rows(query, host.tables.get(query, []))
        for r in rows:
            if set(r) != set(columns):
                raise ValueError(f"{host.host_id} {query}: columns {sorted(r)} != {columns}")
            if not all(isinstance(v, str) for v in r.values()):
                raise ValueError(f"{host.host_id} {query}: non-string value in {r}")
        data = osquery_json(rows)
        (hdir / f"{query}.json").write_bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        queries[query] = {
            "status": "ok",
            "rows": len(rows),
            "error": None,
            "duration_s": round(rng.uniform(0.01, 0.9), 3),
            "sha256": sha,
        }
        files[f"hosts/{host.host_id}/{query}.json"] = {"sha256": sha, "bytes": len(data)}
    doc = {
        "host": host.host_id,
        "host_id": host.host_id,
        "hostname": host.hostname,
        "collected_at": iso(host.collected_epoch),
        "collector": "osquery",
        "collector_version": OSQUERY_VERSION,
        "os": {
            "family": "debian",
            "distribution": "Ubuntu",
            "version": "20.04",
            "kernel": fleet["kernel"],
            "arch": "x86_64",
        },
        "cloud": {
            "provider": "aws",
            "instance_id": host.host_id,
            "image_id": host.image_id,
            "region": fleet["region"],
            "account_id": fleet["account_id"],
            "autoscaling_group": fleet["asg"],
            "instance_type": host.instance_type,
            "tags": {"app": "orders-api", "env": "prod", "release": host.app_version},
        },
        "addresses": {"ipv4": [host.ipv4, "172.17.0.1"], "ipv6": [], "mac": [host.mac]},
        "queries": queries,
    }
    data = (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()
    (hdir / "host.json").write_bytes(data)
    files[f"hosts/{host.host_id}/host.json"] = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
    }
    return files


def write_run(
    root: Path,
    rid: str,
    hosts: list[Host],
    *,
    unreachable: list[Host],
    pack: Pack,
    fleet: dict[str, Any],
    limit: str | None,
) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pack.json").write_bytes(pack.raw)
    files: dict[str, Any] = {}
    status: dict[str, Any] = {}
    for h in hosts:
        files.update(write_host(root, h, pack, fleet))
        status[h.host_id] = {"status": "ok", "error": None, "host": h.host_id}
    for h in unreachable:
        status[h.host_id] = {
            "status": "unreachable",
            "host": h.host_id,
            "error": f"Failed to connect to the host via ssh: ssh: connect to "
            f"host {h.ipv4} port 22: Connection timed out",
        }
    times = [h.collected_epoch for h in hosts]
    manifest = {
        "format": "diffy-results/1",
        "run_id": rid,
        "started_at": iso(min(times) - 25),
        "finished_at": iso(max(times) + 5),
        "pack": {"name": pack.name, "sha256": pack.sha256},
        "collector": "osquery",
        "limit": limit,
        "app": "orders-api",
        "diffy_version": GENERATOR,
        "collected_by": {"user": "ops", "host": "bastion"},
        "hosts": dict(sorted(status.items())),
        "files": dict(sorted(files.items())),
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")


def write_fleet(out: Path, name: str, fleet: Fleet, pack: Pack, extra: dict[str, Any]) -> Path:
    fdir = out / name
    rid = run_id(fleet.fleet["collected"], name, fleet.seed)
    bid = run_id(fleet.baseline.collected_epoch, name, fleet.seed, "baseline")
    write_run(
        fdir / "results" / rid,
        rid,
        fleet.hosts,
        unreachable=fleet.unreachable,
        pack=pack,
        fleet=fleet.fleet,
        limit="app_orders_api",
    )
    write_run(
        fdir / "baselines" / bid,
        bid,
        [fleet.baseline],
        unreachable=[],
        pack=pack,
        fleet=fleet.fleet,
        limit=fleet.baseline.host_id,
    )
    truth = {
        "format": "diffy-fleetgen-truth/1",
        "run_id": rid,
        "run_dir": f"results/{rid}",
        "baseline_dir": f"baselines/{bid}/hosts/{fleet.baseline.host_id}",
        "baseline_run_dir": f"baselines/{bid}",
        "options": {
            "scenario": fleet.scenario.name,
            "generator": GENERATOR,
            "seed": fleet.seed,
            "hosts": len(fleet.hosts) + len(fleet.unreachable),
            "noise_scale": fleet.scenario.noise_scale,
            "description": fleet.scenario.description,
            **extra,
        },
        "hosts": sorted(h.host_id for h in fleet.hosts),
        "unreachable": sorted(h.host_id for h in fleet.unreachable),
        "compromised": dict(sorted(fleet.compromised.items())),
        "populations": {k: sorted(v) for k, v in sorted(fleet.populations.items())},
        "noise": {k: sorted(v) for k, v in sorted(fleet.noise.items())},
    }
    (fdir / "truth.json").write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n", "utf-8")
    return fdir
