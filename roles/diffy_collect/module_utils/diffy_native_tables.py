# Diffy native collector: osquery-compatible tables built from /proc, /etc and system tools.
#
# Runs on the TARGET host's Python 3 (3.6+), standard library only: it is shipped inside the
# diffy_run_pack module (Ansible module_utils) and reused, as a plain module, by the test-only
# stand-in osqueryi (tests/standin/).  Every table keeps osquery's table and column names (osquery
# specs/**/*.table) and, like osquery, every value is a string.
#
# A table builder takes a Context (the path constraints parsed from the SQL, and the query deadline)
# and returns a list of row dicts.  Builders read only what their table needs; `file` and `hash`
# only touch the paths the query names (see Context) and never walk the filesystem.
from __future__ import absolute_import, division, print_function

import grp
import hashlib
import os
import platform
import pwd
import re
import shutil
import stat
import struct
import subprocess
import time

__metaclass__ = type


class TableUnavailable(Exception):
    """The table cannot be built on this host (e.g. a tool it needs is missing) - an error, not 0 rows."""


class Context:
    """What a table builder may know about the query: constrained paths and the deadline."""

    def __init__(self, paths=None, directories=None, deadline=None):
        self.paths = list(paths or [])
        self.directories = list(directories or [])
        self.deadline = deadline

    def check_deadline(self):
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TimeoutError("query timed out while building a table")


COLUMNS = {
    "listening_ports": [
        "pid",
        "port",
        "protocol",
        "family",
        "address",
        "fd",
        "socket",
        "path",
        "net_namespace",
    ],
    "processes": [
        "pid",
        "name",
        "path",
        "cmdline",
        "state",
        "cwd",
        "root",
        "uid",
        "gid",
        "euid",
        "egid",
        "suid",
        "sgid",
        "on_disk",
        "wired_size",
        "resident_size",
        "total_size",
        "user_time",
        "system_time",
        "start_time",
        "parent",
        "pgroup",
        "threads",
        "nice",
    ],
    "crontab": ["event", "minute", "hour", "day_of_month", "month", "day_of_week", "command", "path"],
    "kernel_modules": ["name", "size", "used_by", "status", "address"],
    "users": [
        "uid",
        "gid",
        "uid_signed",
        "gid_signed",
        "username",
        "description",
        "directory",
        "shell",
        "uuid",
    ],
    "groups": ["gid", "gid_signed", "groupname"],
    "authorized_keys": ["uid", "algorithm", "key", "options", "comment", "key_file"],
    "suid_bin": ["path", "username", "groupname", "permissions"],
    "iptables": [
        "filter_name",
        "chain",
        "policy",
        "target",
        "protocol",
        "src_port",
        "dst_port",
        "src_ip",
        "src_mask",
        "iniface",
        "iniface_mask",
        "dst_ip",
        "dst_mask",
        "outiface",
        "outiface_mask",
        "match",
        "packets",
        "bytes",
    ],
    "systemd_units": [
        "id",
        "description",
        "load_state",
        "active_state",
        "sub_state",
        "following",
        "object_path",
        "job_id",
        "job_type",
        "job_path",
        "fragment_path",
        "user",
        "source_path",
    ],
    "deb_packages": [
        "name",
        "version",
        "source",
        "size",
        "arch",
        "revision",
        "status",
        "maintainer",
        "section",
        "priority",
        "admindir",
    ],
    "rpm_packages": [
        "name",
        "version",
        "release",
        "source",
        "size",
        "sha1",
        "arch",
        "epoch",
        "install_time",
        "vendor",
        "package_group",
    ],
    "mounts": [
        "device",
        "device_alias",
        "path",
        "type",
        "blocks_size",
        "blocks",
        "blocks_free",
        "blocks_available",
        "inodes",
        "inodes_free",
        "flags",
    ],
    "etc_hosts": ["address", "hostnames"],
    "sudoers": ["source", "header", "rule_details"],
    "file": [
        "path",
        "directory",
        "filename",
        "inode",
        "uid",
        "gid",
        "mode",
        "device",
        "size",
        "block_size",
        "atime",
        "mtime",
        "ctime",
        "btime",
        "hard_links",
        "symlink",
        "type",
    ],
    "hash": ["path", "directory", "md5", "sha1", "sha256"],
    "logged_in_users": ["type", "user", "tty", "host", "time", "pid"],
    "os_version": [
        "name",
        "version",
        "major",
        "minor",
        "patch",
        "build",
        "platform",
        "platform_like",
        "codename",
        "arch",
    ],
    "kernel_info": ["version", "arguments", "path", "device"],
}

