"""What a collection run produced, read back from its manifest: per-host outcomes and the run dir."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diffy_analysis.contract import HOST_RECORD_NAME, HOST_STATUSES, HOSTS_DIR, MANIFEST_NAME
from diffy_analysis.errors import CollectionError
from diffy_analysis.text import strip_unprintable


@dataclass(frozen=True)
class HostOutcome:
    host_id: str
    host: str
    status: str
    """ok | partial | failed | unreachable (as in the manifest)."""
    error: str | None = None
    hostname: str | None = None
    """The host's own hostname from its host.json, when collected (shown next to the inventory name)."""


@dataclass(frozen=True)
class CollectResult:
    run_id: str
    run_dir: Path
    runner_status: str
    """ansible-runner's status: successful, failed, timeout, canceled."""
    rc: int
    hosts: tuple[HostOutcome, ...]
    manifest: dict[str, Any]
    elapsed_s: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(h.status for h in self.hosts)
        return {status: found.get(status, 0) for status in HOST_STATUSES}

    @property
    def complete(self) -> bool:
        """Every host was collected (ok or partial)."""
        return bool(self.hosts) and all(h.status in ("ok", "partial") for h in self.hosts)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "run_dir": str(self.run_dir),
            "runner_status": self.runner_status,
            "rc": self.rc,
            "elapsed_s": round(self.elapsed_s, 3),
            "counts": self.counts,
            "hosts": [h.__dict__ for h in self.hosts],
        }


def _hostname(run_dir: Path, host_id: str) -> str | None:
    """The hostname a host reported; host.json comes from a possibly hostile host: read little,
    keep only a short printable string, never fail."""
    path = run_dir / HOSTS_DIR / host_id / HOST_RECORD_NAME
    try:
        if path.is_symlink() or path.stat().st_size > 1 << 20:
            return None
        value = json.loads(path.read_text("utf-8")).get("hostname")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(value, str):
        return None
    return strip_unprintable(value)[:64] or None


def read_result(run_dir: Path, *, runner_status: str, rc: int, elapsed_s: float, why: str) -> CollectResult:
    """Build the result from ``run_dir/manifest.json``; no manifest means the run failed as a whole."""
    path = run_dir / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except FileNotFoundError as err:
        raise CollectionError(
            f"the collection playbook ended ({runner_status}, rc {rc}) without writing {path}"
            + (f": {why}" if why else "")
        ) from err
    except (OSError, ValueError) as err:
        raise CollectionError(f"unreadable manifest {path}: {err}") from err
    hosts = tuple(
        HostOutcome(
            host_id=host_id,
            host=str(entry.get("host") or host_id),
            status=str(entry.get("status") or "failed"),
            error=entry.get("error"),
            hostname=_hostname(run_dir, host_id),
        )
        for host_id, entry in sorted((manifest.get("hosts") or {}).items())
        if isinstance(entry, dict)
    )
    return CollectResult(
        run_id=str(manifest.get("run_id") or run_dir.name),
        run_dir=run_dir,
        runner_status=runner_status,
        rc=rc,
        hosts=hosts,
        manifest=manifest,
        elapsed_s=elapsed_s,
    )
