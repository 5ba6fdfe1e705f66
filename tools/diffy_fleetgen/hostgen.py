"""Build the 20 query results of one synthetic host (``HostSpec`` -> {query: [row, ...]}).

Speed matters (100k hosts must be feasible): rows identical on every host of a sub-population are
built once per population as ``SharedRow`` objects that carry their JSON text, so writing a host
serializes only the rows that really vary per host (processes, ports, counters, addresses).
"""

from __future__ import annotations

import functools
import json
import random
from dataclasses import dataclass

from diffy_fleetgen import catalog_system as cat
from diffy_fleetgen.catalog_packages import APP_PACKAGE, BASE_PACKAGES, SIDECAR_PACKAGE
from diffy_fleetgen.processes import (
    APP_VERSIONS,
    CRON_JOB,
    INSTANCE_TYPES,
    KWORKER_QUEUES,
    SESSION_COMMANDS,
    SSH_SESSION,
    ProcTemplate,
    kernel_threads,
    kworker_slots,
    services,
)

QUERIES = (
    "listening_ports",
    "processes",
    "crontab",
    "kernel_modules",
    "users",
    "groups",
    "authorized_keys",
    "suid_bin",
    "iptables",
    "systemd_units",
    "deb_packages",
    "rpm_packages",
    "mounts",
    "etc_hosts",
    "sudoers",
    "ld_preload",
    "system_binaries",
    "logged_in_users",
    "os_version",
    "kernel_info",
)
"""The queries of the default pack, in pack order."""

PROCESS_COLUMNS = (
    "pid",
    "parent",
    "name",
    "path",
    "cmdline",
    "cwd",
    "uid",
    "gid",
    "euid",
    "on_disk",
    "state",
    "start_time",
    "resident_size",
    "user_time",
    "system_time",
    "threads",
)
PORT_COLUMNS = (
    "protocol",
    "family",
    "address",
    "port",
    "pid",
    "fd",
    "socket",
    "name",
    "path",
    "cmdline",
    "uid",
)

_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class SharedRow(dict):
    """A row identical on many hosts; its JSON line is computed once.  Never mutate one: copy it."""

    __slots__ = ("json",)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.json = "  " + _DUMPS(self)


def table_json(rows: list[dict]) -> str:
    """A result file as ``osqueryi --json`` prints it: one compact object per line."""
    if not rows:
        return "[\n\n]\n"
    return "[\n" + ",\n".join(r.json if type(r) is SharedRow else "  " + _DUMPS(r) for r in rows) + "\n]\n"


@dataclass(frozen=True)
class HostSpec:
    """Who a host is and which benign sub-populations and noise it belongs to."""

    index: int
    host_id: str
    hostname: str
    ipv4: str
    mac: str
    app_version: str
    instance_type: str
    canary: bool
    ssh_session: bool
    cron_running: bool
    extra_kthreads: int
    boot_time: int
    collected_at: int
    patched: bool = False

    @property
    def cpus(self) -> int:
        return INSTANCE_TYPES[self.instance_type][0]

    @property
    def workers(self) -> int:
        return 2 * self.cpus + 1

    @property
    def population(self) -> tuple[str, str, bool]:
        return (self.app_version, self.instance_type, self.canary)

    @property
    def static_key(self) -> tuple[str, str, bool, bool]:
        return (self.app_version, self.instance_type, self.canary, self.patched)


# ----------------------------------------------------------------------------------------------------
# Rows that are the same on every host of a population


