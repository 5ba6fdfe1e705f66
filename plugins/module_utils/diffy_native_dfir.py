# Diffy native collector: the tables the DFIR pack added (issue 13) - open sockets, group
# memberships, password state (never the hash), loader/history environment variables, start-up
# items and kernel tunables.  Each follows the osquery 5.x table it stands in for (cited per builder)
# and keeps osquery's table and column names (specs/**/*.table).
#
# Standard library only, Python 3.6+: runs on the TARGET host inside the diffy_run_pack module.
# Registered in diffy_native_tables.py through DFIR_COLUMNS and DFIR_BUILDERS, the only two names
# that module needs from here.
from __future__ import absolute_import, division, print_function

import glob
import os
import socket
import struct

__metaclass__ = type


def _real(ctx, path):
    """Where the host path lives (a fixture root in conformance tests, "/" on a host)."""
    host = getattr(ctx, "host", None)
    return host(path) if host is not None else path


def _read(ctx, path):
    try:
        with open(_real(ctx, path), "rb") as handle:
            return handle.read().decode("utf-8", "surrogateescape")
    except (IOError, OSError):
        return None


def _pids(ctx):
    try:
        return sorted(int(n) for n in os.listdir(_real(ctx, "/proc")) if n.isdigit())
    except OSError:
        return []


# --- process_open_sockets (osquery/tables/networking/linux/process_open_sockets.cpp) -------------
# Sockets of every namespace a process is in, from /proc/<pid>/net/*, joined to pid/fd through the
# socket:[inode] links of /proc/<pid>/fd; a socket no process holds gets pid = fd = -1.

_TCP_STATES = {
    "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
    "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN",
    "0B": "CLOSING",
}  # fmt: skip
_INET_FILES = (("tcp", 6), ("udp", 17), ("udplite", 136), ("raw", 255))


def _hex_endpoint(text, family):
    address, port = text.split(":")
    raw = bytes.fromhex(address)
    if family == socket.AF_INET:
        host = socket.inet_ntop(socket.AF_INET, struct.pack("<I", struct.unpack(">I", raw)[0]))
    else:  # four little-endian 32-bit words
        words = struct.unpack(">4I", raw)
        host = socket.inet_ntop(socket.AF_INET6, struct.pack("<4I", *words))
    return host, int(port, 16)


def _socket_owners(ctx):
    owners = {}
    for pid in _pids(ctx):
        fd_dir = _real(ctx, "/proc/%d/fd" % pid)
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if target.startswith("socket:["):
                owners.setdefault(target[8:-1], (str(pid), fd))
    return owners


def _namespaces(ctx):
    """One pid per network namespace (its /proc/<pid>/net shows that namespace's sockets)."""
    seen = {}
    for pid in _pids(ctx):
        try:
            ns = os.readlink(_real(ctx, "/proc/%d/ns/net" % pid))
        except OSError:
            continue  # a zombie or a process that just exited: its namespace is someone else's too
        seen.setdefault(ns, pid)
    return seen


def _inet_rows(text, family, protocol, ns):
    rows = []
    for line in (text or "").splitlines()[1:]:
        parts = line.split()
        if len(parts) < 10:
            continue
        try:
            local, lport = _hex_endpoint(parts[1], family)
            remote, rport = _hex_endpoint(parts[2], family)
        except (ValueError, OSError):
            continue
        rows.append(
            {
                "socket": parts[9],
                "family": str(family),
                "protocol": str(protocol),
                "local_address": local,
                "local_port": str(lport),
                "remote_address": remote,
                "remote_port": str(rport),
                "path": "",
                "state": _TCP_STATES.get(parts[3].upper(), "") if protocol == 6 else "",
                "net_namespace": ns,
            }
        )
    return rows


def _packet_rows(text, ns):
    # /proc/net/packet: sk RefCnt Type Proto Iface R Rmem User Inode
    rows = []
    for line in (text or "").splitlines()[1:]:
        parts = line.split()
        if len(parts) < 9:
            continue
        rows.append(
            {
                "socket": parts[8],
                "family": "17",
                "protocol": "0",
                "local_address": "",
                "local_port": "0",
                "remote_address": "",
                "remote_port": "0",
                "path": "",
                "state": "",
                "net_namespace": ns,
            }
        )
    return rows


def table_process_open_sockets(ctx):
    owners = _socket_owners(ctx)
    rows = []
    for ns, pid in sorted(_namespaces(ctx).items()):
        ns_id = ns[5:-1] if ns.startswith("net:[") else ns
        for name, protocol in _INET_FILES:
            for suffix, family in (("", socket.AF_INET), ("6", socket.AF_INET6)):
                text = _read(ctx, "/proc/%d/net/%s%s" % (pid, name, suffix))
                rows.extend(_inet_rows(text, family, protocol, ns_id))
        rows.extend(_packet_rows(_read(ctx, "/proc/%d/net/packet" % pid), ns_id))
        if hasattr(ctx, "check_deadline"):
            ctx.check_deadline()
    unique, seen = [], set()
    for row in rows:  # a socket inode is unique system-wide: never report one twice
        key = (row["socket"], row["family"], row["protocol"])
        if row["socket"] != "0" and key in seen:
            continue
        seen.add(key)
        row["pid"], row["fd"] = owners.get(row["socket"], ("-1", "-1"))
        unique.append(row)
    return unique


