"""Agent and fleet-wide noise kinds: SSM Agent activity, JVM attach, update and refresh cohorts.

Split from ``noise.py`` (same contract: mutate one host, return the queries touched).
"""

from __future__ import annotations

import random
from typing import Any

from .base_runtime import SSM_REV
from .base_units import mount_row, unit_row
from .host import Host, hexid
from .packages import KERNEL_META_UPDATE, KERNEL_UPDATE

Ctx = dict[str, Any]


def ssm_user_created(host: Host, ctx: Ctx, rng: random.Random) -> set[str]:
    """SSM Agent creates ssm-user (and its sudoers file) at the first Session Manager session."""
    host.rows("users").append(
        {
            "uid": "1002",
            "gid": "1002",
            "username": "ssm-user",
            "description": "",
            "directory": "/home/ssm-user",
            "shell": "/bin/sh",
        }
    )
    host.rows("groups").append({"gid": "1002", "groupname": "ssm-user"})
    host.rows("sudoers").append(
        {
            "source": "/etc/sudoers.d/ssm-agent-users",
            "header": "ssm-user",
            "rule_details": "ALL=(ALL) NOPASSWD:ALL",
        }
    )
    return {"users", "groups", "sudoers"}


def ssm_session_active(host: Host, ctx: Ctx, rng: random.Random) -> set[str]:
    """A live Session Manager session: ssm-session-worker plus a shell running as ssm-user."""
    touched = set()
    if not host.find("users", username="ssm-user"):
        touched |= ssm_user_created(host, ctx, rng)
    up = host.collected_epoch - host.boot_epoch
    rev = ctx.get("ssm_rev", SSM_REV)
    sid = f"{ctx['fleet']['operator']}-{hexid(rng, 8)}"
    w = host.add_process(
        "ssm-session-worker",
        f"/snap/amazon-ssm-agent/{rev}/ssm-session-worker",
        f"/snap/amazon-ssm-agent/{rev}/ssm-session-worker {sid}",
        parent=ctx["procs"]["ssm_worker"].pid,
        started=up - rng.randrange(30, 900),
        threads=(8, 11),
    )
    host.add_process(
        "sh",
        "/usr/bin/dash",
        "sh",
        parent=w.pid,
        uid=1002,
        cwd="/usr/bin",
        started=int(w.row["start_time"]) - host.boot_epoch + 1,
    )
    return touched | {"processes"}


def ssm_run_command(host: Host, ctx: Ctx, rng: random.Random) -> set[str]:
    """A Run Command document (the patch-baseline scan) executing through ssm-document-worker."""
    up = host.collected_epoch - host.boot_epoch
    rev = ctx.get("ssm_rev", SSM_REV)
    cmd_id = f"{hexid(rng, 4)}-{hexid(rng, 2)}-{hexid(rng, 2)}-{hexid(rng, 2)}-{hexid(rng, 6)}"
    w = host.add_process(
        "ssm-document-worker",
        f"/snap/amazon-ssm-agent/{rev}/ssm-document-worker",
        f"/snap/amazon-ssm-agent/{rev}/ssm-document-worker {cmd_id} {host.host_id}",
        parent=ctx["procs"]["ssm_worker"].pid,
        started=up - rng.randrange(5, 120),
    )
    d = f"/var/lib/amazon/ssm/{host.host_id}/document/orchestration/{cmd_id}"
    sh = host.add_process(
        "sh", "/usr/bin/dash", f"sh -c {d}/PatchLinux/_script.sh", parent=w.pid, started=up - 4
    )
    host.add_process(
        "python3",
        "/usr/bin/python3.8",
        "python3 -E ./main.py --file snapshot.json",
        parent=sh.pid,
        cwd=f"{d}/PatchLinux",
        started=up - 3,
    )
    return {"processes"}


def jvm_diagnostic_attach(host: Host, ctx: Ctx, rng: random.Random) -> set[str]:
    """jcmd attaching to the JVM starts its Attach Listener thread (one more thread from then on)."""
    java = ctx["procs"]["java"]
    java.row["threads"] = str(int(java.row["threads"]) + 1)
    up = host.collected_epoch - host.boot_epoch
    host.add_process(
        "jcmd",
        "/usr/lib/jvm/java-17-openjdk-amd64/bin/jcmd",
        f"jcmd {java.pid} GC.heap_info",
        uid=1001,
        cwd="/opt/orders-api",
        started=up - 1,
        threads=(14, 20),
        rss_kib=(40000, 70000),
    )
    return {"processes"}


def unattended_upgrade_cohort(host: Host, ctx: Ctx, rng: random.Random) -> set[str]:
    """Security releases installed by unattended-upgrades on hosts whose timer already fired."""
    from .base_system import build_files, build_packages

    host.patched |= set(ctx["usns"])
    build_packages(host)
    if ctx.get("kernel_update"):
        rows = host.rows("deb_packages")
        for name, (v, a, s) in KERNEL_UPDATE.items():
            rows.append(
                {"name": name, "version": v, "arch": a, "source": s, "status": "install ok installed"}
            )
        for r in rows:
            if r["name"] == KERNEL_META_UPDATE[0]:
                r["version"] = KERNEL_META_UPDATE[1]
        rows.sort(key=lambda r: r["name"])
    build_files(host)
    return {"deb_packages", "system_binaries"}


def snap_refresh_cohort(host: Host, ctx: Ctx, rng: random.Random) -> set[str]:
    """snapd auto-refreshed amazon-ssm-agent; the old revision stays mounted beside the new one."""
    new = ctx["fleet"]["ssm_new_rev"]
    host.rows("mounts").append(
        mount_row("/dev/loop4", f"/snap/amazon-ssm-agent/{new}", "squashfs", "ro,nodev,relatime")
    )
    host.rows("systemd_units").append(
        unit_row(
            f"snap-amazon\\x2dssm\\x2dagent-{new}.mount",
            f"Mount unit for amazon-ssm-agent, revision {new}",
            "active",
            "mounted",
        )
    )
    for key in ("ssm", "ssm_worker"):
        r = ctx["procs"][key].row
        for col in ("path", "cmdline"):
            r[col] = r[col].replace(f"/{SSM_REV}/", f"/{new}/")
        r["start_time"] = str(host.collected_epoch - rng.randrange(600, 80000))
    ctx["ssm_rev"] = new
    return {"mounts", "systemd_units", "processes"}