PROC = "/proc"


def _read(path, binary=False):
    with open(path, "rb" if binary else "r", **({} if binary else {"errors": "replace"})) as handle:
        return handle.read()


def _lines(path):
    try:
        return _read(path).splitlines()
    except (IOError, OSError):
        return []


def _user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _pids():
    return sorted(int(name) for name in os.listdir(PROC) if name.isdigit())


# --- processes ---------------------------------------------------------------------------------


def _boot_time():
    for line in _lines(PROC + "/stat"):
        if line.startswith("btime "):
            return int(line.split()[1])
    return 0


def _process_row(pid, boot, hz, page):
    base = "%s/%d" % (PROC, pid)
    stat_text = _read(base + "/stat")
    # The command name may contain spaces and parentheses: split on the LAST ')'.
    rest = stat_text[stat_text.rfind(")") + 2 :].split()
    status = {}
    for line in _lines(base + "/status"):
        key, _, value = line.partition(":")
        status[key] = value.strip()
    uids = (status.get("Uid", "-1 -1 -1 -1").split() + ["-1"] * 4)[:4]
    gids = (status.get("Gid", "-1 -1 -1 -1").split() + ["-1"] * 4)[:4]
    try:
        cmdline = _read(base + "/cmdline", binary=True).rstrip(b"\0").replace(b"\0", b" ")
        cmdline = cmdline.decode("utf-8", "replace")
    except (IOError, OSError):
        cmdline = ""
    try:
        path = os.readlink(base + "/exe")
    except OSError:
        path = ""
    on_disk = "-1"
    if path:
        deleted = path.endswith(" (deleted)")
        if deleted:
            path = path[: -len(" (deleted)")]
        on_disk = "0" if deleted or not os.path.exists(path) else "1"
    try:
        cwd = os.readlink(base + "/cwd")
    except OSError:
        cwd = ""
    try:
        root = os.readlink(base + "/root")
    except OSError:
        root = ""
    name = status.get("Name", stat_text[stat_text.find("(") + 1 : stat_text.rfind(")")])
    rss_kb = status.get("VmRSS", "0 kB").split()[0]
    size_kb = status.get("VmSize", "0 kB").split()[0]
    lck_kb = status.get("VmLck", "0 kB").split()[0]
    start_ticks = int(rest[19])
    return {
        "pid": str(pid),
        "name": name,
        "path": path,
        "cmdline": cmdline,
        "state": rest[0],
        "cwd": cwd,
        "root": root,
        "uid": uids[0],
        "euid": uids[1],
        "suid": uids[2],
        "gid": gids[0],
        "egid": gids[1],
        "sgid": gids[2],
        "on_disk": on_disk,
        "wired_size": str(int(lck_kb) * 1024),
        "resident_size": str(int(rss_kb) * 1024),
        "total_size": str(int(size_kb) * 1024),
        "user_time": str(int(rest[11]) * 1000 // hz),
        "system_time": str(int(rest[12]) * 1000 // hz),
        "start_time": str(boot + start_ticks // hz) if boot else "-1",
        "parent": rest[1],
        "pgroup": rest[2],
        "threads": status.get("Threads", rest[17]),
        "nice": rest[16],
    }


def table_processes(ctx):
    hz = os.sysconf("SC_CLK_TCK") or 100
    page = os.sysconf("SC_PAGE_SIZE") or 4096
    boot = _boot_time()
    rows = []
    for pid in _pids():
        ctx.check_deadline()
        try:
            rows.append(_process_row(pid, boot, hz, page))
        except (IOError, OSError, IndexError, ValueError):
            continue  # the process exited while we read it
    return rows


# --- listening_ports ---------------------------------------------------------------------------


def _socket_owners():
    """Map socket inode -> (pid, fd) by reading /proc/<pid>/fd links."""
    owners = {}
    for pid in _pids():
        fd_dir = "%s/%d/fd" % (PROC, pid)
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd_dir + "/" + fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                owners.setdefault(target[8:-1], (str(pid), fd))
    return owners


def _hex_address(text, family):
    raw = bytes.fromhex(text)
    if family == 4:
        return ".".join(str(b) for b in raw[::-1])
    # /proc prints IPv6 as four host-order 32-bit words.
    words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
    packed = b"".join(words)
    import socket

    return socket.inet_ntop(socket.AF_INET6, packed)


def _net_namespace():
    try:
        link = os.readlink(PROC + "/self/ns/net")
        return link[link.find("[") + 1 : link.rfind("]")]
    except OSError:
        return "0"


def table_listening_ports(ctx):
    owners = _socket_owners()
    netns = _net_namespace()
    rows = []
    specs = (("tcp", "6", 4), ("tcp6", "6", 6), ("udp", "17", 4), ("udp6", "17", 6))
    for name, proto, family in specs:
        for line in _lines("%s/net/%s" % (PROC, name))[1:]:
            fields = line.split()
            if len(fields) < 10:
                continue
            # TCP: only LISTEN (0A).  UDP: every bound socket, as osquery does.
            if proto == "6" and fields[3] != "0A":
                continue
            addr_hex, port_hex = fields[1].split(":")
            inode = fields[9]
            pid, fd = owners.get(inode, ("-1", "-1"))
            rows.append(
                {
                    "pid": pid,
                    "port": str(int(port_hex, 16)),
                    "protocol": proto,
                    "family": "2" if family == 4 else "10",
                    "address": _hex_address(addr_hex, family),
                    "fd": fd,
                    "socket": inode,
                    "path": "",
                    "net_namespace": netns,
                }
            )
    for line in _lines(PROC + "/net/unix")[1:]:
        fields = line.split()
        # Flags 00010000 = __SO_ACCEPTCON: a listening unix socket.
        if len(fields) >= 8 and int(fields[3], 16) & 0x10000:
            pid, fd = owners.get(fields[6], ("-1", "-1"))
            rows.append(
                {
                    "pid": pid,
                    "port": "0",
                    "protocol": "0",
                    "family": "1",
                    "address": "",
                    "fd": fd,
                    "socket": fields[6],
                    "path": fields[7],
                    "net_namespace": netns,
                }
            )
    return rows


# --- accounts ----------------------------------------------------------------------------------


def _signed(value):
    number = int(value)
    return str(number - (1 << 32) if number >= (1 << 31) else number)


def table_users(ctx):
    rows = []
    for line in _lines("/etc/passwd"):
        parts = line.split(":")
        if len(parts) < 7 or line.startswith("#"):
            continue
        rows.append(
            {
                "uid": parts[2],
                "gid": parts[3],
                "uid_signed": _signed(parts[2]),
                "gid_signed": _signed(parts[3]),
                "username": parts[0],
                "description": parts[4],
                "directory": parts[5],
                "shell": parts[6],
                "uuid": "",
            }
        )
    return rows


def table_groups(ctx):
    rows = []
    for line in _lines("/etc/group"):
        parts = line.split(":")
        if len(parts) < 3 or line.startswith("#"):
            continue
        rows.append({"gid": parts[2], "gid_signed": _signed(parts[2]), "groupname": parts[0]})
    return rows


_KEY_TYPES = re.compile(r"^(ssh-(rsa|dss|ed25519|ed448)|ecdsa-sha2-nistp\d+|sk-\S+@openssh\.com)$")


def _parse_authorized_key(line):
    """Split an authorized_keys line into (options, algorithm, key, comment)."""
    tokens = line.split()
    options = ""
    if tokens and not _KEY_TYPES.match(tokens[0]):
        # Options come first; they may contain quoted spaces, so find the key type token.
        for index, token in enumerate(tokens):
            if _KEY_TYPES.match(token):
                options = " ".join(tokens[:index])
                tokens = tokens[index:]
                break
        else:
            return None
    if len(tokens) < 2:
        return None
    return options, tokens[0], tokens[1], " ".join(tokens[2:])


def table_authorized_keys(ctx):
    rows = []
    seen = set()
    for user in table_users(ctx):
        for name in ("authorized_keys", "authorized_keys2"):
            key_file = os.path.join(user["directory"], ".ssh", name)
            if key_file in seen:
                continue
            seen.add(key_file)
            for raw in _lines(key_file):
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                parsed = _parse_authorized_key(line)
                if parsed is None:
                    continue
                options, algorithm, key, comment = parsed
                rows.append(
                    {
                        "uid": user["uid"],
                        "algorithm": algorithm,
                        "key": key,
                        "options": options,
                        "comment": comment,
                        "key_file": key_file,
                    }
                )
    return rows


_UTMP_TYPES = {
    0: "empty",
    1: "runlevel",
    2: "boot_time",
    3: "new_time",
    4: "old_time",
    5: "init",
    6: "login",
    7: "user",
    8: "dead",
    9: "accounting",
}
_UTMP = struct.Struct("<hxxi32s4s32s256shhiii4i20s")


def _cstr(raw):
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def table_logged_in_users(ctx):
    """utmp records (glibc x86_64/aarch64 layout, 384 bytes), like osquery's getutxent loop."""
    for path in ("/run/utmp", "/var/run/utmp"):
        if os.path.exists(path):
            break
    else:
        return []
    data = _read(path, binary=True)
    rows = []
    for offset in range(0, len(data) - _UTMP.size + 1, _UTMP.size):
        rec = _UTMP.unpack_from(data, offset)
        ut_type, pid, line, _id, user, host = rec[0], rec[1], rec[2], rec[3], rec[4], rec[5]
        if pid == 1 or ut_type == 0:
            continue  # osquery skips init's records; empty slots carry nothing
        rows.append(
            {
                "type": _UTMP_TYPES.get(ut_type, "unknown"),
                "user": _cstr(user),
                "tty": _cstr(line),
                "host": _cstr(host),
                "time": str(rec[9]),
                "pid": str(pid),
            }
        )
    return rows


# --- scheduled tasks, privileges -----------------------------------------------------------------


def _crontab_files():
    files = ["/etc/crontab"]
    for directory in ("/etc/cron.d", "/var/spool/cron/crontabs", "/var/spool/cron"):
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        files.extend(
            os.path.join(directory, n)
            for n in names
            if os.path.isfile(os.path.join(directory, n)) and not n.startswith(".")
        )
    return files


def table_crontab(ctx):
    rows = []
    for path in _crontab_files():
        for raw in _lines(path):
            line = raw.strip()
            if not line or line.startswith("#") or re.match(r"^[A-Za-z_][A-Za-z0-9_]*\s*=", line):
                continue
            if line.startswith("@"):
                event, _, command = line.partition(" ")
                rows.append(
                    {
                        "event": event,
                        "minute": "",
                        "hour": "",
                        "day_of_month": "",
                        "month": "",
                        "day_of_week": "",
                        "command": command.strip(),
                        "path": path,
                    }
                )
                continue
            fields = line.split(None, 5)
            if len(fields) < 6:
                continue
            rows.append(
                {
                    "event": "",
                    "minute": fields[0],
                    "hour": fields[1],
                    "day_of_month": fields[2],
                    "month": fields[3],
                    "day_of_week": fields[4],
                    "command": fields[5],
                    "path": path,
                }
            )
    return rows


def _sudoers_lines(path, depth, out):
    if depth > 8:
        return
    pending = ""
    for raw in _lines(path):
        line = pending + raw.strip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        if not line:
            continue
        include = re.match(r"^[#@](include|includedir)\s+(\S+)", line)
        if include:
            out.append({"source": path, "header": "#" + include.group(1), "rule_details": include.group(2)})
            target = include.group(2)
            if include.group(1) == "includedir":
                try:
                    names = sorted(os.listdir(target))
                except OSError:
                    names = []
                for name in names:
                    # sudo skips names with a '.' or ending in '~'
                    if "." not in name and not name.endswith("~"):
                        _sudoers_lines(os.path.join(target, name), depth + 1, out)
            else:
                _sudoers_lines(target, depth + 1, out)
            continue
        if line.startswith("#"):
            continue
        header, _, details = line.partition(" ")
        out.append({"source": path, "header": header, "rule_details": details.strip()})


def table_sudoers(ctx):
    rows = []
    _sudoers_lines("/etc/sudoers", 0, rows)
    return rows


_SUID_DIRS = ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/tmp")
# osquery walks these directories recursively.  We stop SUID_MAX_DEPTH levels below each one, so a
# /tmp full of build or test trees cannot stall collection (setuid drops sit at shallow depth).
SUID_MAX_DEPTH = 3


def table_suid_bin(ctx):
    rows = []
    seen = set()
    for top in _SUID_DIRS:
        if os.path.islink(top):
            continue  # /bin -> /usr/bin on merged-/usr systems: scan once
        for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
            if dirpath[len(top) :].count(os.sep) >= SUID_MAX_DEPTH:
                del dirnames[:]
            ctx.check_deadline()
            for name in filenames:
                path = os.path.join(dirpath, name)
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) in seen:
                    continue
                perms = "S" if info.st_mode & stat.S_ISUID else ""
                perms += "G" if info.st_mode & stat.S_ISGID else ""
                if perms:
                    seen.add((info.st_dev, info.st_ino))
                    rows.append(
                        {
                            "path": path,
                            "username": _user_name(info.st_uid),
                            "groupname": _group_name(info.st_gid),
                            "permissions": perms,
                        }
                    )
    return rows


# --- kernel, system ------------------------------------------------------------------------------


def table_kernel_modules(ctx):
    rows = []
    for line in _lines(PROC + "/modules"):
        fields = line.split()
        if len(fields) >= 6:
            rows.append(
                {
                    "name": fields[0],
                    "size": fields[1],
                    "used_by": fields[3],
                    "status": fields[4],
                    "address": fields[5],
                }
            )
    return rows


def table_kernel_info(ctx):
    cmdline = _read(PROC + "/cmdline").strip() if os.path.exists(PROC + "/cmdline") else ""
    args, path, device = [], "", ""
    for token in cmdline.split():
        if token.startswith("BOOT_IMAGE="):
            path = token.split("=", 1)[1]
        elif token.startswith("root="):
            device = token.split("=", 1)[1]
            args.append(token)
        else:
            args.append(token)
    return [{"version": platform.release(), "arguments": " ".join(args), "path": path, "device": device}]


def _os_release():
    values = {}
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        for line in _lines(path):
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip().strip('"').strip("'")
        if values:
            break
    return values


def table_os_version(ctx):
    rel = _os_release()
    version_id = rel.get("VERSION_ID", "")
    parts = ([*version_id.split("."), "", "", ""])[:3]
    return [
        {
            "name": rel.get("NAME", platform.system()),
            "version": rel.get("VERSION", version_id),
            "major": parts[0],
            "minor": parts[1],
            "patch": parts[2],
            "build": rel.get("BUILD_ID", ""),
            "platform": rel.get("ID", ""),
            "platform_like": rel.get("ID_LIKE", ""),
            "codename": rel.get("VERSION_CODENAME", ""),
            "arch": platform.machine(),
        }
    ]


_NETWORK_FS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afs", "ceph", "glusterfs")
STATVFS_TIMEOUT_S = 2.0
"""How long one mount's statvfs may take.  A FUSE daemon that stopped answering (a stuck s3fs) or a
dead NFS server blocks statvfs in the kernel where no deadline check reaches, so each call runs
in a daemon worker thread and a mount that does not answer keeps empty size fields."""


def bounded_statvfs(path, timeout=STATVFS_TIMEOUT_S):
    """os.statvfs(path), or None when it fails or does not return within ``timeout`` seconds (the
    blocked worker thread is abandoned; it ends when the filesystem answers or the process exits)."""
    import threading

    answer = []

    def work():
        try:
            answer.append(os.statvfs(path))
        except OSError:
            answer.append(None)

    worker = threading.Thread(target=work, name="diffy-statvfs", daemon=True)
    worker.start()
    worker.join(timeout)
    return answer[0] if answer else None


def table_mounts(ctx):
    rows = []
    for line in _lines(PROC + "/mounts"):
        fields = line.split()
        if len(fields) < 4:
            continue
        device, path, fstype, flags = (f.replace("\\040", " ") for f in fields[:4])
        row = {
            "device": device,
            "device_alias": device,
            "path": path,
            "type": fstype,
            "flags": flags,
            "blocks_size": "",
            "blocks": "",
            "blocks_free": "",
            "blocks_available": "",
            "inodes": "",
            "inodes_free": "",
        }
        # statvfs on a hung network filesystem blocks: skip those, and bound every other call.
        if fstype not in _NETWORK_FS:
            ctx.check_deadline()
            vfs = bounded_statvfs(path)
            if vfs is not None:
                row.update(
                    blocks_size=str(vfs.f_bsize),
                    blocks=str(vfs.f_blocks),
                    blocks_free=str(vfs.f_bfree),
                    blocks_available=str(vfs.f_bavail),
                    inodes=str(vfs.f_files),
                    inodes_free=str(vfs.f_ffree),
                )
        rows.append(row)
    return rows


def table_etc_hosts(ctx):
    rows = []
    for raw in _lines("/etc/hosts"):
        fields = raw.split("#", 1)[0].split()
        if len(fields) >= 2:
            rows.append({"address": fields[0], "hostnames": " ".join(fields[1:])})
    return rows


def _run_tool(argv, ctx):
    timeout = None
    if ctx.deadline is not None:
        timeout = max(1.0, ctx.deadline - time.monotonic())
    proc = subprocess.run(
        argv,
        check=False,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=timeout,
        universal_newlines=True,
        errors="replace",
    )
    if proc.returncode != 0:
        raise TableUnavailable("%s exited %d: %s" % (argv[0], proc.returncode, proc.stderr.strip()[:300]))
    return proc.stdout


def _which(name):
    found = shutil.which(name)
    if found:
        return found
    for directory in ("/usr/sbin", "/sbin", "/usr/bin", "/bin"):
        candidate = os.path.join(directory, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _iptables_rule(tokens):
    rule = {
        "target": "",
        "protocol": "",
        "src_port": "",
        "dst_port": "",
        "src_ip": "0.0.0.0",
        "src_mask": "0.0.0.0",
        "iniface": "",
        "iniface_mask": "",
        "dst_ip": "0.0.0.0",
        "dst_mask": "0.0.0.0",
        "outiface": "",
        "outiface_mask": "",
        "match": "",
    }
    matches = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        value = tokens[index + 1] if index + 1 < len(tokens) else ""
        if token in ("-j", "-g"):
            rule["target"] = value
        elif token == "-p":
            rule["protocol"] = value
        elif token in ("-s", "-d"):
            ip, _, bits = value.partition("/")
            mask = _cidr_mask(bits) if bits else "255.255.255.255"
            key = "src" if token == "-s" else "dst"
            rule[key + "_ip"], rule[key + "_mask"] = ip, mask
        elif token == "-i":
            rule["iniface"] = value
        elif token == "-o":
            rule["outiface"] = value
        elif token in ("--sport", "--source-port", "--dport", "--destination-port"):
            rule["src_port" if token[2] == "s" else "dst_port"] = value
        elif token == "-m":
            matches.append(value)
        else:
            index += 1
            continue
        index += 2
    rule["match"] = ",".join(matches)
    return rule


def _cidr_mask(bits):
    try:
        number = (0xFFFFFFFF << (32 - int(bits))) & 0xFFFFFFFF
    except ValueError:
        return bits
    return ".".join(str((number >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def table_iptables(ctx):
    """Parse `iptables-save -c`.  Every rule is a row carrying its chain's policy; a chain with no
    rules still gets one row, so a changed policy is visible."""
    try:
        loaded = [t for t in _lines(PROC + "/net/ip_tables_names") if t.strip()]
    except Exception:
        loaded = []
    tool = _which("iptables-save")
    if tool is None:
        if not loaded:
            return []  # no iptables tables loaded in this kernel: truthfully no rules
        raise TableUnavailable("iptables tables are loaded but iptables-save is not installed")
    rows = []
    table, policies, has_rules = "", {}, set()
    for raw in _run_tool([tool, "-c"], ctx).splitlines():
        line = raw
        if line.startswith("*"):
            table, policies, has_rules = line[1:], {}, set()
        elif line.startswith(":"):
            name, policy = line[1:].split()[:2]
            policies[name] = policy if policy != "-" else ""
        elif line.startswith(("[", "-A")):
            packets = byte_count = "0"
            if line.startswith("["):
                counters, _, line = line.partition(" ")
                packets, _, byte_count = counters.strip("[]").partition(":")
            tokens = line.split()
            chain = tokens[1]
            has_rules.add(chain)
            row = {
                "filter_name": table,
                "chain": chain,
                "policy": policies.get(chain, ""),
                "packets": packets,
                "bytes": byte_count,
            }
            row.update(_iptables_rule(tokens[2:]))
            rows.append(row)
        elif line == "COMMIT":
            for chain, policy in policies.items():
                if chain not in has_rules:
                    row = {
                        "filter_name": table,
                        "chain": chain,
                        "policy": policy,
                        "packets": "0",
                        "bytes": "0",
                    }
                    row.update(_iptables_rule([]))
                    rows.append(row)
    return rows


_UNIT_PROPS = (
    "Id",
    "Description",
    "LoadState",
    "ActiveState",
    "SubState",
    "Following",
    "FragmentPath",
    "SourcePath",
    "User",
)


def table_systemd_units(ctx):
    if not os.path.isdir("/run/systemd/system"):
        return []  # systemd is not the running init: no units are loaded
    tool = _which("systemctl")
    if tool is None:
        raise TableUnavailable("systemd is running but systemctl is not installed")
    listing = _run_tool([tool, "list-units", "--all", "--full", "--no-legend", "--no-pager", "--plain"], ctx)
    units = [line.split()[0] for line in listing.splitlines() if line.strip()]
    rows = []
    for start in range(0, len(units), 200):
        chunk = units[start : start + 200]
        shown = _run_tool([tool, "show", "--no-pager", "-p", ",".join(_UNIT_PROPS), "--", *chunk], ctx)
        for block in shown.strip().split("\n\n"):
            props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
            if not props.get("Id"):
                continue
            rows.append(
                {
                    "id": props["Id"],
                    "description": props.get("Description", ""),
                    "load_state": props.get("LoadState", ""),
                    "active_state": props.get("ActiveState", ""),
                    "sub_state": props.get("SubState", ""),
                    "following": props.get("Following", ""),
                    "object_path": "",
                    "job_id": "0",
                    "job_type": "",
                    "job_path": "",
                    "fragment_path": props.get("FragmentPath", ""),
                    "user": props.get("User", ""),
                    "source_path": props.get("SourcePath", ""),
                }
            )
    return rows


# --- packages ------------------------------------------------------------------------------------


def table_deb_packages(ctx):
    admindir = "/var/lib/dpkg"
    status_path = admindir + "/status"
    if not os.path.exists(status_path):
        return []
    rows = []
    for stanza in _read(status_path).split("\n\n"):
        fields, last = {}, None
        for line in stanza.splitlines():
            if line[:1] in (" ", "\t") and last:
                continue  # continuation lines (long descriptions, conffiles)
            key, sep, value = line.partition(":")
            if sep:
                last = key
                fields[key] = value.strip()
        if "Package" not in fields:
            continue
        version = fields.get("Version", "")
        revision = version.rsplit("-", 1)[1] if "-" in version else ""
        rows.append(
            {
                "name": fields["Package"],
                "version": version,
                "source": fields.get("Source", ""),
                "size": fields.get("Installed-Size", ""),
                "arch": fields.get("Architecture", ""),
                "revision": revision,
                "status": fields.get("Status", ""),
                "maintainer": fields.get("Maintainer", ""),
                "section": fields.get("Section", ""),
                "priority": fields.get("Priority", ""),
                "admindir": admindir,
            }
        )
    return rows


_RPM_FIELDS = (
    "NAME",
    "VERSION",
    "RELEASE",
    "SOURCERPM",
    "SIZE",
    "SHA1HEADER",
    "ARCH",
    "EPOCHNUM",
    "INSTALLTIME",
    "VENDOR",
    "GROUP",
)


def table_rpm_packages(ctx):
    tool = _which("rpm")
    if tool is None:
        if os.path.isdir("/var/lib/rpm") and os.listdir("/var/lib/rpm"):
            raise TableUnavailable("an RPM database exists but the rpm tool is not installed")
        return []  # not an RPM-based host
    fmt = "\\t".join("%%{%s}" % f for f in _RPM_FIELDS) + "\\n"
    rows = []
    for line in _run_tool([tool, "-qa", "--qf", fmt], ctx).splitlines():
        values = [("" if v == "(none)" else v) for v in line.split("\t")]
        if len(values) != len(_RPM_FIELDS):
            continue
        rows.append(dict(zip(COLUMNS["rpm_packages"], values)))
    return rows


# --- file and hash: only the paths the query names -------------------------------------------------


def _constrained_paths(ctx):
    paths = list(ctx.paths)
    for directory in ctx.directories:  # one level, like osquery's directory = '...' constraint
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        paths.extend(os.path.join(directory, n) for n in names)
    return paths


_FILE_TYPES = (
    (stat.S_ISREG, "regular"),
    (stat.S_ISDIR, "directory"),
    (stat.S_ISLNK, "symlink"),
    (stat.S_ISCHR, "character"),
    (stat.S_ISBLK, "block"),
    (stat.S_ISFIFO, "fifo"),
    (stat.S_ISSOCK, "socket"),
)


def table_file(ctx):
    rows = []
    for path in _constrained_paths(ctx):
        ctx.check_deadline()
        try:
            info = os.lstat(path)
        except OSError:
            continue  # a named path that does not exist has no row, as in osquery
        symlink = stat.S_ISLNK(info.st_mode)
        if symlink:
            try:
                info = os.stat(path)  # osquery reports the target's metadata and symlink = 1
            except OSError:
                info = os.lstat(path)  # a dangling link: keep the link's own metadata
        kind = next((name for test, name in _FILE_TYPES if test(info.st_mode)), "unknown")
        rows.append(
            {
                "path": path,
                "directory": os.path.dirname(path),
                "filename": os.path.basename(path),
                "inode": str(info.st_ino),
                "uid": str(info.st_uid),
                "gid": str(info.st_gid),
                "mode": "%04o" % stat.S_IMODE(info.st_mode),
                "device": str(info.st_rdev),
                "size": str(info.st_size),
                "block_size": str(getattr(info, "st_blksize", 0)),
                "atime": str(int(info.st_atime)),
                "mtime": str(int(info.st_mtime)),
                "ctime": str(int(info.st_ctime)),
                "btime": "0",
                "hard_links": str(info.st_nlink),
                "symlink": "1" if symlink else "0",
                "type": kind,
            }
        )
    return rows


def table_hash(ctx):
    rows = []
    for path in _constrained_paths(ctx):
        if not os.path.isfile(path):
            continue
        digests = [hashlib.md5(), hashlib.sha1(), hashlib.sha256()]
        try:
            with open(path, "rb") as handle:
                while True:
                    ctx.check_deadline()
                    block = handle.read(1 << 20)
                    if not block:
                        break
                    for digest in digests:
                        digest.update(block)
        except (IOError, OSError):
            continue
        rows.append(
            {
                "path": path,
                "directory": os.path.dirname(path),
                "md5": digests[0].hexdigest(),
                "sha1": digests[1].hexdigest(),
                "sha256": digests[2].hexdigest(),
            }
        )
    return rows


BUILDERS = {
    "listening_ports": table_listening_ports,
    "processes": table_processes,
    "crontab": table_crontab,
    "kernel_modules": table_kernel_modules,
    "users": table_users,
    "groups": table_groups,
    "authorized_keys": table_authorized_keys,
    "suid_bin": table_suid_bin,
    "iptables": table_iptables,
    "systemd_units": table_systemd_units,
    "deb_packages": table_deb_packages,
    "rpm_packages": table_rpm_packages,
    "mounts": table_mounts,
    "etc_hosts": table_etc_hosts,
    "sudoers": table_sudoers,
    "file": table_file,
    "hash": table_hash,
    "logged_in_users": table_logged_in_users,
    "os_version": table_os_version,
    "kernel_info": table_kernel_info,
}

# Tables whose rows depend on the query's constraints: rebuilt for every query, never cached.
CONSTRAINED = frozenset(["file", "hash"])
