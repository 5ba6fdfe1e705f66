"""Generated fleets for the reporter tests, analysed by the real engine (diffy_analysis.api.analyze).

``hostile_fleet`` takes a generated fleet and plants attacker-controlled values in two hosts' result
files the way a compromised host would report them (a process and a listener whose names carry
markup, quotes, control characters, a 100 KB string and bytes that are not UTF-8; a query error
message carrying script), then fixes the hashes in host.json and the manifest so that the run is
as valid as one collected from such hosts.  The values then travel through the real loader,
normalizer and engine before they reach a reporter.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from diffy_analysis.api import analyze
from diffy_analysis.findings import Analysis
from diffy_fleetgen import FleetOptions, FleetTruth, generate_fleet

HOSTILE_NAMES = (
    "<script>window.__pwned=1</script>",
    '"><img src=x onerror="window.__pwned=1">',
    "</style><svg onload=window.__pwned=1>",
    "javascript:window.__pwned=1",
    "[red]markup[/red]\x1b]0;title\x07\x1b[2J",
)
LONG_VALUE = "B" * 100_000
# Bytes that are not UTF-8, as a compromised host may well report them.
NOT_UTF8 = b"bad\xff\xfename"


@dataclass(frozen=True)
class AnalysedFleet:
    analysis: Analysis
    truth: FleetTruth
    poisoned: tuple[str, ...] = ()


def peers_fleet(out: Path, hosts: int = 40, seed: int = 21) -> AnalysedFleet:
    fleet = generate_fleet(out, FleetOptions(hosts=hosts, seed=seed, unreachable=1), workers=1)
    return AnalysedFleet(analyze([fleet.run_dir], method="peers"), fleet.truth())


def baseline_fleet(out: Path, hosts: int = 30, seed: int = 22) -> AnalysedFleet:
    fleet = generate_fleet(out, FleetOptions(hosts=hosts, seed=seed, unreachable=1), workers=1)
    analysis = analyze([fleet.run_dir], baseline=fleet.baseline_dir, method="baseline")
    return AnalysedFleet(analysis, fleet.truth())


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Run:
    """Edit a generated run the way a compromised host's collection would have produced it."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.manifest = json.loads((run_dir / "manifest.json").read_text("utf-8"))

    def _host_record(self, host: str) -> dict:
        return json.loads((self.run_dir / "hosts" / host / "host.json").read_text("utf-8"))

    def _save_host_record(self, host: str, record: dict) -> None:
        data = json.dumps(record).encode()
        (self.run_dir / "hosts" / host / "host.json").write_bytes(data)
        self.manifest["files"][f"hosts/{host}/host.json"] = {"sha256": _sha256(data), "bytes": len(data)}

    def rows(self, host: str, query: str) -> list[dict[str, str]]:
        return json.loads((self.run_dir / "hosts" / host / f"{query}.json").read_text("utf-8"))

    def add_rows(self, host: str, query: str, extra: list[dict[str, str]]) -> None:
        rows = self.rows(host, query) + extra
        # Raw bytes that are not UTF-8 where a value says so (JSON text itself cannot carry them).
        data = json.dumps(rows).encode().replace(b"__NOT_UTF8__", NOT_UTF8)
        (self.run_dir / "hosts" / host / f"{query}.json").write_bytes(data)
        record = self._host_record(host)
        record["queries"][query].update(sha256=_sha256(data), rows=len(rows))
        self._save_host_record(host, record)
        self.manifest["files"][f"hosts/{host}/{query}.json"] = {"sha256": _sha256(data), "bytes": len(data)}

    def fail_query(self, host: str, query: str, error: str) -> None:
        (self.run_dir / "hosts" / host / f"{query}.json").unlink()
        self.manifest["files"].pop(f"hosts/{host}/{query}.json", None)
        record = self._host_record(host)
        record["queries"][query] = {
            "status": "error",
            "rows": None,
            "error": error,
            "duration_s": 0.1,
            "sha256": None,
        }
        self._save_host_record(host, record)
        self.manifest["hosts"][host]["status"] = "partial"

    def unreachable_error(self, error: str) -> str:
        host = next(h for h, entry in self.manifest["hosts"].items() if entry["status"] == "unreachable")
        self.manifest["hosts"][host]["error"] = error
        return host

    def save(self) -> None:
        (self.run_dir / "manifest.json").write_text(json.dumps(self.manifest))


def _hostile_processes() -> list[dict[str, str]]:
    return [
        {
            "pid": str(40000 + i),
            "parent": "1",
            "name": name,
            "path": f"/tmp/.x/{name}",
            "cmdline": f"{name} {LONG_VALUE if i == 0 else ''} __NOT_UTF8__",
            "cwd": "/tmp",
            "uid": "0",
            "gid": "0",
            "euid": "0",
            "on_disk": "0",
            "state": "S",
            "start_time": "1793036999",
            "resident_size": "4096",
            "user_time": "1",
            "system_time": "1",
            "threads": "1",
        }
        for i, name in enumerate(HOSTILE_NAMES)
    ]


def hostile_fleet(out: Path, hosts: int = 24, seed: int = 23) -> AnalysedFleet:
    """A generated fleet whose compromised hosts also report hostile values, analysed by peers.

    On each host with injected attacker artifacts: processes and a listener with hostile names
    (markup, quotes, control characters, a 100 KB command line, non-UTF-8 bytes) and a query that
    failed with a hostile error message; the unreachable host's error is hostile too.
    """
    fleet = generate_fleet(out, FleetOptions(hosts=hosts, seed=seed, unreachable=1), workers=1)
    truth = fleet.truth()
    poisoned = tuple(sorted(truth.compromised))
    run = _Run(fleet.run_dir)
    for n, host in enumerate(poisoned):
        run.add_rows(host, "processes", _hostile_processes())
        template = run.rows(host, "listening_ports")[0]
        name = HOSTILE_NAMES[n % len(HOSTILE_NAMES)]
        run.add_rows(
            host,
            "listening_ports",
            [
                dict(
                    template, pid="40000", port=str(4444 + n), address="0.0.0.0", name=name, path="/tmp/.x/nc"
                )
            ],
        )
        run.fail_query(host, "kernel_modules", f"osqueryi: {HOSTILE_NAMES[1]} \x1b[31m")
    run.unreachable_error(f"ssh: {HOSTILE_NAMES[0]}")
    run.save()
    analysis = analyze([fleet.run_dir], method="peers")
    return AnalysedFleet(analysis, truth, poisoned)
