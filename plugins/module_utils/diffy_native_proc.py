# Diffy native collector: processes, listening_ports, kernel_modules, kernel_info - from /proc, as
# osquery 5.x prints them (osquery/tables/system/linux/processes.cpp, osquery/filesystem/linux/proc.cpp,
# osquery/tables/networking/listening_ports.cpp).

import os
import re
import socket
import struct

try:
    from ansible.module_utils.diffy_native_base import c_strtol, c_trim, osq_split, osq_split_once, read_text
except ImportError:
    try:
        from ansible_collections.diffy.diffy.plugins.module_utils.diffy_native_base import (
            c_strtol,
            c_trim,
            osq_split,
            osq_split_once,
            read_text,
        )
    except ImportError:
        from diffy_native_base import c_strtol, c_trim, osq_split, osq_split_once, read_text


CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_pids(ctx):
    """procEnumerateProcesses (osquery/filesystem/linux/proc.h:181-208) into a std::set<std::string>:
    directories whose atoll() is > 0, in STRING order ("1" < "10" < "2")."""
    try:
        names = os.listdir(ctx.host("/proc"))
    except OSError:
        return []
    pids = []
    for name in names:
        digits = re.match(r"\s*[+]?(\d+)", name)
        if digits and int(digits.group(1)) > 0 and os.path.isdir(ctx.host("/proc/" + name)):
            pids.append(name)
    return sorted(pids)


def _readlink(ctx, path):
    """readProcLink (processes.cpp:93-121): the link text, or "" when it cannot be read."""
    try:
        return os.readlink(ctx.host(path))
    except OSError:
        return ""


def boot_time(ctx):
    """getBootTime (osquery/utils/system/linux/boottime.cpp): the text after "btime " up to the newline."""
    content = read_text(ctx, "/proc/stat") or ""
    start = content.find("btime")
    if start < 0:
        return 0
    end = content.find("\n", start + 6)
    if end < 0:
        return 0
    return _ull(content[start + 6 : end])  # tryTo<std::uint64_t>(btime): base 10, 0 on failure


def _proc_stat(ctx, pid):
    """SimpleProcStat (processes.cpp:265-352); None where osquery drops the process."""
    out = dict.fromkeys(
        (
            "name",
            "uid",
            "euid",
            "suid",
            "gid",
            "egid",
            "sgid",
            "resident_size",
            "total_size",
            "state",
            "parent",
            "pgroup",
            "nice",
            "threads",
            "user_time",
            "system_time",
            "start_time",
        ),
        "",
    )
    content = read_text(ctx, "/proc/%s/stat" % pid)
    if content is not None:
        start = content.rfind(")")
        if start < 0 or len(content) <= start + 2:
            return None
        details = osq_split(content[start + 2 :], " ")
        if len(details) <= 19:
            return None
        out.update(
            state=details[0],
            parent=details[1],
            pgroup=details[2],
            user_time=details[11],
            system_time=details[12],
            nice=details[16],
            threads=details[17],
            start_time=details[19],
        )
    status = read_text(ctx, "/proc/%s/status" % pid)
    if status is None:
        return None
    for line in osq_split(status, "\n"):
        detail = osq_split_once(line, ":")
        if len(detail) != 2:
            continue
        key, value = detail
        if key == "Name":
            out["name"] = value
        elif key in ("VmRSS", "VmSize"):
            number = value[:-3]  # processes.cpp:308/322: the " kB" suffix is cut off
            if not number.isdigit():
                return None  # tryTo<uint64_t> failed: the whole process is dropped
            out["resident_size" if key == "VmRSS" else "total_size"] = str(int(number) * 1024)
        elif key in ("Uid", "Gid"):
            ids = osq_split(value, "\t")
            if len(ids) == 4:
                prefix = "u" if key == "Uid" else "g"
                out[prefix + "id"], out["e%sid" % prefix], out["s%sid" % prefix] = ids[:3]
    return out


def _on_disk(ctx, pid, path):
    """getOnDisk (processes.cpp:409-445): (-1|0|1, the path with ' (deleted)' removed when gone)."""
    if not path:
        return -1, path
    suffix = " (deleted)"
    if not path.endswith(suffix):
        return (1 if os.path.exists(ctx.host(path)) else 0), path
    if not os.path.exists(ctx.host(path)):
        return 0, path[: -len(suffix)]
    # A file really named "... (deleted)" exists: compare its inode with the one in maps.
    maps = read_text(ctx, "/proc/%s/maps" % pid)
    found = re.search(r"([0-9]+)[ \t]+" + re.escape(path), maps or "")
    if maps is None or not found:
        return -1, path
    if str(os.stat(ctx.host(path)).st_ino) == found.group(1):
        return 1, path
    return 0, path[: -len(suffix)]


