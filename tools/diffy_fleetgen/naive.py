"""The naive approach, for comparison: a per-host JSON diff against the baseline.

This is what the original tool did: every row of a host that is not byte-identical to a row of the
baseline (and every baseline row the host lacks) is a difference, and a host with any difference is
flagged.  No volatile columns, no identity masking, no peers.  It is here to be measured, not used.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from diffy_analysis.contract import HOST_RECORD_NAME, HOSTS_DIR
from diffy_analysis.findings import Analysis, Finding, HostResult

_CANON = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode


def _tables(host_dir: Path) -> dict[str, list[dict]]:
    record = json.loads((host_dir / HOST_RECORD_NAME).read_text("utf-8"))
    out = {}
    for query, status in record["queries"].items():
        if status.get("status") == "ok":
            with open(host_dir / f"{query}.json", "rb") as handle:
                out[query] = json.load(handle)
    return out


def naive_diff(host: dict[str, list[dict]], baseline: dict[str, dict[str, dict]]) -> list[Finding]:
    findings = []
    for query, base_rows in baseline.items():
        rows = host.get(query, [])
        seen = set()
        for row in rows:
            text = _CANON(row)
            seen.add(text)
            if text not in base_rows:
                findings.append(Finding(query, "added", row, "not in the baseline", 1.0))
        for text, row in base_rows.items():
            if text not in seen:
                findings.append(Finding(query, "missing", row, "in the baseline, not on the host", 1.0))
    return findings


def naive_analysis(run_dirs: Iterable[Path | str], baseline_dir: Path | str) -> Analysis:
    """Diff every host of ``run_dirs`` against the host directory ``baseline_dir``."""
    baseline = {q: {_CANON(r): r for r in rows} for q, rows in _tables(Path(baseline_dir)).items()}
    results, run_ids = [], []
    for run_dir in map(Path, run_dirs):
        run_ids.append(run_dir.name)
        for host_dir in sorted((run_dir / HOSTS_DIR).iterdir()):
            findings = naive_diff(_tables(host_dir), baseline)
            results.append(
                HostResult(
                    host=host_dir.name,
                    host_id=host_dir.name,
                    score=float(len(findings)),
                    outlier=bool(findings),
                    cluster=None,
                    findings=tuple(findings),
                    run_id=run_dir.name,
                )
            )
    results.sort(key=lambda h: (-h.score, h.host))
    return Analysis(
        method="baseline",
        run_ids=tuple(run_ids),
        hosts=tuple(results),
        baseline=str(baseline_dir),
        settings={"method": "naive per-host JSON diff"},
    )
