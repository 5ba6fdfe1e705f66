# ruff: noqa: E501  (SQL and pack texts are data: one line each, as in the pack)
"""The original pack's tables: sockets, processes, accounts, scheduled jobs, packages, system state.

Each entry is the single declaration of its query (see spec.py); the describers say what a row is.
"""

from __future__ import annotations

from collections.abc import Mapping

from diffy_analysis.tables import severity
from diffy_analysis.tables.spec import TableSpec
from diffy_analysis.tables.text import PROTOCOLS, clip, short_hash


def _listening(r: Mapping[str, str]) -> str:
    proto = PROTOCOLS.get(r.get("protocol", ""), r.get("protocol", "?"))
    addr = r.get("address", "")
    where = f"[{addr}]:{r.get('port', '?')}" if ":" in addr else f"{addr}:{r.get('port', '?')}"
    who = ", ".join(x for x in (clip(r.get("name")), clip(r.get("path"))) if x)
    return f"listens on {proto} {where}" + (f" (process {who})" if who else "")


def _process(r: Mapping[str, str]) -> str:
    text = f"process {clip(r.get('name'))}"
    if r.get("path"):
        text += f" ({clip(r.get('path'))})"
    if r.get("cmdline"):
        text += f" running `{clip(r.get('cmdline'))}`"
    if r.get("uid"):
        text += f" as uid {r['uid']}"
    if r.get("on_disk") == "0":
        text += ", its binary deleted from disk"
    return text


def _crontab(r: Mapping[str, str]) -> str:
    when = r.get("event") or " ".join(
        r.get(k, "*") for k in ("minute", "hour", "day_of_month", "month", "day_of_week")
    )
    return f"cron entry `{clip(when)} {clip(r.get('command'))}` in {clip(r.get('path'))}"


def _kernel_module(r: Mapping[str, str]) -> str:
    status = f" ({clip(r.get('status'))})" if r.get("status") else ""
    return f"kernel module {clip(r.get('name'))}{status}"


def _user(r: Mapping[str, str]) -> str:
    text = f"user `{clip(r.get('username'))}` with uid {r.get('uid', '?')}"
    if r.get("shell"):
        text += f" and shell {clip(r.get('shell'))}"
    if r.get("uid") == "0" and r.get("username") != "root":
        text += " (uid 0: root privileges)"
    return text


def _group(r: Mapping[str, str]) -> str:
    return f"group `{clip(r.get('groupname'))}` (gid {r.get('gid', '?')})"


def _authorized_key(r: Mapping[str, str]) -> str:
    key = r.get("key") or ""
    tail = "…" + key[-12:] if len(key) > 12 else key
    comment = f" ({clip(r.get('comment'))})" if r.get("comment") else ""
    return (
        f"SSH key {clip(r.get('algorithm'))} {clip(tail)}{comment} authorized for "
        f"{clip(r.get('username'))} in {clip(r.get('key_file'))}"
    )


def _suid(r: Mapping[str, str]) -> str:
    return f"setuid/setgid binary {clip(r.get('path'))} (owner {clip(r.get('username'))}" + (
        f", {clip(r.get('permissions'))})" if r.get("permissions") else ")"
    )


def _iptables(r: Mapping[str, str]) -> str:
    if r.get("policy") and not r.get("target"):
        chain = f"{clip(r.get('filter_name'))} chain {clip(r.get('chain'))}"
        return f"iptables {chain} policy {clip(r.get('policy'))}"
    parts = [f"iptables rule {clip(r.get('chain'))} {clip(r.get('target'))}"]
    proto = PROTOCOLS.get(r.get("protocol", ""), r.get("protocol", ""))
    if proto and proto != "all":
        parts.append(proto)
    for column, label in (("src_ip", "src"), ("dst_ip", "dst")):
        value = r.get(column, "")
        if value and value != "0.0.0.0":
            mask = r.get(column.replace("ip", "mask"), "")
            parts.append(
                f"{label} {clip(value)}" + (f"/{mask}" if mask and mask != "255.255.255.255" else "")
            )
    for column, label in (("src_port", "sport"), ("dst_port", "dport")):
        value = r.get(column, "")
        if value and value not in ("0", "0:65535"):
            parts.append(f"{label} {clip(value)}")
    if r.get("iniface") not in ("", None, "all", "*", "any"):
        parts.append(f"in {clip(r.get('iniface'))}")
    if r.get("match") and r.get("match") != proto:
        parts.append(f"({clip(r.get('match'))})")
    if r.get("filter_name") and r.get("filter_name") != "filter":
        parts.append(f"[table {clip(r.get('filter_name'))}]")
    return " ".join(parts)


