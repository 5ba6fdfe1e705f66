# Diffy native collector: `diffy_file_capabilities`, Diffy's own table (not an osquery table: osquery
# has no Linux table for file capabilities), answered by this engine under every collector, like
# diffy_firewall_rules.  One row per file that carries a `security.capability` extended attribute
# (what `setcap` writes and `getcap -r` lists), under the directories where binaries live and where
# attackers stage them (T1548.001: `setcap cap_setuid=ep` on a copy of an interpreter is a setuid
# bit that suid_bin cannot see).
#
# Bounded: each walk root is read at most MAX_DEPTH levels deep and MAX_ENTRIES entries; a root whose
# walk hit a bound gets one extra row with an empty `capabilities` and `capped` saying which bound,
# so a cut listing is never silent.  Symlinks are never followed, other filesystems are not entered.
#
# The xattr's layout is struct vfs_cap_data of the kernel's include/uapi/linux/capability.h:
# le32 magic_etc (revision in the top byte, VFS_CAP_FLAGS_EFFECTIVE in bit 0), then one (permitted,
# inheritable) le32 pair per 32 capabilities (revision 1: one pair; 2 and 3: two), then revision 3's
# le32 rootid (the namespace root the capabilities are valid for).
#
# Standard library only, Python 3.6+ (runs on the TARGET host inside diffy_run_pack).
from __future__ import absolute_import, division, print_function

import os
import struct

__metaclass__ = type

XATTR = "security.capability"
MAX_DEPTH = 4  # /opt/vendor/app/bin/tool is in reach; depth 5 cost 3-5x the time (the readdirs)
MAX_ENTRIES = 20000
# /bin, /sbin and /lib are links into /usr on merged-/usr systems: roots are de-duplicated by their
# real path.  /usr/lib and /usr/share are left out (tens of thousands of library files, no caps).
ROOTS = (
    "/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/libexec", "/usr/local", "/opt", "/srv",
    "/root", "/home", "/tmp", "/var/tmp", "/dev/shm", "/var/www",
)  # fmt: skip
COLUMNS = ("path", "capabilities", "rootid", "capped")

_REVISIONS = {0x01000000: (1, 12), 0x02000000: (2, 20), 0x03000000: (2, 24)}  # u32 pairs, min size
_FLAGS_EFFECTIVE = 0x000001
# include/uapi/linux/capability.h, CAP_CHOWN (0) .. CAP_CHECKPOINT_RESTORE (40)
NAMES = (
    "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid",
    "setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw",
    "ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
    "sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod",
    "lease", "audit_write", "audit_control", "setfcap", "mac_override", "mac_admin", "syslog",
    "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
)  # fmt: skip


def _name(bit):
    return "cap_" + NAMES[bit] if bit < len(NAMES) else "cap_%d" % bit


def decode(raw):
    """vfs_cap_data -> (text, rootid).  The text is getcap's style: capabilities sharing the same
    flags joined by ',' then '=' and the flags in 'eip' order, clauses by ' ' (libcap's cap_to_text
    may fold a clause further, e.g. into '=ep' for all; this never does).  Unknown revision or a short
    value -> ('invalid:<hex>', '')."""
    if len(raw) < 4:
        return "invalid:" + raw.hex(), ""
    magic = struct.unpack("<I", raw[:4])[0]
    shape = _REVISIONS.get(magic & 0xFF000000)
    if shape is None or len(raw) < shape[1]:
        return "invalid:" + raw.hex(), ""
    pairs, size = shape
    permitted = inheritable = 0
    for index in range(pairs):
        perm, inh = struct.unpack("<II", raw[4 + 8 * index : 12 + 8 * index])
        permitted |= perm << (32 * index)
        inheritable |= inh << (32 * index)
    effective = bool(magic & _FLAGS_EFFECTIVE)
    groups = {}
    for bit in range(64):
        flags = ""
        if effective and (permitted | inheritable) >> bit & 1:  # libcap: e covers p and i
            flags += "e"
        if inheritable >> bit & 1:
            flags += "i"
        if permitted >> bit & 1:
            flags += "p"
        if flags:
            groups.setdefault(flags, []).append(_name(bit))
    text = " ".join(",".join(names) + "=" + flags for flags, names in sorted(groups.items()))
    rootid = str(struct.unpack("<I", raw[20:24])[0]) if size == 24 else ""
    return text, rootid


def _capability(real):
    try:
        return os.getxattr(real, XATTR, follow_symlinks=False)
    except OSError:  # ENODATA (no capabilities), ENOTSUP (a filesystem without xattrs), gone
        return None


def _walk(ctx, root, rows):
    """Depth-first under `root` (host path); returns the bound hit ('' when none)."""
    real_root = ctx.host(root)
    try:
        device = os.lstat(real_root).st_dev
    except OSError:
        return ""
    stack, seen, capped = [(real_root, 0)], 0, ""
    while stack:
        ctx.check_deadline()
        real_dir, depth = stack.pop()
        try:
            entries = sorted(os.scandir(real_dir), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > MAX_ENTRIES:
                return "entries > %d" % MAX_ENTRIES
            try:  # d_type from the directory read: no stat for files
                is_dir, is_file = entry.is_dir(follow_symlinks=False), entry.is_file(follow_symlinks=False)
                if is_dir and entry.stat(follow_symlinks=False).st_dev != device:
                    continue
            except OSError:
                continue
            if is_dir:
                if depth + 1 >= MAX_DEPTH:
                    capped = "depth > %d" % MAX_DEPTH
                    continue
                stack.append((entry.path, depth + 1))
            elif is_file:
                raw = _capability(entry.path)
                if raw is not None:
                    text, rootid = decode(raw)
                    rows.append(
                        {
                            "path": ctx.visible(entry.path),
                            "capabilities": text,
                            "rootid": rootid,
                            "capped": "",
                        }
                    )
    return capped


def table_diffy_file_capabilities(ctx, roots=ROOTS):
    rows, done = [], set()
    for root in roots:
        real = os.path.realpath(ctx.host(root))
        if real in done or not os.path.isdir(real):
            continue
        done.add(real)
        capped = _walk(ctx, ctx.visible(real), rows)
        if capped:
            rows.append({"path": ctx.visible(real), "capabilities": "", "rootid": "", "capped": capped})
    return rows
