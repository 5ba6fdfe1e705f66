# Diffy native collector: os_version, etc_hosts, mounts, deb_packages, rpm_packages, systemd_units.

import os
import platform
import re
import threading

try:
    from ansible.module_utils.diffy_native_base import (
        TableUnavailable,
        c_trim,
        osq_split,
        osq_split_n,
        osq_split_once,
        read_text,
        run_tool,
        which,
    )
except ImportError:
    try:
        from ansible_collections.diffy.diffy.plugins.module_utils.diffy_native_base import (
            TableUnavailable,
            c_trim,
            osq_split,
            osq_split_n,
            osq_split_once,
            read_text,
            run_tool,
            which,
        )
    except ImportError:
        from diffy_native_base import (
            TableUnavailable,
            c_trim,
            osq_split,
            osq_split_n,
            osq_split_once,
            read_text,
            run_tool,
            which,
        )


# osquery/tables/system/linux/os_version.cpp:37-45
_OS_RELEASE_COLUMNS = {
    "NAME": "name",
    "VERSION": "version",
    "BUILD_ID": "build",
    "ID": "platform",
    "ID_LIKE": "platform_like",
    "VERSION_CODENAME": "codename",
    "VERSION_ID": "_id",
}
_REDHAT_RX = re.compile(r"([\w+\s]+) .* ([0-9]+)\.([0-9]+)\.?(\w+)?", re.ASCII)


def table_os_version(ctx, machine=None):
    """os_version.cpp:47-161.  Defaults, then /etc/os-release (VERSION_ID split on '.': "22.04" gives
    major 22 and minor "04", printed 4 by the INTEGER column), then /etc/redhat-release, which makes
    platform and platform_like "rhel" on every Red Hat family host and takes name/version from it."""
    row = {
        "name": "Unknown",
        "major": "0",
        "minor": "0",
        "patch": "0",
        "platform": "posix",
        "version": "",
        "build": "",
        "platform_like": "",
        "codename": "",
        "arch": "",
    }
    content = read_text(ctx, "/etc/os-release")
    if content:  # os_version.cpp:102-108: readable and not empty
        for line in osq_split(content, "\n"):
            fields = osq_split_once(line, "=")
            if len(fields) != 2:
                continue
            key, value = fields
            if key in _OS_RELEASE_COLUMNS:
                column = _OS_RELEASE_COLUMNS[key]
            elif "CODENAME" in key:
                column = "codename"  # UBUNTU_CODENAME and friends land in codename too
            else:
                continue
            if value.startswith('"'):
                value = value[1:-1]  # os_version.cpp:69-72: first and last character dropped
            row[column] = value
            if column == "_id":
                parts = osq_split_n(value, ".", 2)  # os_version.cpp:74-85
                for column_name, part in zip(("major", "minor", "patch"), parts):
                    row[column_name] = part
    row.pop("_id", None)
    row["arch"] = machine if machine is not None else platform.machine()
    release = read_text(ctx, "/etc/redhat-release")
    if release is not None:
        row["platform"] = row["platform_like"] = "rhel"
    else:
        release = read_text(ctx, "/etc/gentoo-release")
        if release is None:
            return [row]
        row["platform"] = row["platform_like"] = "gentoo"
    release = re.sub(r"[ \t\n\v\f\r]+", lambda m: m.group(0)[0], c_trim(release))  # boost::trim_all
    for line in osq_split(release, "\n"):
        found = _REDHAT_RX.search(line)
        if found:
            row.update(
                name=found.group(1), major=found.group(2), minor=found.group(3), patch=found.group(4) or "0"
            )
            break
    row["version"] = release
    row["build"] = ""
    return [row]


def table_etc_hosts(ctx):
    """osquery/tables/networking/etc_hosts.cpp:37-63: a '#' token ends the hostnames (a '#' inside a
    token does not)."""
    rows = []
    for raw in osq_split(read_text(ctx, "/etc/hosts") or "", "\n"):
        tokens = osq_split(raw)
        if not tokens or tokens[0].startswith("#"):
            continue
        names = []
        for token in tokens[1:]:
            if token.startswith("#"):
                break
            names.append(token)
        rows.append({"address": tokens[0], "hostnames": " ".join(names) if len(tokens) > 1 else ""})
    return rows