# --- user_groups (osquery/tables/system/linux/user_groups.cpp): getgrouplist() per passwd user ---


def _passwd(ctx):
    users = []
    for line in (_read(ctx, "/etc/passwd") or "").splitlines():
        parts = line.split(":")
        if len(parts) >= 7 and parts[2].lstrip("-").isdigit() and parts[3].lstrip("-").isdigit():
            users.append((parts[0], int(parts[2]), int(parts[3])))
    return users


def _group_file(ctx):
    groups = []
    for line in (_read(ctx, "/etc/group") or "").splitlines():
        parts = line.split(":")
        if len(parts) >= 4 and parts[2].lstrip("-").isdigit():
            groups.append((parts[0], int(parts[2]), [m for m in parts[3].split(",") if m]))
    return groups


def table_user_groups(ctx):
    """The primary group, then every /etc/group entry listing the user (getgrouplist order)."""
    groups = _group_file(ctx)
    rows = []
    for name, uid, gid in _passwd(ctx):
        seen = [gid]
        for _group, group_gid, members in groups:
            if name in members and group_gid not in seen:
                seen.append(group_gid)
        rows.extend({"uid": str(uid), "gid": str(g)} for g in seen)
    return rows


# --- shadow (osquery/tables/system/linux/shadow.cpp) ---------------------------------------------
# password_status and hash_alg are derived exactly as genShadowForAccount does; the hash itself is
# never put into a row (osquery's table has no column for it either).


def _shadow_status(password):
    if password == "!!":
        return "not_set"
    if password[:1] in ("!", "*", "x"):
        return "locked"
    if password == "":
        return "empty"
    return "active"


def table_shadow(ctx):
    rows = []
    for line in (_read(ctx, "/etc/shadow") or "").splitlines():
        parts = line.split(":")
        if len(parts) < 9 or not parts[0]:
            continue
        password = parts[1]
        alg = ""
        if password.startswith("$") and "$" in password[1:]:
            candidate = password[1 : password.index("$", 1)]
            if candidate and all(c.isalnum() or c == "_" for c in candidate):
                alg = candidate
        # getspent() gives -1 for an empty numeric field; osquery prints BIGINT(-1)
        numbers = [p if p.lstrip("-").isdigit() else "-1" for p in parts[2:9]]
        rows.append(
            {
                "username": parts[0],
                "password_status": _shadow_status(password),
                "hash_alg": alg,
                "last_change": numbers[0],
                "min": numbers[1],
                "max": numbers[2],
                "warning": numbers[3],
                "inactive": numbers[4],
                "expire": numbers[5],
                "flag": numbers[6],
            }
        )
        password = None
    return rows


# --- process_envs (osquery/tables/system/linux/processes.cpp genProcessEnvs) ----------------------


def table_process_envs(ctx):
    rows = []
    for pid in _pids(ctx):
        try:
            with open(_real(ctx, "/proc/%d/environ" % pid), "rb") as handle:
                raw = handle.read()
        except (IOError, OSError):
            continue
        for item in raw.split(b"\0"):
            if b"=" not in item:
                continue
            key, _dummy, value = item.decode("utf-8", "surrogateescape").partition("=")
            rows.append({"pid": str(pid), "key": key, "value": value})
    return rows


# --- startup_items (osquery/tables/system/linux/startup_items.cpp) -------------------------------
# XDG autostart .desktop entries (Name=, Exec=) and autostart scripts of every home, /etc/init.d
# scripts and /etc/xdg/autostart.  osquery adds systemd units over D-Bus (type "systemd unit"); the
# native collector has no D-Bus client, and the pack reads units from systemd_units instead.


def _home_dirs(ctx):
    homes = []
    for line in (_read(ctx, "/etc/passwd") or "").splitlines():
        parts = line.split(":")
        if len(parts) >= 7 and parts[5] and parts[5] not in homes:
            homes.append(parts[5])
    return homes


def _list(ctx, directory):
    try:
        names = sorted(os.listdir(_real(ctx, directory)))
    except OSError:
        return []
    return [
        os.path.join(directory, n) for n in names if os.path.isfile(_real(ctx, os.path.join(directory, n)))
    ]


def _username(directory):
    parts = [p for p in directory.split("/") if p]
    return parts[1] if len(parts) > 1 and parts[0] == "home" else ""


def _items(ctx, directory, rows):
    for path in _list(ctx, directory):
        row = {"name": "", "path": "", "args": "", "type": "Startup Item", "status": "enabled"}
        for line in (_read(ctx, path) or "").split("\n"):
            for prefix, column in (("Name=", "name"), ("Exec=", "path")):
                if line.startswith(prefix):
                    details = [p.strip() for p in line.split("=") if p]
                    if len(details) == 2:
                        row[column] = details[1]
        row["source"] = directory
        row["username"] = _username(directory)
        rows.append(row)