@functools.cache
def static_tables(
    app_version: str, instance_type: str, canary: bool, patched: bool = False
) -> dict[str, tuple[SharedRow, ...]]:
    """Tables with no per-host content, for one population."""
    v2 = app_version != APP_VERSIONS[0]
    packages = list(BASE_PACKAGES)
    if patched:
        packages = [(n, PATCHED_VERSIONS.get(n, v), a, s) for n, v, a, s in packages]
    packages.append((APP_PACKAGE, f"{app_version}-1", "amd64", APP_PACKAGE))
    if v2:
        packages = [
            (n, "1.9.0-1", a, s) if n == "acme-orders-deps" else (n, v, a, s) for n, v, a, s in packages
        ]
    users, groups, units = list(cat.USERS), list(cat.GROUPS), list(cat.SYSTEMD_UNITS)
    if canary:
        packages.append(SIDECAR_PACKAGE)
        users.append(("995", "995", "envoy", "Envoy proxy", "/var/lib/envoy", "/usr/sbin/nologin"))
        groups.append(("995", "envoy"))
        units.append(
            (
                "envoy.service",
                "Envoy sidecar proxy",
                "loaded",
                "active",
                "running",
                "/etc/systemd/system/envoy.service",
                "",
            )
        )
    units = sorted(units)
    if v2:
        units = [
            (u[0], "Acme orders API (gthread)", *u[2:]) if u[0] == "acme-orders.service" else u for u in units
        ]
    crontab = list(cat.CRONTAB)
    if v2:
        crontab = [
            (*c[:6], c[6].replace("flush-queue.sh", "flush-queue.sh --batch 500"), c[7]) for c in crontab
        ]
    ram_kb = INSTANCE_TYPES[instance_type][1]
    mounts = [
        (
            d,
            p,
            t,
            f.replace("size=803860k", f"size={ram_kb // 10}k").replace(
                "size=4017284k,nr_inodes=1004321", f"size={ram_kb // 2}k,nr_inodes={ram_kb // 8}"
            ),
        )
        for d, p, t, f in cat.MOUNTS
    ]

    def rows(columns: tuple[str, ...], values: list[tuple]) -> tuple[SharedRow, ...]:
        return tuple(SharedRow(zip(columns, v, strict=True)) for v in values)

    return {
        "deb_packages": rows(
            ("name", "version", "arch", "source", "status"),
            [(n, v, a, "" if s == n else s, "install ok installed") for n, v, a, s in sorted(packages)],
        ),
        "rpm_packages": (),
        "users": rows(("uid", "gid", "username", "description", "directory", "shell"), users),
        "groups": rows(("gid", "groupname"), groups),
        "authorized_keys": rows(
            ("username", "uid", "algorithm", "key", "options", "comment", "key_file"), cat.AUTHORIZED_KEYS
        ),
        "suid_bin": rows(("path", "username", "groupname", "permissions"), cat.SUID_BINARIES),
        "systemd_units": rows(
            ("id", "description", "load_state", "active_state", "sub_state", "fragment_path", "source_path"),
            units,
        ),
        "mounts": rows(("device", "path", "type", "flags"), mounts),
        "crontab": rows(
            ("event", "minute", "hour", "day_of_month", "month", "day_of_week", "command", "path"), crontab
        ),
        "sudoers": rows(("source", "header", "rule_details"), cat.SUDOERS),
        "ld_preload": (),
        "system_binaries": rows(
            ("path", "size", "mode", "uid", "gid", "sha256"),
            [
                _binary(p, pkg, ver, size, mode, patched=patched)
                for p, pkg, ver, size, mode in cat.SYSTEM_BINARIES
            ],
        ),
        "os_version": (SharedRow(cat.OS_VERSION),),
        "kernel_info": (SharedRow(cat.KERNEL_INFO),),
        "etc_hosts": rows(("address", "hostnames"), cat.ETC_HOSTS),
    }


PATCHED_VERSIONS = {
    "sudo": "1.9.13p3-1+deb12u2",
    "openssl": "3.0.16-1~deb12u1",
    "libssl3": "3.0.16-1~deb12u1",
}
"""The security update that unattended-upgrades is rolling out (the ``patched`` population)."""


def _binary(path: str, pkg: str, ver: str, size: str, mode: str, *, patched: bool) -> tuple[str, ...]:
    if patched and pkg in PATCHED_VERSIONS:
        ver, size = PATCHED_VERSIONS[pkg], str(int(size) + 512)
    return (path, size, mode, "0", "0", cat.fake_sha256(pkg, ver, path.replace("/usr", "")))


@functools.cache
def process_templates(app_version: str, instance_type: str, canary: bool) -> tuple[ProcTemplate, ...]:
    cpus = INSTANCE_TYPES[instance_type][0]
    return tuple(kernel_threads(cpus)) + tuple(services(app_version, 2 * cpus + 1, canary))


# ----------------------------------------------------------------------------------------------------
# Per-host rows


