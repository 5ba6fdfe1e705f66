"""Plain-English explanations of findings, per table, that a responder can act on.

``describe(query, row)`` says what a row *is* ("listens on tcp 0.0.0.0:4444 (process nc,
/usr/bin/nc)"); ``explain(...)`` adds what is wrong with it and how common it is ("...; on 1 of 250
hosts"). Unknown queries fall back to ``query: col=value, ...``. Values are shortened and control
characters escaped, so hostile data cannot break a terminal or a report line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from diffy_analysis.text import escape_unprintable

MAX_VALUE = 120

PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "132": "sctp", "0": "all"}
FAMILIES = {"2": "IPv4", "10": "IPv6"}


def clip(value: str | None, limit: int = MAX_VALUE) -> str:
    """Shorten and make printable: control characters become \\xNN escapes."""
    text = value or ""
    text = escape_unprintable(text[: limit * 2])
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short_hash(value: str | None) -> str:
    return (value or "")[:12] + ("…" if value and len(value) > 12 else "")


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


def _user(r: Mapping[str, str]) -> str:
    text = f"user `{clip(r.get('username'))}` with uid {r.get('uid', '?')}"
    if r.get("shell"):
        text += f" and shell {clip(r.get('shell'))}"
    if r.get("uid") == "0" and r.get("username") != "root":
        text += " (uid 0: root privileges)"
    return text


def _authorized_key(r: Mapping[str, str]) -> str:
    key = r.get("key") or ""
    tail = "…" + key[-12:] if len(key) > 12 else key
    comment = f" ({clip(r.get('comment'))})" if r.get("comment") else ""
    return (
        f"SSH key {clip(r.get('algorithm'))} {clip(tail)}{comment} authorized for "
        f"{clip(r.get('username'))} in {clip(r.get('key_file'))}"
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


def _binary(r: Mapping[str, str]) -> str:
    details = [f"sha256 {_short_hash(r.get('sha256'))}"] if r.get("sha256") else []
    if r.get("mode"):
        details.append(f"mode {r['mode']}")
    if r.get("size"):
        details.append(f"{r['size']} bytes")
    return f"{clip(r.get('path'))} ({', '.join(details)})" if details else clip(r.get("path"))


DESCRIBERS: dict[str, Callable[[Mapping[str, str]], str]] = {
    "listening_ports": _listening,
    "processes": _process,
    "crontab": _crontab,
    "kernel_modules": lambda r: (
        f"kernel module {clip(r.get('name'))}" + (f" ({clip(r.get('status'))})" if r.get("status") else "")
    ),
    "users": _user,
    "groups": lambda r: f"group `{clip(r.get('groupname'))}` (gid {r.get('gid', '?')})",
    "authorized_keys": _authorized_key,
    "suid_bin": lambda r: (
        f"setuid/setgid binary {clip(r.get('path'))} (owner {clip(r.get('username'))}"
        + (f", {clip(r.get('permissions'))})" if r.get("permissions") else ")")
    ),
    "iptables": _iptables,
    "systemd_units": _unit,
    "deb_packages": _package,
    "rpm_packages": _package,
    "mounts": lambda r: (
        f"{clip(r.get('type'))} mount of {clip(r.get('device'))} on {clip(r.get('path'))}"
        + (f" ({clip(r.get('flags'))})" if r.get("flags") else "")
    ),
    "etc_hosts": lambda r: f"/etc/hosts maps {clip(r.get('hostnames'))} to {clip(r.get('address'))}",
    "sudoers": lambda r: (
        f"sudo rule `{clip(r.get('header'))} {clip(r.get('rule_details'))}` in {clip(r.get('source'))}"
    ),
    "ld_preload": lambda r: (
        f"{clip(r.get('path') or '/etc/ld.so.preload')} exists"
        + (f" (sha256 {_short_hash(r.get('sha256'))})" if r.get("sha256") else "")
    ),
    "system_binaries": _binary,
    "logged_in_users": lambda r: (
        f"{clip(r.get('type'))} session of {clip(r.get('user'))} from {clip(r.get('host'))}"
    ),
    "os_version": lambda r: f"OS {clip(r.get('name'))} {clip(r.get('version'))}",
    "kernel_info": lambda r: f"kernel {clip(r.get('version'))} booted with `{clip(r.get('arguments'))}`",
}


def describe(query: str, row: Mapping[str, str]) -> str:
    """What the row is, in words."""
    describer = DESCRIBERS.get(query)
    if describer is not None:
        try:
            return describer(row)
        except (KeyError, TypeError, ValueError):
            pass
    shown = ", ".join(f"{clip(k, 40)}={clip(v, 60)}" for k, v in list(row.items())[:6])
    return f"{clip(query, 60)}: {shown}"


def _subject(query: str, row: Mapping[str, str], columns: Sequence[str]) -> str:
    """The thing that changed, named by its identifying columns."""
    named = {
        "system_binaries": "path",
        "suid_bin": "path",
        "users": "username",
        "groups": "groupname",
        "systemd_units": "id",
        "deb_packages": "name",
        "rpm_packages": "name",
        "kernel_modules": "name",
        "mounts": "path",
        "etc_hosts": "hostnames",
        "ld_preload": "path",
        "kernel_info": "path",
    }
    column = named.get(query)
    if column and row.get(column):
        prefix = {
            "users": "user ",
            "groups": "group ",
            "systemd_units": "unit ",
            "deb_packages": "package ",
            "rpm_packages": "package ",
            "kernel_modules": "kernel module ",
            "etc_hosts": "/etc/hosts entry for ",
        }
        return prefix.get(query, "") + clip(row[column])
    return describe(query, {k: v for k, v in row.items() if k not in columns})


def _value(column: str, value: str | None) -> str:
    return _short_hash(value) if column in ("sha256", "md5", "sha1", "key") else clip(value, 60)


@dataclass(frozen=True)
class Context:
    """How common a row is: in the fleet, and among the host's reference peers."""

    method: str  # peers | baseline
    hosts_with_row: int | None = None
    hosts_compared: int | None = None
    peers_with_row: int | None = None
    peers: int | None = None
    varying_column: str | None = None
    weak: bool = False
    reason: str | None = None