def _mnt_unescape(text):
    """getmntent(3) decodes \\040 \\011 \\012 \\134 in /proc/mounts fields."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        text = text.replace(code, char)
    return text


# statvfs on a network filesystem can block in the kernel: skipped, as before; osquery's own fallback
# values for a mount without statfs data are "0" (mounts.cpp:49-56).
_NETWORK_FS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afs", "ceph", "glusterfs")
STATVFS_TIMEOUT_S = 2.0
"""How long one mount's statvfs may take.  A FUSE daemon that stopped answering (a stuck s3fs) or a
dead NFS server blocks statvfs in the kernel where no deadline check reaches, so each call runs
in a daemon worker thread and a mount that does not answer keeps the fallback values."""


def bounded_statvfs(path, timeout=STATVFS_TIMEOUT_S):
    """os.statvfs(path), or None when it fails or does not return within ``timeout`` seconds (the
    blocked worker thread is abandoned; it ends when the filesystem answers or the process exits)."""
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
    """osquery/tables/system/linux/mounts.cpp:26-59 over getMountedFilesystems
    (osquery/filesystem/linux/mounts.cpp:47-113): device_alias is realpath(device), or the device
    when that fails; statfs fields are cast to uint32; autofs is never statfs'd."""
    rows = []
    for raw in (read_text(ctx, "/proc/mounts") or "").split("\n"):
        line = raw.lstrip(" \t")
        if not line or line.startswith("#"):
            continue
        fields = [_mnt_unescape(f) for f in re.split(r"[ \t]+", line)]
        if len(fields) < 4:
            continue
        device, path, fstype, flags = fields[:4]
        # realpath() of a relative name resolves against osqueryi's cwd (Diffy's empty temp dir): fails
        absolute = device.startswith("/") and os.path.exists(ctx.host(device))
        alias = os.path.realpath(ctx.host(device)) if absolute else None
        row = {
            "device": device,
            "device_alias": ctx.visible(alias) if alias else device,
            "path": path,
            "type": fstype,
            "flags": flags,
        }
        for column in ("blocks_size", "blocks", "blocks_free", "blocks_available", "inodes", "inodes_free"):
            row[column] = 0
        if fstype != "autofs" and fstype not in _NETWORK_FS:
            ctx.check_deadline()
            vfs = bounded_statvfs(ctx.host(path))
            if vfs is not None:
                mask = 0xFFFFFFFF
                row.update(
                    blocks_size=vfs.f_bsize & mask,
                    blocks=vfs.f_blocks & mask,
                    blocks_free=vfs.f_bfree & mask,
                    blocks_available=vfs.f_bavail & mask,
                    inodes=vfs.f_files & mask,
                    inodes_free=vfs.f_ffree & mask,
                )
        rows.append(row)
    return rows


def _dpkg_stanzas(text):
    for stanza in re.split(r"\n[ \t]*\n", text):
        fields, last = {}, None
        for line in stanza.split("\n"):
            if line[:1] in (" ", "\t"):
                continue  # continuation lines (descriptions, conffiles)
            key, sep, value = line.partition(":")
            if sep:
                last = key
                fields[key] = value.strip(" \t")
        if last is not None:
            yield fields


def table_deb_packages(ctx):
    """osquery/tables/system/linux/deb_packages.cpp:57-125 via libdpkg (osquery/utils/linux/dpkg/
    dpkgquery.cpp:38-128): packages whose status is not "not-installed", sorted by name, status
    re-built as "<want> <eflag> <status>", revision = what follows the version's last '-'."""
    admindir = "/var/lib/dpkg"
    text = read_text(ctx, admindir + "/status")
    if text is None:
        return []
    packages = []
    for fields in _dpkg_stanzas(text):
        status = fields.get("Status", "").split()
        if "Package" not in fields or len(status) != 3 or status[2] == "not-installed":
            continue
        version = fields.get("Version", "")
        if version.startswith("0:"):
            version = version[2:]  # versiondescribe(vdew_nonambig) omits a zero epoch
        upstream = version.split(":", 1)[1] if ":" in version else version
        packages.append(
            {
                "name": fields["Package"],
                "version": version,
                "source": fields.get("Source", ""),
                "size": fields.get("Installed-Size", ""),
                "arch": fields.get("Architecture", ""),
                "revision": upstream.rsplit("-", 1)[1] if "-" in upstream else "",
                "status": " ".join(status),
                "maintainer": fields.get("Maintainer", ""),
                "section": fields.get("Section", ""),
                "priority": fields.get("Priority", ""),
                "admindir": admindir,
            }
        )
    packages.sort(key=lambda p: (p["name"], p["arch"]))
    return packages


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
_RPM_COLUMNS = (
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
)


def table_rpm_packages(ctx):
    """rpm -qa with the header tags osquery's librpm loop reads (osquery/tables/system/linux/
    rpm_packages.cpp); "(none)" is rpm's spelling of a missing tag, osquery leaves it empty."""
    tool = which("rpm")
    if tool is None:
        if os.path.isdir(ctx.host("/var/lib/rpm")) and os.listdir(ctx.host("/var/lib/rpm")):
            raise TableUnavailable("an RPM database exists but the rpm tool is not installed")
        return []  # not an RPM-based host
    fmt = "\\t".join("%%{%s}" % f for f in _RPM_FIELDS) + "\\n"
    rows = []
    for line in run_tool([tool, "-qa", "--qf", fmt], ctx).splitlines():
        values = [("" if v == "(none)" else v) for v in line.split("\t")]
        if len(values) == len(_RPM_FIELDS):
            rows.append(dict(zip(_RPM_COLUMNS, values)))
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
    """osquery lists units over D-Bus (ListUnits, osquery/tables/system/linux/systemd_units.cpp);
    `systemctl list-units --all` + `systemctl show` read the same manager state."""
    if not os.path.isdir(ctx.host("/run/systemd/system")):
        return []  # systemd is not the running init: no units are loaded
    tool = which("systemctl")
    if tool is None:
        raise TableUnavailable("systemd is running but systemctl is not installed")
    listing = run_tool([tool, "list-units", "--all", "--full", "--no-legend", "--no-pager", "--plain"], ctx)
    units = [line.split()[0] for line in listing.splitlines() if line.strip()]
    rows = []
    for start in range(0, len(units), 200):
        shown = run_tool(
            [tool, "show", "--no-pager", "-p", ",".join(_UNIT_PROPS), "--", *units[start : start + 200]], ctx
        )
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