class _Pids:
    """Hands out increasing pids with the small gaps a real boot leaves."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.next = 1

    def take(self, gap: int = 1) -> int:
        pid = self.next
        self.next += 1 + (self.rng.randrange(gap) if gap > 1 else 0)
        return pid


def _process_row(
    t: ProcTemplate, spec: HostSpec, rng: random.Random, *, pid: int, ppid: int, start: int, elapsed: int
) -> dict[str, str]:
    kernel = not t.path
    cmdline = t.cmdline
    if "{" in cmdline:
        cmdline = cmdline.format(ip=spec.ipv4, hostname=spec.hostname, instance_id=spec.host_id)
    cpu = max(elapsed, 1)
    threads = t.threads + (rng.randint(-t.threads_jitter, t.threads_jitter) if t.threads_jitter else 0)
    return {
        "pid": str(pid),
        "parent": str(ppid),
        "name": t.name,
        "path": t.path,
        "cmdline": cmdline,
        "cwd": t.cwd,
        "uid": t.uid,
        "gid": t.gid,
        "euid": t.uid,
        "on_disk": "-1" if kernel else "1",
        "state": t.state,
        "start_time": str(start),
        "resident_size": "" if kernel else str(t.rss_kb * 1024 + rng.randrange(0, t.rss_kb * 256 + 1, 4096)),
        "user_time": "0" if kernel else str(rng.randrange(cpu // 50 + 1)),
        "system_time": str(rng.randrange(cpu // (2000 if kernel else 90) + 1)),
        "threads": str(max(threads, 1)),
    }


def build_processes(spec: HostSpec, rng: random.Random) -> tuple[list[dict], dict[str, dict]]:
    """The processes table, and the rows by template key (for ports and artifacts to refer to)."""
    pids = _Pids(rng)
    by_key: dict[str, dict] = {}
    rows: list[dict] = []
    elapsed = spec.collected_at - spec.boot_time

    def add(t: ProcTemplate, start: int, gap: int = 1) -> dict:
        pid = pids.take(gap)
        ppid = int(by_key[t.parent]["pid"]) if t.parent else 0
        row = _process_row(t, spec, rng, pid=pid, ppid=ppid, start=start, elapsed=spec.collected_at - start)
        by_key[t.key] = row
        rows.append(row)
        return row

    templates = process_templates(*spec.population)
    init = next(t for t in templates if t.key == "systemd")
    add(init, spec.boot_time)  # pid 1, then kthreadd as pid 2 and the kernel threads
    for t in templates:
        if not t.path:
            add(t, spec.boot_time + t.start_offset)
    # kworkers: fixed slots whose current work queue (part of the name) differs from host to host
    slots = kworker_slots(spec.cpus)
    for stem in slots:
        queue = rng.choice(KWORKER_QUEUES)
        name = f"{stem}-{queue}" if queue else stem
        add(
            ProcTemplate("kw:" + stem, name, "", "", "k:kthreadd", state="I"),
            spec.boot_time + rng.randrange(max(elapsed, 1)),
            gap=3,
        )
    for i in range(spec.extra_kthreads):
        add(
            ProcTemplate(
                f"kw:extra{i}",
                f"kworker/u{2 * spec.cpus}:{len(slots) + i}-events_unbound",
                "",
                "",
                "k:kthreadd",
                state="I",
            ),
            spec.collected_at - rng.randrange(1, 600),
        )
    pids.next += rng.randrange(100, 200)
    for t in templates:
        if t.path and t is not init:
            add(t, spec.boot_time + t.start_offset + rng.randrange(3), gap=3)
    if spec.cron_running:
        pids.next = max(pids.next, rng.randrange(20000, 400000))
        for t in CRON_JOB:
            add(t, spec.collected_at - rng.randrange(1, 20))
    if spec.ssh_session:
        pids.next = max(pids.next, rng.randrange(20000, 400000))
        started = spec.collected_at - rng.randrange(60, 7200)
        for t in SSH_SESSION:
            add(t, started + rng.randrange(3))
        name, path, cmd = rng.choice(SESSION_COMMANDS)
        add(
            ProcTemplate(
                "sessioncmd", name, path, cmd, "bash", uid="1000", gid="1000", cwd="/home/admin", rss_kb=4000
            ),
            spec.collected_at - rng.randrange(5, 60),
        )
    rows.sort(key=lambda r: int(r["pid"]))
    return rows, by_key


def port_row(
    protocol: str, family: str, address: str, port: int, proc: dict, *, fd: int, socket: int
) -> dict:
    return {
        "protocol": protocol,
        "family": family,
        "address": address,
        "port": str(port),
        "pid": proc["pid"],
        "fd": str(fd),
        "socket": str(socket),
        "name": proc["name"],
        "path": proc["path"],
        "cmdline": proc["cmdline"],
        "uid": proc["uid"],
    }


def build_listening_ports(spec: HostSpec, procs: dict[str, dict], rng: random.Random) -> list[dict]:
    sock = rng.randrange(10_000, 90_000)

    def s() -> int:
        nonlocal sock
        sock += rng.randrange(1, 400)
        return sock

    statd_tcp, statd_udp = rng.randrange(32768, 61000), rng.randrange(32768, 61000)
    ports = [
        ("6", "2", "0.0.0.0", 22, "sshd", 3),
        ("6", "10", "::", 22, "sshd", 4),
        ("6", "2", "0.0.0.0", 8080, "app", 5),
        ("6", "10", "::", 9100, "nodeexp", 3),
        ("17", "2", "127.0.0.1", 323, "chronyd", 5),
        ("17", "10", "::1", 323, "chronyd", 6),
        ("6", "2", "127.0.0.53", 53, "resolved", 14),
        ("17", "2", "127.0.0.53", 53, "resolved", 13),
        ("6", "2", "0.0.0.0", 111, "rpcbind", 7),
        ("6", "10", "::", 111, "rpcbind", 9),
        ("17", "2", "0.0.0.0", 111, "rpcbind", 6),
        ("17", "10", "::", 111, "rpcbind", 8),
        ("6", "2", "0.0.0.0", statd_tcp, "statd", 9),
        ("17", "2", "0.0.0.0", statd_udp, "statd", 8),
        ("6", "2", "127.0.0.1", 2020, "fluentbit", 11),
        ("17", "2", spec.ipv4, 68, "networkd", 15),
    ]
    if spec.canary:
        ports += [("6", "2", "0.0.0.0", 15001, "envoy", 21), ("6", "2", "127.0.0.1", 15000, "envoy", 20)]
    return [port_row(p, f, a, n, procs[k], fd=fd, socket=s()) for p, f, a, n, k, fd in ports]


def build_iptables(spec: HostSpec, rng: random.Random) -> list[dict]:
    uptime = max(spec.collected_at - spec.boot_time, 60)
    rows = []
    for rule in cat.IPTABLES:
        row = dict(zip(cat.IPTABLES_COLUMNS, rule, strict=True))
        packets = rng.randrange(uptime // 10 + 1) if rule[3] else 0
        row["packets"] = str(packets)
        row["bytes"] = str(packets * rng.randrange(60, 1400))
        rows.append(row)
    return rows


def build_kernel_modules(spec: HostSpec, rng: random.Random) -> list[dict]:
    address = 0xFFFFFFFFC0000000 + rng.randrange(0, 0x3F0) * 0x100000
    rows = []
    for name, size, used_by in cat.KERNEL_MODULES:
        rows.append(
            {"name": name, "size": size, "used_by": used_by, "status": "Live", "address": hex(address)}
        )
        address += int(size) + rng.randrange(1, 16) * 4096
    return rows


def build_logged_in_users(spec: HostSpec, procs: dict[str, dict], rng: random.Random) -> list[dict]:
    rows = [
        {
            "type": "boot_time",
            "user": "reboot",
            "tty": "~",
            "host": cat.KERNEL_RELEASE,
            "time": str(spec.boot_time + 3),
            "pid": "0",
        },
        {
            "type": "login",
            "user": "LOGIN",
            "tty": "tty1",
            "host": "",
            "time": str(spec.boot_time + 9),
            "pid": procs["getty1"]["pid"],
        },
        {
            "type": "login",
            "user": "LOGIN",
            "tty": "ttyS0",
            "host": "",
            "time": str(spec.boot_time + 9),
            "pid": procs["gettyS0"]["pid"],
        },
    ]
    if spec.ssh_session:
        rows.append(
            {
                "type": "user",
                "user": "admin",
                "tty": "pts/0",
                "host": "10.0.0.12",
                "time": procs["sshuser"]["start_time"],
                "pid": procs["sshuser"]["pid"],
            }
        )
    return rows


def _session_units(spec: HostSpec, rng: random.Random) -> list[SharedRow | dict]:
    n = rng.randrange(1, 400)
    return [
        {
            "id": f"session-{n}.scope",
            "description": f"Session {n} of User admin",
            "load_state": "loaded",
            "active_state": "active",
            "sub_state": "running",
            "fragment_path": "",
            "source_path": "",
        },
        *_SESSION_UNITS,
    ]


_SESSION_UNITS = tuple(
    SharedRow(
        id=i,
        description=d,
        load_state="loaded",
        active_state="active",
        sub_state=s,
        fragment_path=f,
        source_path="",
    )
    for i, d, s, f in [
        ("run-user-1000.mount", "/run/user/1000", "mounted", ""),
        ("user-1000.slice", "User Slice of UID 1000", "active", ""),
        (
            "user-runtime-dir@1000.service",
            "User Runtime Directory /run/user/1000",
            "exited",
            "/lib/systemd/system/user-runtime-dir@.service",
        ),
        ("user@1000.service", "User Manager for UID 1000", "running", "/lib/systemd/system/user@.service"),
    ]
)
_SESSION_MOUNT = SharedRow(
    device="tmpfs",
    path="/run/user/1000",
    type="tmpfs",
    flags="rw,nosuid,nodev,relatime,size=803856k,nr_inodes=200964,mode=700,uid=1000,gid=1000,inode64",
)


def build_tables(spec: HostSpec, rng: random.Random) -> dict[str, list[dict]]:
    """All 20 query results of one clean host (attacker artifacts are applied afterwards)."""
    static = static_tables(*spec.static_key)
    tables: dict[str, list[dict]] = {q: list(static[q]) for q in static}
    processes, by_key = build_processes(spec, rng)
    tables["processes"] = processes
    tables["listening_ports"] = build_listening_ports(spec, by_key, rng)
    tables["iptables"] = build_iptables(spec, rng)
    tables["kernel_modules"] = build_kernel_modules(spec, rng)
    tables["logged_in_users"] = build_logged_in_users(spec, by_key, rng)
    tables["etc_hosts"].insert(
        1, {"address": spec.ipv4, "hostnames": f"{spec.hostname}.eu-west-1.compute.internal {spec.hostname}"}
    )
    if spec.ssh_session:
        tables["systemd_units"] = sorted(
            tables["systemd_units"] + _session_units(spec, rng), key=lambda r: r["id"]
        )
        tables["mounts"].append(_SESSION_MOUNT)
    return {q: tables[q] for q in QUERIES}


def add_volatile_columns(tables: dict[str, list[dict]], spec: HostSpec, rng: random.Random) -> None:
    """Per-host values osquery prints in ``mounts`` (sizes, free blocks and inodes) and
    ``system_binaries`` (file times, inode numbers): they make those files differ on every host.
    Rows are copied (shared rows are never mutated); only columns the default rules ignore are added."""
    mounts = []
    for row in tables["mounts"]:
        blocks = rng.randrange(1 << 18, 1 << 24)
        free = rng.randrange(blocks // 4, blocks)
        mounts.append(
            {
                **row,
                "blocks": str(blocks),
                "blocks_free": str(free),
                "blocks_available": str(max(0, free - blocks // 20)),
                "inodes_free": str(rng.randrange(10_000, 4_000_000)),
            }
        )
    tables["mounts"] = mounts
    binaries = []
    for row in tables["system_binaries"]:
        installed = spec.boot_time - rng.randrange(86400, 90 * 86400)
        binaries.append(
            {
                **row,
                "mtime": str(installed),
                "ctime": str(installed + rng.randrange(0, 600)),
                "atime": str(spec.collected_at - rng.randrange(0, 86400)),
                "inode": str(rng.randrange(100_000, 9_000_000)),
            }
        )
    tables["system_binaries"] = binaries