def _clipped(row: Mapping[str, str]) -> dict[str, str]:
    return {clip(k, 60): clip(v, 2 * MAX_VALUE) for k, v in row.items()}


def _prevalence(ctx: Context) -> str:
    if ctx.hosts_with_row is None or not ctx.hosts_compared:
        return ""
    return f"on {ctx.hosts_with_row} of {ctx.hosts_compared} hosts"


def explain(
    query: str,
    kind: str,
    row: Mapping[str, str],
    ctx: Context,
    *,
    reference_row: Mapping[str, str] | None = None,
    changed_columns: Sequence[str] = (),
) -> str:
    """One line: what the row is, what is wrong with it, how common it is."""
    # Every value may come from an attacker-controlled host: shorten and escape names and values
    # once, here, so no template can put a 100000-digit port or a lone surrogate into a report line.
    row = _clipped(row)
    reference_row = _clipped(reference_row) if reference_row is not None else None
    changed_columns = [clip(c, 60) for c in changed_columns]
    peers_text = f"{ctx.peers_with_row} of {ctx.peers} peers" if ctx.peers else ""
    if kind == "added":
        text = describe(query, row)
        if ctx.method == "baseline":
            text += " added (not on the baseline)"
        elif ctx.hosts_with_row is not None:
            text += "; " + _prevalence(ctx)
    elif kind == "missing":
        text = describe(query, row) + " is missing"
        if ctx.method == "baseline":
            text += " (present on the baseline)"
        elif peers_text:
            text += f"; present on {peers_text}"
    else:
        subject = _subject(query, row, changed_columns)
        reference_row = reference_row or {}
        changes = ", ".join(
            f"{c} {_value(c, reference_row.get(c))} -> {_value(c, row.get(c))}" for c in changed_columns
        )
        cols = "/".join(changed_columns) or "row"
        if ctx.method == "baseline":
            text = f"{subject}: {cols} differs from the baseline ({changes})"
        else:
            text = f"{subject}: {cols} differs from {peers_text or 'its peers'} ({changes})"
    if ctx.weak:
        if ctx.varying_column:
            text += f"; weak evidence: {ctx.varying_column} differs on almost every host"
        else:
            text += f"; weak evidence: {ctx.reason or 'common elsewhere in the fleet'}"
    return text