def table_processes(ctx):
    """genProcess (processes.cpp:447-520) for every pid of getProcList."""
    boot = boot_time(ctx)
    ms_per_tick = 1000 // CLK_TCK  # kMSIn1CLKTCK, processes.cpp:39
    rows = []
    for pid in proc_pids(ctx):
        ctx.check_deadline()
        info = _proc_stat(ctx, pid)
        if info is None:
            continue
        raw = read_text(ctx, "/proc/%s/cmdline" % pid) or ""
        on_disk, path = _on_disk(ctx, pid, _readlink(ctx, "/proc/%s/exe" % pid))
        start = c_strtol(info["start_time"]) if info["start_time"] else None
        rows.append(
            {
                "pid": pid,
                "parent": info["parent"],
                "path": path,
                "name": info["name"],
                "pgroup": info["pgroup"],
                "state": info["state"],
                "nice": info["nice"],
                "threads": info["threads"],
                "cmdline": c_trim(raw.replace("\0", " ")),  # processes.cpp:46-60
                "cwd": _readlink(ctx, "/proc/%s/cwd" % pid),
                "root": _readlink(ctx, "/proc/%s/root" % pid),
                "uid": info["uid"],
                "euid": info["euid"],
                "suid": info["suid"],
                "gid": info["gid"],
                "egid": info["egid"],
                "sgid": info["sgid"],
                "on_disk": on_disk,
                "wired_size": "0",  # processes.cpp:487: "No support for unpagable counters in linux."
                "resident_size": info["resident_size"],
                "total_size": info["total_size"],
                "user_time": _ull(info["user_time"]) * ms_per_tick,
                "system_time": _ull(info["system_time"]) * ms_per_tick,
                "start_time": boot + start // CLK_TCK if start is not None and boot > 0 else -1,
            }
        )
    return rows


def _ull(text):
    """std::strtoull(s, nullptr, 10): the leading digits, 0 when there are none."""
    digits = re.match(r"[ \t\n\v\f\r]*\+?(\d+)", text)
    return int(digits.group(1)) & 0xFFFFFFFFFFFFFFFF if digits else 0


# --- listening_ports: process_open_sockets (osquery/tables/networking/linux/process_open_sockets.cpp)
# kLinuxProtocolNames (osquery/filesystem/linux/proc.h:53-59), a std::map: iterated by protocol number.
_PROTOCOLS = ((1, "icmp"), (6, "tcp"), (17, "udp"), (136, "udplite"), (255, "raw"))


def _hex_address(text, family):
    """procDecodeAddressFromHex (proc.cpp:88-112): "" unless 8 (IPv4) or 32 (IPv6) hex digits."""
    try:
        if family == 2 and len(text) == 8:
            return socket.inet_ntop(socket.AF_INET, struct.pack("<I", int(text, 16)))
        if family == 10 and len(text) == 32:
            words = [int(text[i : i + 8], 16) for i in range(0, 32, 8)]
            return socket.inet_ntop(socket.AF_INET6, struct.pack("<4I", *words))
    except ValueError:
        pass
    return ""


def _hex_port(text):
    """procDecodeUnsignedShortFromHex (proc.cpp:114-121): 0 unless exactly 4 hex digits."""
    try:
        return int(text, 16) if len(text) == 4 else 0
    except ValueError:
        return 0


def _inet_sockets(content, family, protocol, netns):
    """procGetSocketListInet (proc.cpp:172-234)."""
    lines = osq_split(content, "\n")
    if not lines or not (lines[0].startswith("sl") or lines[0].startswith("sk")):
        return []
    out = []
    for line in lines[1:]:
        fields = osq_split(line, " ")
        if len(fields) < 10:
            continue
        local, remote = osq_split(fields[1], ":"), osq_split(fields[2], ":")
        if len(local) != 2 or len(remote) != 2:
            continue
        out.append(
            {
                "socket": fields[9],
                "family": family,
                "protocol": protocol,
                "path": "",
                "local_address": _hex_address(local[0], family),
                "local_port": _hex_port(local[1]),
                "remote_port": _hex_port(remote[1]),
                "net_namespace": netns,
            }
        )
    return out


def _unix_sockets(content, netns):
    """procGetSocketListUnix (proc.cpp:236-270)."""
    lines = osq_split(content, "\n")
    if not lines or not lines[0].startswith("Num"):
        return []
    out = []
    for line in lines[1:]:
        fields = osq_split(line, " ")
        if len(fields) < 7:
            continue
        protocol = re.match(r"\s*([+-]?\d+)", fields[2])  # std::atoll
        out.append(
            {
                "socket": fields[6],
                "family": 1,
                "protocol": int(protocol.group(1)) if protocol else 0,
                "path": fields[7] if len(fields) >= 8 else "",
                "local_address": "",
                "local_port": 0,
                "remote_port": 0,
                "net_namespace": netns,
            }
        )
    return out


