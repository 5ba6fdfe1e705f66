"""Check a generated fleet: every file against the results contract, and the truth against the rows.

The truth checks are what make a held-out fleet trustworthy: an ``added`` or ``changed`` piece of
evidence is on its host and on no host outside the compromised set (nor on the baseline); a
``missing`` one is absent from its host and present on the clean hosts and the baseline.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema

from .pack import REPO

SCHEMAS = REPO / "diffy_analysis" / "schemas"


class FleetInvalid(Exception):
    """A generated fleet breaks the contract or its own truth."""


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)


def validate_run(run: Path) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Validate one run directory; return ``{host_id: {query: rows}}``."""
    manifest_v = _validator("manifest.schema.json")
    host_v = _validator("host.schema.json")
    rows_v = _validator("query-result.schema.json")
    manifest = json.loads((run / "manifest.json").read_text("utf-8"))
    _check(manifest_v, manifest, run / "manifest.json")
    seen = set()
    for rel, meta in manifest["files"].items():
        data = (run / rel).read_bytes()
        if hashlib.sha256(data).hexdigest() != meta["sha256"] or len(data) != meta["bytes"]:
            raise FleetInvalid(f"{run / rel}: hash or size differs from the manifest")
        seen.add(rel)
    on_disk = {str(p.relative_to(run)) for p in (run / "hosts").rglob("*") if p.is_file()}
    if on_disk != seen:
        raise FleetInvalid(f"{run}: files not in the manifest: {sorted(on_disk ^ seen)[:3]}")
    tables: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for host_id, entry in manifest["hosts"].items():
        if entry["status"] != "ok":
            if (run / "hosts" / host_id).exists():
                raise FleetInvalid(f"{host_id} is {entry['status']} but has files")
            continue
        hdir = run / "hosts" / host_id
        doc = json.loads((hdir / "host.json").read_text("utf-8"))
        _check(host_v, doc, hdir / "host.json")
        tables[host_id] = {}
        for query, q in doc["queries"].items():
            data = (hdir / f"{query}.json").read_bytes()
            if hashlib.sha256(data).hexdigest() != q["sha256"]:
                raise FleetInvalid(f"{hdir / query}.json: hash differs from host.json")
            rows = json.loads(data)
            _check(rows_v, rows, hdir / f"{query}.json")
            if q["rows"] != len(rows):
                raise FleetInvalid(f"{hdir / query}.json: row count differs from host.json")
            if any(not isinstance(v, str) for r in rows for v in r.values()):
                raise FleetInvalid(f"{hdir / query}.json: a value is not a string")
            tables[host_id][query] = rows
    return tables


def _check(v: jsonschema.Draft202012Validator, doc: Any, where: Path) -> None:
    errors = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        raise FleetInvalid(f"{where}: {errors[0].message} at {list(errors[0].path)}")


def _has(rows: list[dict[str, Any]], match: dict[str, str]) -> bool:
    return any(all(str(r.get(k)) == v for k, v in match.items()) for r in rows)


def validate_fleet(fdir: Path) -> dict[str, Any]:
    """Validate a fleet directory (runs + truth); return a small summary."""
    truth = json.loads((fdir / "truth.json").read_text("utf-8"))
    if truth["format"] != "diffy-fleetgen-truth/1":
        raise FleetInvalid(f"{fdir}: wrong truth format")
    tables = validate_run(fdir / truth["run_dir"])
    base_tables = validate_run(fdir / truth["baseline_run_dir"])
    baseline = base_tables[Path(truth["baseline_dir"]).name]
    if sorted(tables) != sorted(truth["hosts"]):
        raise FleetInvalid(f"{fdir}: truth hosts differ from the run's analysable hosts")
    bad = set(truth["compromised"]) - set(truth["hosts"])
    bad |= {
        h for hs in list(truth["noise"].values()) + list(truth["populations"].values()) for h in hs
    } - set(truth["hosts"])
    if bad:
        raise FleetInvalid(f"{fdir}: truth names hosts that are not in the run: {sorted(bad)}")
    clean = [h for h in truth["hosts"] if h not in truth["compromised"]]
    for host, entries in truth["compromised"].items():
        for entry in entries:
            for e in entry["evidence"]:
                _check_evidence(fdir, host, e, tables, clean=clean, baseline=baseline)
    return {
        "hosts": len(truth["hosts"]),
        "compromised": len(truth["compromised"]),
        "evidence": sum(len(x["evidence"]) for es in truth["compromised"].values() for x in es),
    }


def _check_evidence(
    fdir: Path,
    host: str,
    e: dict[str, Any],
    tables: dict[str, Any],
    *,
    clean: list[str],
    baseline: dict[str, Any],
) -> None:
    q, kind, match = e["query"], e["kind"], e["match"]
    on_host = _has(tables[host].get(q, []), match)
    clean_with = [h for h in clean if _has(tables[h].get(q, []), match)]
    on_base = _has(baseline.get(q, []), match)
    if kind in ("added", "changed"):
        ok = on_host and not clean_with and not on_base
    elif kind == "missing":
        ok = not on_host and len(clean_with) == len(clean) and on_base
    else:
        ok = False
    if not ok:
        raise FleetInvalid(
            f"{fdir.name}: evidence {kind} {q} {match} on {host} does not hold "
            f"(on host: {on_host}, clean hosts with it: {len(clean_with)}/"
            f"{len(clean)}, baseline: {on_base})"
        )
