"""One synthetic host: its identity, its population traits, and the rows of every pack query.

Everything random about a host comes from its own ``random.Random`` (seeded from the fleet seed and
the host's index), so a host's rows never depend on the order in which other hosts are built.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, str]

# vCPUs and memory (MiB) of the instance types the scenarios use (AWS published sizes).
INSTANCE_TYPES: dict[str, tuple[int, int]] = {
    "m5.large": (2, 8192),
    "m5.xlarge": (4, 16384),
    "c5.2xlarge": (8, 16384),
}


def derive_seed(*parts: Any) -> int:
    """A stable 64-bit seed from any parts (stdlib ``hash`` is salted per process; sha256 is not)."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def hexid(rng: random.Random, nbytes: int) -> str:
    return "".join(f"{rng.randrange(256):02x}" for _ in range(nbytes))


def digest(*parts: Any) -> str:
    """A synthetic but stable sha256 standing in for a file's content hash."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


@dataclass
class Proc:
    pid: int
    row: Row


@dataclass
class Host:
    index: int
    host_id: str
    hostname: str
    ipv4: str
    mac: str
    instance_type: str
    app_version: str
    canary: bool
    boot_epoch: int
    collected_epoch: int
    rng: random.Random
    image_id: str
    patched: set[str] = field(default_factory=set)
    """Packages that unattended-upgrades already moved to the newer security release."""
    tables: dict[str, list[Row]] = field(default_factory=dict)
    _next_pid: int = 1

    @property
    def vcpus(self) -> int:
        return INSTANCE_TYPES[self.instance_type][0]

    @property
    def mem_mib(self) -> int:
        return INSTANCE_TYPES[self.instance_type][1]

    def rows(self, query: str) -> list[Row]:
        return self.tables.setdefault(query, [])

    def alloc_pid(self, gap: int = 1) -> int:
        """PIDs grow with time since boot; ``gap`` leaves room for short-lived processes."""
        self._next_pid += max(1, gap)
        return self._next_pid

    def since_boot(self, seconds: int) -> str:
        return str(self.boot_epoch + seconds)

    def add_process(
        self,
        name: str,
        path: str,
        cmdline: str,
        *,
        parent: int = 1,
        uid: int = 0,
        gid: int | None = None,
        cwd: str = "/",
        on_disk: str | None = None,
        state: str = "S",
        started: int | None = None,
        rss_kib: tuple[int, int] = (4000, 12000),
        threads: int | tuple[int, int] = 1,
        cpu_ms: tuple[int, int] = (10, 4000),
        pid: int | None = None,
    ) -> Proc:
        """Append a ``processes`` row the way osquery reports it (comm truncated to 15 chars)."""
        rng = self.rng
        pid = pid if pid is not None else self.alloc_pid(rng.randrange(1, 40))
        age = started if started is not None else rng.randrange(5, 60)
        start = min(self.boot_epoch + age, self.collected_epoch - 1)
        nthreads = threads if isinstance(threads, int) else rng.randrange(threads[0], threads[1] + 1)
        if on_disk is None:
            on_disk = "1" if path else "-1"
        g = uid if gid is None else gid
        row: Row = {
            "pid": str(pid),
            "parent": str(parent),
            # comm is 15 chars, except kworkers, whose workqueue suffix the kernel appends.
            "name": name if name.startswith("kworker/") else name[:15],
            "path": path,
            "cmdline": cmdline,
            "cwd": cwd,
            "uid": str(uid),
            "gid": str(g),
            "euid": str(uid),
            "on_disk": on_disk,
            "state": state,
            "start_time": str(start),
            "resident_size": str(rng.randrange(*rss_kib) * 1024) if path else "0",
            "user_time": str(rng.randrange(*cpu_ms)),
            "system_time": str(rng.randrange(cpu_ms[0], max(cpu_ms[0] + 1, cpu_ms[1] // 2))),
            "threads": str(nthreads),
        }
        self.rows("processes").append(row)
        return Proc(pid=pid, row=row)

    def add_listener(self, proc: Proc, protocol: str, family: str, address: str, port: int) -> Row:
        """A ``listening_ports`` row joined with its process, as the pack's LEFT JOIN yields it."""
        p = proc.row
        row: Row = {
            "protocol": protocol,
            "family": family,
            "address": address,
            "port": str(port),
            "pid": p["pid"],
            "fd": str(self.rng.randrange(3, 400)),
            "socket": str(self.rng.randrange(15000, 2_900_000)),
            "name": p["name"],
            "path": p["path"],
            "cmdline": p["cmdline"],
            "uid": p["uid"],
        }
        self.rows("listening_ports").append(row)
        return row

    def find(self, query: str, **match: str) -> list[Row]:
        return [r for r in self.rows(query) if all(r.get(k) == v for k, v in match.items())]

    def remove(self, query: str, **match: str) -> list[Row]:
        gone = self.find(query, **match)
        self.tables[query] = [r for r in self.rows(query) if r not in gone]
        return gone