def _packet_sockets(content, netns):
    """procGetSocketListPacket (proc.cpp:126-170), protocol 0 = all."""
    lines = osq_split(content, "\n")
    if not lines or not (lines[0].startswith("sl") or lines[0].startswith("sk")):
        return []
    out = []
    for line in lines[1:]:
        fields = osq_split(line, " ")
        if len(fields) < 9:
            continue
        out.append(
            {
                "socket": fields[8],
                "family": 17,
                "protocol": _hex_port(fields[3]),
                "path": "",
                "local_address": "",
                "local_port": 0,
                "remote_port": 0,
                "net_namespace": netns,
            }
        )
    return out


def _net_namespace(ctx, pid):
    """procGetNamespaceInode (proc.cpp:27-61): the inode in "net:[N]", else 0."""
    found = re.match(r"^net:\[(\d+)\]$", _readlink(ctx, "/proc/%s/ns/net" % pid))
    return int(found.group(1)) if found and int(found.group(1)) else 0


def table_listening_ports(ctx):
    """process_open_sockets.cpp:27-172 then listening_ports.cpp:22-79."""
    owners, namespaces, sockets = {}, set(), []
    for pid in proc_pids(ctx):
        ctx.check_deadline()
        fd_dir = "/proc/%s/fd" % pid
        try:
            fds = os.listdir(ctx.host(fd_dir))  # readdir order, like boost's directory_iterator
        except OSError:
            fds = []
        for fd in fds:
            link = _readlink(ctx, fd_dir + "/" + fd)
            if link.startswith("socket:["):
                owners[link[8:-1]] = (pid, fd)  # proc.cpp:354-355: a later pid/fd overwrites
        netns = _net_namespace(ctx, pid)
        if netns in namespaces:
            continue
        namespaces.add(netns)  # the first pid of every network namespace reads that namespace's tables
        base = "/proc/%s/net/" % pid
        for protocol, name in _PROTOCOLS:
            for family, suffix in ((2, ""), (10, "6")):
                content = read_text(ctx, base + name + suffix)
                if content is not None:
                    sockets.extend(_inet_sockets(content, family, protocol, netns))
        content = read_text(ctx, base + "unix")
        if content is not None:
            sockets.extend(_unix_sockets(content, netns))
        content = read_text(ctx, base + "packet")
        if content is not None:
            sockets.extend(_packet_sockets(content, netns))
    rows = []
    for info in sockets:
        if info["family"] == 1 and not info["path"]:
            continue  # anonymous unix sockets (listening_ports.cpp:28-31)
        if info["family"] in (2, 10) and info["remote_port"] != 0:
            continue  # connected (listening_ports.cpp:33-37)
        pid, fd = owners.get(info["socket"], ("-1", "-1"))
        unix = info["family"] == 1
        rows.append(
            {
                "pid": pid,
                "fd": fd,
                "port": 0 if unix else info["local_port"],
                "path": info["path"] if unix else "",
                "socket": "0" if unix else info["socket"],
                "address": "" if unix else info["local_address"],
                "protocol": info["protocol"],
                "family": info["family"],
                "net_namespace": str(info["net_namespace"]),
            }
        )
    return rows


def table_kernel_modules(ctx):
    """osquery/tables/system/linux/kernel_modules.cpp:25-68."""
    if not os.path.exists(ctx.host("/proc/modules")):
        return []
    rows = []
    for module in osq_split(read_text(ctx, "/proc/modules") or "", "\n"):
        details = osq_split(module, " ")
        if len(details) < 6:
            continue
        details = [d[:-1] if d.endswith(",") else d for d in (c_trim(d) for d in details)]
        rows.append(
            {
                "name": details[0],
                "size": details[1],
                "used_by": details[3],
                "status": details[4],
                "address": details[5],
            }
        )
    return rows


def table_kernel_info(ctx):
    """osquery/tables/system/linux/kernel_info.cpp:22-69: BOOT_IMAGE= is the path, root= the device,
    every other argument is kept in order."""
    row = {"version": "", "arguments": "", "path": "", "device": ""}
    cmdline = read_text(ctx, "/proc/cmdline")
    if cmdline is not None:
        kept = []
        for argument in osq_split(cmdline, " "):
            if argument.startswith("BOOT_IMAGE="):
                row["path"] = argument[11:]
            elif argument.startswith("root="):
                row["device"] = argument[5:]
            else:
                kept.append(argument)
        row["arguments"] = " ".join(kept)
    signature = read_text(ctx, "/proc/version")
    if signature is not None:
        details = osq_split(signature, " ")
        if len(details) > 2 and details[1] == "version":
            row["version"] = details[2]
    return [row]