def _unit(r: Mapping[str, str]) -> str:
    state = "/".join(x for x in (r.get("active_state"), r.get("sub_state")) if x)
    return f"systemd unit {clip(r.get('id'))}" + (f" ({state})" if state else "")


def _package(r: Mapping[str, str]) -> str:
    version = r.get("version", "")
    if r.get("release"):
        version += "-" + r["release"]
    return f"package {clip(r.get('name'))} {clip(version)}".rstrip()


def _mount(r: Mapping[str, str]) -> str:
    flags = f" ({clip(r.get('flags'))})" if r.get("flags") else ""
    return f"{clip(r.get('type'))} mount of {clip(r.get('device'))} on {clip(r.get('path'))}{flags}"


def _etc_hosts(r: Mapping[str, str]) -> str:
    return f"/etc/hosts maps {clip(r.get('hostnames'))} to {clip(r.get('address'))}"


def _sudoers(r: Mapping[str, str]) -> str:
    return f"sudo rule `{clip(r.get('header'))} {clip(r.get('rule_details'))}` in {clip(r.get('source'))}"


def _ld_preload(r: Mapping[str, str]) -> str:
    digest = f" (sha256 {short_hash(r.get('sha256'))})" if r.get("sha256") else ""
    return f"{clip(r.get('path') or '/etc/ld.so.preload')} exists{digest}"


def _binary(r: Mapping[str, str]) -> str:
    details = [f"sha256 {short_hash(r.get('sha256'))}"] if r.get("sha256") else []
    if r.get("mode"):
        details.append(f"mode {r['mode']}")
    if r.get("size"):
        details.append(f"{r['size']} bytes")
    return f"{clip(r.get('path'))} ({', '.join(details)})" if details else clip(r.get("path"))


def _session(r: Mapping[str, str]) -> str:
    return f"{clip(r.get('type'))} session of {clip(r.get('user'))} from {clip(r.get('host'))}"


def _os(r: Mapping[str, str]) -> str:
    return f"OS {clip(r.get('name'))} {clip(r.get('version'))}"


def _kernel(r: Mapping[str, str]) -> str:
    return f"kernel {clip(r.get('version'))} booted with `{clip(r.get('arguments'))}`"


