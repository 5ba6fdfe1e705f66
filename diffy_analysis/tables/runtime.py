"""Runtime and account state attackers change: connections, group memberships, password state,
loader and history environment variables, start-up items and kernel tunables."""

# ruff: noqa: E501  (SQL and pack texts are data)

from __future__ import annotations

from collections.abc import Mapping

from diffy_analysis.tables import severity
from diffy_analysis.tables.spec import TableSpec
from diffy_analysis.tables.text import FAMILIES, PROTOCOLS, clip

# Kernel tunables an attacker lowers to hide, pivot or escalate (kernel.* hardening, forwarding).
SYSCTLS = (
    "kernel.randomize_va_space",
    "kernel.yama.ptrace_scope",
    "kernel.kptr_restrict",
    "kernel.dmesg_restrict",
    "kernel.modules_disabled",
    "kernel.unprivileged_bpf_disabled",
    "kernel.core_pattern",
    "kernel.sysrq",
    "kernel.perf_event_paranoid",
    "fs.suid_dumpable",
    "fs.protected_symlinks",
    "fs.protected_hardlinks",
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.accept_redirects",
    "net.ipv4.conf.all.send_redirects",
    "net.ipv6.conf.all.forwarding",
)


def _firewall_rule(r: Mapping[str, str]) -> str:
    where = " ".join(clip(r.get(k)) for k in ("backend", "family", "table_name", "chain") if r.get(k))
    if r.get("kind") == "chain":
        return f"firewall chain {where} (policy {clip(r.get('policy')) or 'none'})"
    if r.get("kind") == "set":
        return f"firewall set {where} {clip(r.get('rule'))}"
    return f"firewall rule in {where}: `{clip(r.get('rule'))}`"


def _socket(r: Mapping[str, str]) -> str:
    proto = PROTOCOLS.get(r.get("protocol", ""), r.get("protocol", "?"))
    family = FAMILIES.get(r.get("family", ""), r.get("family", "?"))
    who = ", ".join(x for x in (clip(r.get("name")), clip(r.get("process_path"))) if x)
    if family == "packet":
        text = "packet socket (raw traffic capture)"
    else:
        state = f" {clip(r.get('state'))}" if r.get("state") else ""
        text = f"{family} {proto} connection{state} to {clip(r.get('remote_address'))}:{clip(r.get('remote_port'))}"
    return text + (f" (process {who})" if who else "")


def _membership(r: Mapping[str, str]) -> str:
    user = clip(r.get("username")) or f"uid {clip(r.get('uid'))}"
    group = clip(r.get("groupname")) or f"gid {clip(r.get('gid'))}"
    return f"user `{user}` is a member of group `{group}`"


def _shadow(r: Mapping[str, str]) -> str:
    return f"password of `{clip(r.get('username'))}` is {clip(r.get('password_status'))}" + (
        f" ({clip(r.get('hash_alg'))} hash, not collected)" if r.get("hash_alg") else ""
    )


def _env(r: Mapping[str, str]) -> str:
    return f"process {clip(r.get('name'))} ({clip(r.get('path'))}) runs with {clip(r.get('key'))}={clip(r.get('value'))}"


def _startup(r: Mapping[str, str]) -> str:
    owner = f" of user {clip(r.get('username'))}" if r.get("username") else ""
    return f"start-up item {clip(r.get('name'))} -> {clip(r.get('path'))} in {clip(r.get('source'))}{owner}"


def _binary(r: Mapping[str, str]) -> str:
    path = clip(r.get("path"))
    if r.get("on_disk") == "0":
        kind = "memory-only (memfd)" if path.startswith("/memfd:") else "deleted from disk"
        return f"running binary {path} is {kind}"
    digest = f" (sha256 {clip(r.get('sha256'))[:12]}…)" if r.get("sha256") else ""
    return f"running binary {path}{digest}"


