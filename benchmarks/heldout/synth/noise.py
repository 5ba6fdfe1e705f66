"""Benign fleet churn, one function per noise kind of ``noise_catalogue.json``.

Each function mutates one host's rows and returns the pack queries it touched (the tests check
them against the catalogue's ``touches``). Which hosts get a transient kind, and how large each
cohort is, is decided in ``apply_noise`` from the catalogue's rates, never inside the functions.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from .base_units import mount_row, mount_unit, unit_row
from .host import Host, derive_seed
from .noise_agents import (
    jvm_diagnostic_attach,
    snap_refresh_cohort,
    ssm_run_command,
    ssm_session_active,
    ssm_user_created,
    unattended_upgrade_cohort,
)

Ctx = dict[str, Any]
NoiseFn = Callable[[Host, Ctx, random.Random], set[str]]

WORKQUEUES = [
    "events",
    "mm_percpu_wq",
    "events_power_efficient",
    "cgroup_destroy",
    "kblockd",
    "events_freezable_power_",
    "rcu_gp",
    "ipv6_addrconf",
    "xfs-sync/nvme0n1p1",
    "writeback",
    "flush-259:0",
    "events_unbound",
    "ext4-rsv-conversion",
]


def set_unit(host: Host, uid: str, active: str, sub: str) -> None:
    for r in host.rows("systemd_units"):
        if r["id"] == uid:
            r["active_state"], r["sub_state"] = active, sub
            return
    raise KeyError(uid)


def kworker_churn(host: Host, ctx: Ctx, rng: random.Random) -> set[str]:
    """Per-CPU and unbound kworkers come and go; their name suffix is the work item they run."""
    for cpu in range(host.vcpus):
        for k in range(rng.randrange(1, 4)):
            host.add_process(
                f"kworker/{cpu}:{k}-{rng.choice(WORKQUEUES)}",
                "",
                "",
                parent=2,
                state=rng.choice("IIIR"),
                started=rng.randrange(0, 80000),
            )
    for k in range(rng.randrange(2, 6 + host.vcpus)):
        host.add_process(
            f"kworker/u{2 * host.vcpus}:{k}-{rng.choice(WORKQUEUES)}",
            "",
            "",
            parent=2,
            state="I",
            started=rng.randrange(0, 80000),
        )
    return {"processes"}


def session_units(host: Host, uid: int, session: int) -> None:
    units = host.rows("systemd_units")
    if not host.find("systemd_units", id=f"user@{uid}.service"):
        units += [
            unit_row(f"user-{uid}.slice", f"User Slice of UID {uid}", "active", "active", fragment=""),
            unit_row(
                f"user@{uid}.service",
                f"User Manager for UID {uid}",
                "active",
                "running",
                fragment="/lib/systemd/system/user@.service",
            ),
            unit_row(
                f"user-runtime-dir@{uid}.service",
                f"User Runtime Directory /run/user/{uid}",
                "active",
                "exited",
                fragment="/lib/systemd/system/user-runtime-dir@.service",
            ),
            mount_unit(f"/run/user/{uid}"),
        ]
        host.rows("mounts").append(
            mount_row(
                "tmpfs",
                f"/run/user/{uid}",
                "tmpfs",
                "rw,nosuid,nodev,relatime,size=" + f"{host.mem_mib * 1024 // 10}k,mode=700,uid={uid},"
                f"gid={uid}",
            )
        )
        host.add_process(
            "systemd",
            "/usr/lib/systemd/systemd",
            "/lib/systemd/systemd --user",
            uid=uid,
            started=host.collected_epoch - host.boot_epoch - 40,
        )
        host.add_process(
            "(sd-pam)",
            "/usr/lib/systemd/systemd",
            "(sd-pam)",
            uid=uid,
            started=host.collected_epoch - host.boot_epoch - 40,
        )
    units.append(
        unit_row(
            f"session-{session}.scope",
            f"Session {session} of user ubuntu",
            "active",
            "running",
            fragment="",
            source="",
        )
    )


def collector_footprint(host: Host, ctx: Ctx, rng: random.Random) -> set[str]:
    """The collection itself: an Ansible SSH session, sudo, AnsiballZ and osqueryi."""
    up = host.collected_epoch - host.boot_epoch
    session = rng.randrange(30, 900)  # logind's counter: every login since boot took a number
    ctx["session_no"] = session
    session_units(host, 1000, session)
    sshd = ctx["procs"]["sshd"].pid
    priv = host.add_process("sshd", "/usr/sbin/sshd", "sshd: ubuntu [priv]", parent=sshd, started=up - 30)
    notty = host.add_process(
        "sshd", "/usr/sbin/sshd", "sshd: ubuntu@notty", parent=priv.pid, uid=1000, started=up - 30
    )
    tmp = (
        f"/home/ubuntu/.ansible/tmp/ansible-tmp-{host.collected_epoch - 20}.{rng.randrange(10**6):06d}"
        f"-{rng.randrange(3000, 99999)}-{rng.randrange(10**14, 10**15)}"
    )
    become = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(32))
    inner = f"echo BECOME-SUCCESS-{become} ; /usr/bin/python3 {tmp}/AnsiballZ_command.py"
    sh = host.add_process(
        "sh",
        "/usr/bin/dash",
        f"/bin/sh -c sudo -H -S -n  -u root /bin/sh -c '{inner}' && sleep 0",
        parent=notty.pid,
        uid=1000,
        cwd="/home/ubuntu",
        started=up - 20,
    )
    sudo = host.add_process(
        "sudo", "/usr/bin/sudo", f"sudo -H -S -n -u root /bin/sh -c {inner}", parent=sh.pid, started=up - 20
    )
    py = host.add_process(
        "python3",
        "/usr/bin/python3.8",
        f"/usr/bin/python3 {tmp}/AnsiballZ_command.py",
        parent=sudo.pid,
        cwd="/home/ubuntu",
        started=up - 19,
    )
    host.add_process(
        "osqueryi",
        "/usr/bin/osqueryi",
        f"/usr/bin/osqueryi --json --flagfile={tmp}/osquery.flags",
        parent=py.pid,
        cwd="/home/ubuntu",
        started=up - 1,
        threads=(3, 6),
        rss_kib=(30000, 60000),
    )
    return {"processes", "systemd_units", "mounts"}


def timer_job(unit: str, procs: list[tuple[str, str, str]]) -> NoiseFn:
    """A timer-activated oneshot caught mid-run: its unit is 'activating' and its processes run."""

    def apply(host: Host, ctx: Ctx, rng: random.Random) -> set[str]:
        set_unit(host, unit, "activating", "start")
        parent = 1
        up = host.collected_epoch - host.boot_epoch
        for name, path, cmd in procs:
            parent = host.add_process(
                name,
                path,
                cmd,
                parent=parent,
                started=up - rng.randrange(1, 300),
                threads=1,
                cpu_ms=(50, 30000),
            ).pid
        return {"systemd_units", "processes"}

    return apply


apt_daily_running = timer_job(
    "apt-daily.service",
    [
        ("apt.systemd.dai", "/usr/bin/dash", "/bin/sh /usr/lib/apt/apt.systemd.daily update"),
        ("apt.systemd.dai", "/usr/bin/dash", "/bin/sh /usr/lib/apt/apt.systemd.daily lock_is_held update"),
        ("apt-get", "/usr/bin/apt-get", "apt-get -qq -y update"),
        ("http", "/usr/lib/apt/methods/http", "/usr/lib/apt/methods/http"),
    ],
)
apt_daily_upgrade_running = timer_job(
    "apt-daily-upgrade.service",
    [
        ("apt.systemd.dai", "/usr/bin/dash", "/bin/sh /usr/lib/apt/apt.systemd.daily install"),
        ("apt.systemd.dai", "/usr/bin/dash", "/bin/sh /usr/lib/apt/apt.systemd.daily lock_is_held install"),
        ("unattended-upgr", "/usr/bin/python3.8", "/usr/bin/python3 /usr/bin/unattended-upgrade"),
    ],
)
logrotate_running = timer_job(
    "logrotate.service",
    [
        ("logrotate", "/usr/sbin/logrotate", "/usr/sbin/logrotate /etc/logrotate.conf"),
        ("sh", "/usr/bin/dash", "sh -c invoke-rc.d rsyslog rotate > /dev/null"),
    ],
)
fstrim_running = timer_job(
    "fstrim.service",
    [
        ("fstrim", "/usr/sbin/fstrim", "/sbin/fstrim --fstab --verbose --quiet"),
    ],
)


def cron_job_running(host: Host, ctx: Ctx, rng: random.Random) -> set[str]:
    """The appsvc healthcheck cron job caught while it runs (cron forks a child per job)."""
    up = host.collected_epoch - host.boot_epoch
    cron = host.add_process(
        "cron", "/usr/sbin/cron", "/usr/sbin/CRON -f", parent=ctx["procs"]["cron"].pid, started=up - 3
    )
    sh = host.add_process(
        "sh",
        "/usr/bin/dash",
        "/bin/sh -c /opt/orders-api/bin/healthcheck.sh >/dev/null 2>&1",
        parent=cron.pid,
        uid=1001,
        cwd="/opt/orders-api",
        started=up - 3,
    )
    hc = host.add_process(
        "healthcheck.sh",
        "/usr/bin/bash",
        "/bin/bash /opt/orders-api/bin/healthcheck.sh",
        parent=sh.pid,
        uid=1001,
        cwd="/opt/orders-api",
        started=up - 3,
    )
    host.add_process(
        "curl",
        "/usr/bin/curl",
        "curl -fsS --max-time 20 http://127.0.0.1:8080/actuator/health",
        parent=hc.pid,
        uid=1001,
        cwd="/opt/orders-api",
        started=up - 2,
    )
    return {"processes"}


def interactive_ssh_session(host: Host, ctx: Ctx, rng: random.Random) -> set[str]:
    """An operator logged in from the bastion, tailing the app log."""
    up = host.collected_epoch - host.boot_epoch
    tty = f"pts/{rng.randrange(0, 3)}"
    # This login happened before the collector's, so it drew a lower session number.
    session_units(host, 1000, rng.randrange(1, ctx.get("session_no", 30)))
    priv = host.add_process(
        "sshd",
        "/usr/sbin/sshd",
        "sshd: ubuntu [priv]",
        parent=ctx["procs"]["sshd"].pid,
        started=up - rng.randrange(60, 7200),
    )
    sess = host.add_process(
        "sshd",
        "/usr/sbin/sshd",
        f"sshd: ubuntu@{tty}",
        parent=priv.pid,
        uid=1000,
        started=int(priv.row["start_time"]) - host.boot_epoch,
    )
    bash = host.add_process(
        "bash",
        "/usr/bin/bash",
        "-bash",
        parent=sess.pid,
        uid=1000,
        cwd="/home/ubuntu",
        started=int(sess.row["start_time"]) - host.boot_epoch,
    )
    cmd = rng.choice(
        ["tail -F /var/log/orders-api/app.log", "top", "less /var/log/syslog", "journalctl -u orders-api -f"]
    )
    exe = {
        "tail": "/usr/bin/tail",
        "top": "/usr/bin/top",
        "less": "/usr/bin/less",
        "journalctl": "/usr/bin/journalctl",
    }[cmd.split()[0]]
    host.add_process(
        cmd.split()[0],
        exe,
        cmd,
        parent=bash.pid,
        uid=1000,
        cwd="/home/ubuntu",
        started=up - rng.randrange(5, 50),
    )
    host.rows("logged_in_users").append(
        {
            "type": "user",
            "user": "ubuntu",
            "tty": tty,
            "host": ctx["fleet"]["bastion_ip"],
            "time": sess.row["start_time"],
            "pid": sess.row["pid"],
        }
    )
    return {"processes", "logged_in_users", "systemd_units", "mounts"}


def stale_utmp_dead_entry(host: Host, ctx: Ctx, rng: random.Random) -> set[str]:
    """A finished login leaves its utmp slot as DEAD_PROCESS with the user and host cleared."""
    when = host.boot_epoch + rng.randrange(600, max(601, host.collected_epoch - host.boot_epoch))
    host.rows("logged_in_users").append(
        {
            "type": "dead",
            "user": "",
            "tty": f"pts/{rng.randrange(0, 3)}",
            "host": "",
            "time": str(when),
            "pid": str(rng.randrange(1000, host._next_pid)),
        }
    )
    return {"logged_in_users"}


REGISTRY: dict[str, NoiseFn] = {
    "kworker_churn": kworker_churn,
    "collector_footprint": collector_footprint,
    "apt_daily_running": apt_daily_running,
    "apt_daily_upgrade_running": apt_daily_upgrade_running,
    "logrotate_running": logrotate_running,
    "fstrim_running": fstrim_running,
    "cron_job_running": cron_job_running,
    "interactive_ssh_session": interactive_ssh_session,
    "stale_utmp_dead_entry": stale_utmp_dead_entry,
    "ssm_user_created": ssm_user_created,
    "ssm_session_active": ssm_session_active,
    "ssm_run_command": ssm_run_command,
    "jvm_diagnostic_attach": jvm_diagnostic_attach,
    "unattended_upgrade_cohort": unattended_upgrade_cohort,
    "snap_refresh_cohort": snap_refresh_cohort,
}

# Cohort kinds run before transient ones: a session started after a snap refresh uses the new path.
ORDER = [
    "unattended_upgrade_cohort",
    "snap_refresh_cohort",
    "kworker_churn",
    "ssm_user_created",
    "collector_footprint",
]


def apply_noise(
    host: Host, ctx: Ctx, catalogue: dict[str, Any], plan: dict[str, Any], seed: int
) -> list[str]:
    """Apply every kind the plan selects for this host; return the kinds that truth should list."""
    kinds = catalogue["kinds"]
    chosen = [k for k in kinds if k in plan["hosts_for"] and host.host_id in plan["hosts_for"][k]]
    chosen += [
        k
        for k, spec in kinds.items()
        if spec["variation"] == "per_host_random" and spec.get("realized_by", "").startswith("synth.noise:")
    ]
    chosen.sort(key=lambda k: (ORDER.index(k) if k in ORDER else len(ORDER), k))
    listed = []
    for kind in chosen:
        rng = random.Random(derive_seed(seed, host.host_id, kind))
        REGISTRY[kind](host, ctx, rng)
        if kinds[kind]["variation"] != "per_host_random":
            listed.append(kind)
    return listed