SPECS = (
    TableSpec(
        name="listening_ports",
        sql="SELECT lp.protocol, lp.family, lp.address, lp.port, lp.pid, lp.fd, lp.socket, p.name, p.path, p.cmdline, p.uid FROM listening_ports AS lp LEFT JOIN processes AS p USING (pid) WHERE lp.port != 0;",
        description="Sockets listening for connections, with the process that owns each one.",
        value="A bind shell or backdoor listener shows up as a port, or a process behind a port, that the rest of the fleet does not have.",
        keys=("protocol", "family", "address", "port", "name", "path"),
        ignore=("pid", "fd", "socket"),
        significance=1.0,
        describe=_listening,
        numeric=("protocol", "family", "port", "pid", "fd", "socket", "uid"),
        severe=severity.listener,
    ),
    TableSpec(
        name="processes",
        sql="SELECT pid, parent, name, path, cmdline, cwd, uid, gid, euid, on_disk, state, start_time, resident_size, user_time, system_time, threads FROM processes;",
        description="Running processes.",
        value="Implants, miners and tunnels run as processes; a process whose binary was deleted from disk (on_disk = 0) is a classic sign of tampering.",
        keys=("name", "path", "cmdline"),
        ignore=(
            "pid",
            "parent",
            "state",
            "start_time",
            "resident_size",
            "user_time",
            "system_time",
            "threads",
            "elapsed_time",
            "total_size",
            "disk_bytes_read",
            "disk_bytes_written",
            "nice",
        ),
        significance=0.6,
        transforms=("kernel_thread_names",),
        describe=_process,
        numeric=(
            "pid",
            "parent",
            "uid",
            "gid",
            "euid",
            "start_time",
            "resident_size",
            "user_time",
            "system_time",
            "threads",
        ),
        never_variant=("uid", "gid", "euid"),
    ),
    TableSpec(
        name="crontab",
        sql="SELECT event, minute, hour, day_of_month, month, day_of_week, command, path FROM crontab;",
        description="System and user cron entries.",
        value="Cron is the most common persistence mechanism on Linux servers.",
        keys=("path", "command"),
        significance=1.0,
        describe=_crontab,
        severe=severity.command("command"),
    ),
    TableSpec(
        name="kernel_modules",
        sql="SELECT name, size, used_by, status, address FROM kernel_modules;",
        description="Loaded kernel modules.",
        value="Rootkits load kernel modules; a module no peer has loaded deserves a look.",
        keys=("name",),
        ignore=("size", "used_by", "address"),
        significance=1.0,
        describe=_kernel_module,
        subject="name",
        subject_prefix="kernel module ",
        numeric=("size",),
        severe=severity.loaded("a kernel module loaded"),
    ),
    TableSpec(
        name="users",
        sql="SELECT uid, gid, username, description, directory, shell FROM users;",
        description="Local user accounts.",
        value="Attackers add accounts, often with uid 0 or a login shell, to keep access.",
        keys=("username",),
        significance=1.0,
        describe=_user,
        subject="username",
        subject_prefix="user ",
        account="username",
        numeric=("uid", "gid"),
        never_variant=("uid", "gid", "shell"),
        severe=severity.users,
    ),
    TableSpec(
        name="groups",
        sql="SELECT gid, groupname FROM groups;",
        description="Local groups.",
        value="A new group, or a changed gid, can grant privileges quietly.",
        keys=("groupname",),
        significance=0.8,
        describe=_group,
        subject="groupname",
        subject_prefix="group ",
        account="groupname",
        numeric=("gid",),
    ),
    TableSpec(
        name="authorized_keys",
        sql="SELECT u.username, ak.uid, ak.algorithm, ak.key, ak.options, ak.comment, ak.key_file FROM users AS u JOIN authorized_keys AS ak USING (uid);",
        description="SSH public keys allowed to log in, per user.",
        value="An added SSH key is durable, quiet persistence.",
        keys=("username", "key_file", "key"),
        significance=1.0,
        describe=_authorized_key,
        numeric=("uid",),
        never_variant=("key",),
        severe=severity.authorized_keys,
        # EC2 writes the launch key pair into the default user's file: hosts launched after a key pair
        # rotation hold the new key instead of the old one; an attacker's key sits beside the others
        rotates=("username", "key_file"),
    ),
    TableSpec(
        name="suid_bin",
        sql="SELECT path, username, groupname, permissions FROM suid_bin;",
        description="Binaries with the setuid or setgid bit.",
        value="A setuid copy of a shell is a one-command way back to root.",
        keys=("path",),
        significance=1.0,
        describe=_suid,
        subject="path",
        never_variant=("permissions",),
        severe=severity.writable_path("setuid/setgid file in a writable directory"),
    ),
    TableSpec(
        name="iptables",
        sql="SELECT filter_name, chain, policy, target, protocol, src_ip, src_mask, dst_ip, dst_mask, src_port, dst_port, iniface, outiface, match, packets, bytes FROM iptables;",
        description="iptables rules and chain policies.",
        value="Attackers open the firewall for their tools; a rule every peer has and this host lacks is as telling as a new one.",
        keys=(
            "filter_name",
            "chain",
            "target",
            "protocol",
            "src_ip",
            "src_mask",
            "dst_ip",
            "dst_mask",
            "src_port",
            "dst_port",
            "iniface",
            "outiface",
            "match",
        ),
        ignore=("packets", "bytes"),
        significance=1.0,
        describe=_iptables,
        numeric=("protocol", "src_port", "dst_port", "packets", "bytes"),
        severe=severity.firewall("target"),
    ),
    TableSpec(
        name="systemd_units",
        sql="SELECT id, description, load_state, active_state, sub_state, fragment_path, source_path FROM systemd_units;",
        description="systemd units and their state.",
        value="A new service is persistence; a security agent whose unit is stopped or missing is a blind spot an attacker made.",
        keys=("id",),
        significance=1.0,
        describe=_unit,
        subject="id",
        subject_prefix="unit ",
        severe=severity.units,
    ),
    TableSpec(
        name="deb_packages",
        sql="SELECT name, version, arch, source, status FROM deb_packages;",
        description="Installed Debian packages.",
        value="Tools installed by an attacker (netcat, nmap, compilers) and downgraded packages.",
        keys=("name", "arch"),
        significance=0.7,
        describe=_package,
        subject="name",
        subject_prefix="package ",
    ),
    TableSpec(
        name="rpm_packages",
        sql="SELECT name, version, release, arch FROM rpm_packages;",
        description="Installed RPM packages.",
        value="Tools installed by an attacker and downgraded packages, on RedHat-family hosts.",
        keys=("name", "arch"),
        significance=0.7,
        describe=_package,
        subject="name",
        subject_prefix="package ",
    ),
    TableSpec(
        name="mounts",
        sql="SELECT device, path, type, flags FROM mounts;",
        description="Mounted filesystems.",
        value="An unexpected tmpfs, bind or overlay mount can hide files from other tools.",
        keys=("path",),
        ignore=("blocks", "blocks_free", "blocks_available", "inodes_free"),
        significance=0.6,
        describe=_mount,
        subject="path",
    ),
    TableSpec(
        name="etc_hosts",
        sql="SELECT address, hostnames FROM etc_hosts;",
        description="Entries of /etc/hosts.",
        value="Redirecting a name (a package mirror, a metadata service, a security vendor) is a cheap way to intercept or blind.",
        keys=("hostnames",),
        significance=1.0,
        describe=_etc_hosts,
        subject="hostnames",
        subject_prefix="/etc/hosts entry for ",
    ),
    TableSpec(
        name="sudoers",
        sql="SELECT source, header, rule_details FROM sudoers;",
        description="sudo rules.",
        value="A NOPASSWD rule added for a foothold account is privilege escalation waiting to be used.",
        keys=("source", "header", "rule_details"),
        significance=1.0,
        describe=_sudoers,
        account="header",
    ),
    TableSpec(
        name="ld_preload",
        sql="SELECT f.path, f.size, f.mtime, h.sha256 FROM file AS f LEFT JOIN hash AS h USING (path) WHERE f.path = '/etc/ld.so.preload';",
        description="The system-wide preload file, if present.",
        value="/etc/ld.so.preload injects a library into every process: a userland rootkit's favourite hook. It should not exist.",
        keys=("path",),
        ignore=("mtime",),
        significance=1.0,
        describe=_ld_preload,
        subject="path",
        numeric=("size", "mtime"),
        never_variant=("sha256",),
        severe=severity.loaded("/etc/ld.so.preload written"),
    ),
    TableSpec(
        name="system_binaries",
        sql="SELECT f.path, f.size, f.mode, f.uid, f.gid, h.sha256 FROM file AS f JOIN hash AS h USING (path) WHERE f.path IN ('/bin/bash', '/bin/sh', '/bin/ls', '/bin/ps', '/bin/netstat', '/bin/login', '/bin/su', '/usr/bin/sudo', '/usr/bin/ssh', '/usr/sbin/sshd', '/usr/bin/passwd', '/usr/bin/crontab', '/usr/bin/find', '/usr/bin/top', '/usr/bin/ss', '/usr/bin/lsof', '/usr/bin/curl', '/usr/bin/wget', '/usr/bin/python3', '/usr/bin/ls', '/usr/bin/ps', '/usr/bin/bash', '/usr/bin/su', '/usr/bin/login', '/usr/bin/netstat');",
        description="Hashes and modes of binaries attackers like to replace.",
        value="A trojaned ps, ls, ssh or sshd hides the attacker or steals credentials; its hash differs from every peer's.",
        keys=("path",),
        ignore=("mtime", "atime", "ctime", "inode"),
        significance=1.0,
        describe=_binary,
        subject="path",
        numeric=("size", "uid", "gid"),
        never_variant=("sha256", "mode", "uid", "gid"),
    ),
    TableSpec(
        name="logged_in_users",
        sql="SELECT type, user, tty, host, time, pid FROM logged_in_users;",
        description="Sessions currently logged in.",
        value="An interactive session from an unexpected source during an incident may be the attacker, live.",
        keys=("type", "user", "host"),
        ignore=("time", "pid", "tty"),
        significance=0.5,
        describe=_session,
        numeric=("time", "pid"),
    ),
    TableSpec(
        name="os_version",
        sql="SELECT name, version, major, minor, patch, codename, platform, arch FROM os_version;",
        description="Operating system release.",
        value="Context: separates legitimate populations (two OS builds in a rolling upgrade) from outliers.",
        keys=("name",),
        significance=0.3,
        describe=_os,
        numeric=("major", "minor", "patch"),
    ),
    TableSpec(
        name="kernel_info",
        sql="SELECT version, arguments, path FROM kernel_info;",
        description="Running kernel and its boot arguments.",
        value="Boot arguments that disable security features (e.g. selinux=0, module signature checks) are tampering.",
        keys=("path",),
        significance=0.8,
        describe=_kernel,
        subject="path",
    ),
)