def _scripts(ctx, directory, rows):
    for path in _list(ctx, directory):
        rows.append(
            {
                "name": os.path.basename(path),
                "path": path,
                "args": "",
                "type": "Startup Item",
                "status": "enabled",
                "source": directory,
                "username": _username(directory),
            }
        )


def table_startup_items(ctx):
    rows = []
    for home in _home_dirs(ctx):
        base = home.rstrip("/")
        # boost::filesystem: home / "/.config/autostart/" appends without doubling the slash
        _items(ctx, base + "/.config/autostart/", rows)
        _scripts(ctx, base + "/.config/autostart-scripts/", rows)
    _scripts(ctx, "/etc/init.d/", rows)
    _items(ctx, "/etc/xdg/autostart/", rows)
    return rows


# --- system_controls (osquery/tables/system/posix/system_controls.cpp, linux/sysctl_utils.cpp) ----

_SYSCTL_FILES = (
    "/run/sysctl.d/*.conf",
    "/etc/sysctl.d/*.conf",
    "/usr/local/lib/sysctl.d/*.conf",
    "/usr/lib/sysctl.d/*.conf",
    "/lib/sysctl.d/*.conf",
    "/etc/sysctl.conf",
)


def _configured(ctx):
    values = {}
    for pattern in _SYSCTL_FILES:
        for path in sorted(glob.glob(_real(ctx, pattern))):
            try:
                with open(path, "rb") as handle:
                    text = handle.read().decode("utf-8", "replace")
            except (IOError, OSError):
                continue
            for raw in text.splitlines():
                line = raw.strip()
                if not line or line[0] in "#;" or "=" not in line:
                    continue
                key, _dummy, value = line.partition("=")
                values[key.strip().replace("/", ".")] = value.strip()
    return values


def _control_files(ctx, base):
    """Every readable file under /proc/sys (genAllControls), or only the names the query constrains
    with = / IN (system_controls.cpp:82-87: genControlInfoFromName per name, sysctl_utils.cpp:108-118,
    '.' -> '/'); the engine then keeps the partial table for that query only."""
    names = getattr(ctx, "names", None)
    if names:
        ctx.narrowed = True
        for name in names:
            parts = name.split(".")
            if all(part not in ("", "..") and "/" not in part for part in parts):
                yield os.path.join(base, *parts)
        return
    for directory, _dirs, files in os.walk(base):
        for name in sorted(files):
            yield os.path.join(directory, name)


def table_system_controls(ctx):
    configured = _configured(ctx)
    base = _real(ctx, "/proc/sys")
    rows = []
    for path in _control_files(ctx, base):
        mib = os.path.relpath(path, base).replace("/", ".")
        try:
            if not os.stat(path).st_mode & 0o444:
                continue
            with open(path, "rb") as handle:
                value = handle.read(4096).decode("utf-8", "replace")
        except (IOError, OSError):
            continue
        rows.append(
            {
                "name": mib,
                "oid": "",
                "subsystem": mib.split(".")[0],
                "current_value": " ".join(value.split()),
                "config_value": configured.get(mib, ""),
                "type": "",
            }
        )
    return rows


DFIR_COLUMNS = {
    "process_open_sockets": [
        ("pid", "INTEGER"), ("fd", "BIGINT"), ("socket", "BIGINT"), ("family", "INTEGER"),
        ("protocol", "INTEGER"), ("local_address", "TEXT"), ("remote_address", "TEXT"),
        ("local_port", "INTEGER"), ("remote_port", "INTEGER"), ("path", "TEXT"), ("state", "TEXT"),
        ("net_namespace", "TEXT"),
    ],
    "user_groups": [("uid", "BIGINT"), ("gid", "BIGINT")],
    "shadow": [
        ("password_status", "TEXT"), ("hash_alg", "TEXT"), ("last_change", "BIGINT"), ("min", "BIGINT"),
        ("max", "BIGINT"), ("warning", "BIGINT"), ("inactive", "BIGINT"), ("expire", "BIGINT"),
        ("flag", "BIGINT"), ("username", "TEXT"),
    ],
    "process_envs": [("pid", "INTEGER"), ("key", "TEXT"), ("value", "TEXT")],
    "startup_items": [
        ("name", "TEXT"), ("path", "TEXT"), ("args", "TEXT"), ("type", "TEXT"), ("source", "TEXT"),
        ("status", "TEXT"), ("username", "TEXT"),
    ],
    "system_controls": [
        ("name", "TEXT"), ("oid", "TEXT"), ("subsystem", "TEXT"), ("current_value", "TEXT"),
        ("config_value", "TEXT"), ("type", "TEXT"),
    ],
}  # fmt: skip

DFIR_BUILDERS = {
    "process_open_sockets": table_process_open_sockets,
    "user_groups": table_user_groups,
    "shadow": table_shadow,
    "process_envs": table_process_envs,
    "startup_items": table_startup_items,
    "system_controls": table_system_controls,
}
