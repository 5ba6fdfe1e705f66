"""Per-table default normalization rules for the queries of the default pack (linux-dfir).

A plain registry: query name -> rule fields. ``keys`` identify "the same thing" on two hosts (a
listening socket is protocol+family+address+port+process name+path, never its pid), so a row with
the same key but different significant values is reported as *changed*. ``ignore`` lists volatile
columns that differ between healthy hosts (pids, times, counters, memory addresses) and must never
count as a difference. ``significance`` (0..1) scales how much a difference in this table counts
towards a host's score: persistence and access tables count fully; tables that are noisy on healthy
fleets (processes, sessions) or mere context (OS release) count less.

Queries not listed here get no ignored columns, the whole row as key, significance
``DEFAULT_SIGNIFICANCE``, and automatic detection of volatile columns (see normalize/volatile.py).
Override any of it in a config file (docs/configuration.md).
"""

from __future__ import annotations

from typing import Any

DEFAULT_SIGNIFICANCE = 0.7

DEFAULT_RULES: dict[str, dict[str, Any]] = {
    "listening_ports": {
        "keys": ("protocol", "family", "address", "port", "name", "path"),
        "ignore": ("pid", "fd", "socket"),
        "significance": 1.0,
    },
    "processes": {
        "keys": ("name", "path", "cmdline"),
        "ignore": (
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
        "transforms": ("kernel_thread_names",),
        "significance": 0.6,
    },
    "crontab": {"keys": ("path", "command"), "ignore": (), "significance": 1.0},
    "kernel_modules": {
        # size: the brief's "size in use" - osquery reports it from /proc/modules, which moves with
        # module state; the name is what matters. used_by: reference counts. address: memory.
        "keys": ("name",),
        "ignore": ("size", "used_by", "address"),
        "significance": 1.0,
    },
    "users": {"keys": ("username",), "ignore": (), "significance": 1.0},
    "groups": {"keys": ("groupname",), "ignore": (), "significance": 0.8},
    "authorized_keys": {"keys": ("username", "key_file", "key"), "ignore": (), "significance": 1.0},
    "suid_bin": {"keys": ("path",), "ignore": (), "significance": 1.0},
    "iptables": {
        "keys": (
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
        "ignore": ("packets", "bytes"),
        "significance": 1.0,
    },
    # Diffy's own firewall table (no counters in it): a rule is identified by its chain and its text,
    # so an added or removed rule is one row; its position, a chain's policy and a set's elements are
    # values that can change.
    "firewall_rules": {
        "keys": ("backend", "family", "table_name", "kind", "chain", "rule"),
        "ignore": (),
        "significance": 1.0,
    },
    "systemd_units": {"keys": ("id",), "ignore": (), "significance": 1.0},
    "deb_packages": {"keys": ("name", "arch"), "ignore": (), "significance": 0.7},
    "rpm_packages": {"keys": ("name", "arch"), "ignore": (), "significance": 0.7},
    "mounts": {
        "keys": ("path",),
        "ignore": ("blocks", "blocks_free", "blocks_available", "inodes_free"),
        "significance": 0.6,
    },
    "etc_hosts": {"keys": ("hostnames",), "ignore": (), "significance": 1.0},
    "sudoers": {"keys": ("source", "header", "rule_details"), "ignore": (), "significance": 1.0},
    "ld_preload": {"keys": ("path",), "ignore": ("mtime",), "significance": 1.0},
    "system_binaries": {
        "keys": ("path",),
        "ignore": ("mtime", "atime", "ctime", "inode"),
        "significance": 1.0,
    },
    "logged_in_users": {
        "keys": ("type", "user", "host"),
        "ignore": ("time", "pid", "tty"),
        "significance": 0.5,
    },
    "os_version": {"keys": ("name",), "ignore": (), "significance": 0.3},
    "kernel_info": {"keys": ("path",), "ignore": (), "significance": 0.8},
}