def _capability(r: Mapping[str, str]) -> str:
    if r.get("capped"):  # the walk's bound row: the listing under this root was cut
        return f"file capability scan under {clip(r.get('path'))} was cut ({clip(r.get('capped'))})"
    rootid = f" (namespace root uid {clip(r.get('rootid'))})" if r.get("rootid") else ""
    return f"file {clip(r.get('path'))} has capabilities {clip(r.get('capabilities'))}{rootid}"


def _sysctl(r: Mapping[str, str]) -> str:
    configured = f" (configured {clip(r.get('config_value'))})" if r.get("config_value") else ""
    return f"sysctl {clip(r.get('name'))} = {clip(r.get('current_value'))}{configured}"


SPECS = (
    TableSpec(
        name="firewall_rules",
        sql="SELECT backend, family, table_name, kind, chain, chain_type, hook, priority, policy, position, rule, elements FROM diffy_firewall_rules;",
        description="Packet filter rules whatever the backend: nftables (nft -j list ruleset) and legacy iptables. Diffy's own table, answered by the native engine under every collector (osquery's iptables table cannot see nftables rules, osquery issue #7323).",
        value="A firewall rule added, removed or changed on one host of a fleet.",
        # Diffy's own firewall table (no counters in it): a rule is identified by its chain and its
        # text, so an added or removed rule is one row; its position, a chain's policy and a set's
        # elements are values that can change.
        keys=("backend", "family", "table_name", "kind", "chain", "rule"),
        significance=1.0,
        describe=_firewall_rule,
        subject="rule",
        numeric=("priority", "position"),
        severe=severity.firewall("rule"),
    ),
    TableSpec(
        name="file_capabilities",
        sql="SELECT path, capabilities, rootid, capped FROM diffy_file_capabilities;",
        description="Files carrying a security.capability extended attribute (what setcap writes, getcap -r lists) under the binary and staging directories. Diffy's own table, answered by the native engine under every collector: osquery has no Linux table for file capabilities.",
        value="cap_setuid=ep on a copy of an interpreter is a setuid bit that suid_bin cannot see (T1548.001); a capability added to a system binary is as telling.",
        keys=("path",),
        significance=1.0,
        describe=_capability,
        subject="path",
        never_variant=("capabilities",),
        caps="each root at most 4 levels deep and 20000 entries, no symlinks followed, no other filesystem entered; a cut root gets a row with `capped` set",
        severe=severity.writable_path("file capabilities on a file in a writable directory"),
    ),
    TableSpec(
        name="process_open_sockets",
        sql="SELECT s.family, s.protocol, s.local_address, s.local_port, s.remote_address, s.remote_port, s.state, s.pid, s.fd, s.socket, p.name, p.path AS process_path, p.uid FROM process_open_sockets AS s LEFT JOIN processes AS p USING (pid) WHERE s.family IN (2, 10, 17) AND NOT (s.protocol = 6 AND s.state IN ('LISTEN', 'TIME_WAIT', 'CLOSE')) AND NOT (s.protocol = 17 AND s.remote_port = 0 AND s.family != 17);",
        description="Connected and packet sockets with their processes (listeners are in listening_ports; TIME_WAIT and closed TCP sockets are left out).",
        value="Reverse shells, C2 beacons, tunnels and sniffers (packet sockets) show as connections or sockets no peer has.",
        # Ports are shown in findings but not compared: one side of every connection is ephemeral
        # (the controller's SSH session lands on a new port on every host); the peer address, the
        # process and the state are what identify a connection across hosts.
        keys=("family", "protocol", "remote_address", "state", "name", "process_path"),
        ignore=("pid", "fd", "socket", "local_port", "remote_port"),
        # live state like processes: two collections 20 s apart on one busy host differed only here
        significance=0.7,
        describe=_socket,
        numeric=("family", "protocol", "local_port", "remote_port", "pid", "fd", "socket", "uid"),
    ),
    TableSpec(
        name="process_binaries",
        sql="SELECT DISTINCT p.path, p.on_disk, h.sha256 FROM processes AS p LEFT JOIN hash AS h ON h.path = p.path WHERE p.path != '';",
        description="The executable of every running process, once per path, with its sha256 and whether it is still on disk (on_disk 0: deleted, or a memfd: memory-only).",
        value="A replaced or trojaned binary that is running (its hash differs), or a process whose executable was deleted or never had a file (fileless memfd execution, T1620, T1070.004).",
        keys=("path", "on_disk", "sha256"),
        # Context, like `processes`: which programs run is activity (a cron job's run-parts, an admin's
        # shell), so a binary running on one host alone never flags it; one running from a writable
        # directory or deleted from disk does (analyze/verdict.py hiding_or_writable).
        significance=0.6,
        describe=_binary,
        subject="path",
        subject_prefix="running binary ",
        numeric=("on_disk",),
        never_variant=("on_disk",),
    ),
    TableSpec(
        name="user_groups",
        sql="SELECT ug.uid, ug.gid, u.username, g.groupname FROM user_groups AS ug LEFT JOIN users AS u USING (uid) LEFT JOIN groups AS g ON g.gid = ug.gid;",
        description="Which user is a member of which group.",
        value="Adding a foothold account to sudo, wheel, docker or adm grants privileges without touching sudoers (T1098).",
        keys=("username", "groupname"),
        significance=1.0,
        describe=_membership,
        account="username",
        numeric=("uid", "gid"),
        never_variant=("uid", "gid"),
    ),
    TableSpec(
        name="shadow",
        sql="SELECT username, password_status, hash_alg, last_change, expire, inactive FROM shadow;",
        description="Password state of local accounts: set, locked or empty, last change; never the hash.",
        value="An account given a password or unlocked, or root's password changed, is a way back in (T1098, T1136).",
        keys=("username",),
        significance=1.0,
        describe=_shadow,
        account="username",
        subject="username",
        subject_prefix="password of ",
        numeric=("last_change", "expire", "inactive"),
    ),
    TableSpec(
        name="process_envs",
        sql="SELECT p.name, p.path, e.key, e.value FROM process_envs AS e JOIN processes AS p USING (pid) WHERE e.key LIKE 'LD\\_%' ESCAPE '\\' OR e.key LIKE 'HIST%';",
        description="Loader (LD_*) and history (HIST*) environment variables of running processes; no other variable is collected.",
        value="LD_PRELOAD / LD_LIBRARY_PATH inject code; HISTFILE=/dev/null or HISTSIZE=0 disable history (T1574.006, T1562.003).",
        keys=("name", "path", "key", "value"),
        significance=0.9,
        describe=_env,
        severe=severity.preload_env,
    ),
    TableSpec(
        name="startup_items",
        sql="SELECT name, path, args, type, source, status, username FROM startup_items WHERE type = 'Startup Item';",
        description="XDG autostart entries and init.d scripts (systemd units are in systemd_units).",
        value="A desktop autostart entry or an init script starts attacker code at boot or login (T1037, T1547.013).",
        keys=("name", "path", "source", "username"),
        significance=1.0,
        describe=_startup,
        subject="path",
        subject_prefix="start-up item ",
        severe=severity.startup,
    ),
    TableSpec(
        name="system_controls",
        sql="SELECT name, current_value, config_value FROM system_controls WHERE name IN ({});".format(
            ", ".join(f"'{n}'" for n in SYSCTLS)
        ),
        description="Selected security-relevant kernel tunables.",
        value="Lowered hardening (ASLR off, ptrace open, kptr exposed), IP forwarding turned on for a pivot, or a core_pattern pipe used for persistence.",
        keys=("name",),
        significance=0.9,
        describe=_sysctl,
        subject="name",
        subject_prefix="sysctl ",
    ),
)
