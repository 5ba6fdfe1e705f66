"""A host flooding a table, or a table cut at its collection cap, is itself a finding (analyze/flood.py)."""

from __future__ import annotations

from runbuilder import build_run, clean_fleet

from diffy_analysis.analyze.flood import CAPS
from diffy_analysis.api import analyze


def _staging(path: str) -> dict[str, str]:
    return {"path": path, "directory": "/tmp", "mode": "0755", "size": "10", "sha256": "ab" * 32, "uid": "0"}


def test_a_listing_cut_at_its_cap_flags_the_host_and_says_so(tmp_path):
    cap = CAPS["staging_files"]
    hosts = clean_fleet(6)
    for host in hosts.values():
        host["staging_files"] = [_staging("/tmp/app.sock")]
    hosts["web-004"]["staging_files"] = [_staging(f"/tmp/f{k:05d}") for k in range(cap)]
    analysis = analyze([build_run(tmp_path, hosts)])
    flagged = [h for h in analysis.hosts if h.outlier]
    assert [h.host for h in flagged] == ["web-004"]
    cut = [f for f in flagged[0].findings if f.row.get("capped") == "yes"]
    assert cut and "collection cap" in cut[0].explanation and cut[0].row["rows"] == str(cap)


def test_a_context_table_flood_is_a_finding_and_a_busy_host_is_not(tmp_path):
    hosts = clean_fleet(8)
    for i, host in enumerate(hosts.values()):
        # a busy host holds twice the usual processes: not a flood
        count = 40 if i == 1 else 20
        host["processes"] = [
            {"name": f"worker{k}", "path": "/usr/bin/app", "cmdline": f"app {k}"} for k in range(count)
        ]
    hosts["web-006"]["processes"] = [
        {"name": f"decoy{k}", "path": "/usr/bin/app", "cmdline": f"app {k}"} for k in range(300)
    ]
    analysis = analyze([build_run(tmp_path, hosts)])
    by_host = {h.host: h for h in analysis.hosts}
    flood = [f for f in by_host["web-006"].findings if f.row.get("usual_rows")]
    assert flood and flood[0].row["rows"] == "300" and "decoys" in flood[0].explanation
    assert not any(f.row.get("usual_rows") for f in by_host["web-002"].findings)
