"""Realistic, benign per-host state, made of real processes, files, sockets and mounts inside the lab
hosts: the "image" every host shares, and the per-host differences a healthy fleet has (ephemeral
ports, per-host mount names, a timer caught running, an admin's SSH session, a rolling deploy, two
instance sizes).  Every write lands in a per-host path (see hostexec.PER_HOST)."""

from __future__ import annotations

import functools
import os
import random
import shlex
import signal
import subprocess
from pathlib import Path

from diffy_lab import Lab, LabHost

from .hostexec import cmdline, host_pids, sh, spawn

PY = "/usr/bin/python3"
RELEASES = {1: "1.4.2", 2: "2.0.0"}
WORKERS = {"small": 2, "large": 4}

# A queue worker: a stats listener on a kernel-chosen (ephemeral, so per-host random) port.
WORKER_PY = """\
import socket, sys, time
stats = socket.socket()
stats.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
stats.bind(("0.0.0.0", 0))
stats.listen(8)
while True:
    time.sleep(3600)
"""
# Version 2 adds a Prometheus-style metrics endpoint on a fixed port.
METRICS_PY = """\
import http.server
http.server.ThreadingHTTPServer(("0.0.0.0", 9102), http.server.SimpleHTTPRequestHandler).serve_forever()
"""
SUDOERS = """\
# /etc/sudoers (lab image)
Defaults\tenv_reset
Defaults\tsecure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
root\tALL=(ALL:ALL) ALL
%sudo\tALL=(ALL:ALL) ALL
@includedir /etc/sudoers.d
"""
TIMER_SH = "#!/bin/sh\n# hourly application statistics (lab image): slow on purpose\nsleep 1800\n"


def _heredoc(path: str, text: str, mode: str = "0644") -> str:
    return f"cat > {path} <<'__EOF__'\n{text}__EOF__\nchmod {mode} {path}\n"


def image(host: LabHost) -> None:
    """What every host of the app shares (same AMI): /var/log on its own tmpfs (so login records
    stay per host), sudo's config, an hourly stats script, both app releases unpacked under /srv."""
    script = (
        "mkdir -p /var/log && mount -t tmpfs -o mode=0755,size=16m tmpfs /var/log\n"
        "mkdir -p /var/log/app /etc/sudoers.d /etc/cron.hourly\n"
        + _heredoc("/etc/sudoers", SUDOERS, "0440")
        + "printf '# files in this directory are read by sudo (lab image)\\n' > /etc/sudoers.d/README\n"
        + _heredoc("/etc/cron.hourly/app-stats", TIMER_SH, "0755")
    )
    for version, release in RELEASES.items():
        base = f"/srv/app/releases/{release}"
        script += f"mkdir -p {base}/public {base}/lib\n"
        script += f"echo {release} > {base}/VERSION\n"
        script += f"echo '<h1>app {release}</h1>' > {base}/public/index.html\n"
        script += _heredoc(f"{base}/worker.py", WORKER_PY)
        script += (
            f"printf 'requests==2.{28 + version}.0\\nredis==5.{version}.1\\n' > {base}/requirements.txt\n"
        )
        if version == 2:
            script += _heredoc(f"{base}/metrics.py", METRICS_PY)
            script += f"mkdir -p {base}/migrations\n"
            script += f"echo 'ALTER TABLE orders ADD region text;' > {base}/migrations/0007.sql\n"
    sh(host, script)


def deploy(host: LabHost, version: int, size: str) -> None:
    """Run release ``version`` of the app: the web server and ``WORKERS[size]`` queue workers."""
    release = RELEASES[version]
    base = f"/srv/app/releases/{release}"
    sh(host, f"ln -sfn {base} /srv/app/current")
    if version == 2:  # the rollout restarted the web server with the new release's document root
        _kill_exact(host, f"{PY} -m http.server 8080")
        spawn(host, f"{PY} -m http.server 8080 --directory {base}/public", cwd="/srv/app")
        spawn(host, f"{PY} {base}/metrics.py", cwd=f"{base}/public")
    extra = " --batch 50" if version == 2 else ""
    for n in range(1, WORKERS[size] + 1):
        spawn(
            host,
            f"{PY} {base}/worker.py --queue orders --id {n}{extra}",
            cwd=base,
            log=f"/var/log/app/worker-{n}.log",
        )
    if size == "large":
        jvm(host)


@functools.cache
def java() -> str | None:
    """A real JVM that has the jdk.httpserver module (Java >= 18), if one is installed."""
    for candidate in sorted(map(str, Path("/usr/lib/jvm").glob("*/bin/java")), reverse=True):
        try:
            mods = subprocess.run(
                [candidate, "--list-modules"], capture_output=True, text=True, timeout=20, check=False
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        if "jdk.httpserver@" in mods:
            return candidate
    return None


def jvm(host: LabHost) -> None:
    """The reporting service of large instances: a real JVM (jdk.httpserver on 8081) with remote JMX
    on 9010, whose RMI server port is ephemeral (so differs per host).  Without a suitable JVM a
    Python stand-in with the same two listeners runs instead (named so in its cmdline)."""
    sh(host, "mkdir -p /srv/reports/static && echo '<h1>reports</h1>' > /srv/reports/static/index.html")
    binary = java()
    if binary:
        command = (
            f"{binary} -Xmx48m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dapp.name=reports "
            "-Dcom.sun.management.jmxremote.port=9010 -Dcom.sun.management.jmxremote.authenticate=false "
            "-Dcom.sun.management.jmxremote.ssl=false -m jdk.httpserver -b 0.0.0.0 -p 8081 "
            "-d /srv/reports/static"
        )
    else:
        code = (
            "import socket,time;a=socket.create_server(('0.0.0.0',9010));"
            "b=socket.create_server(('0.0.0.0',0));c=socket.create_server(('0.0.0.0',8081));time.sleep(10**8)"
        )
        command = f"{PY} -c {shlex.quote(code)} jvm-standin"
    spawn(host, command, cwd="/srv/reports", log="/var/log/app/reports.log")


def per_host(host: LabHost, rng: random.Random, *, extra_mount: bool) -> None:
    """Per-host names and sizes: a tmpfs cache named after the host, log files of varying length,
    and (``extra_mount``) a bind-mounted volume with a random name, like a scheduler's pod volume."""
    lines = rng.randint(20, 400)
    script = (
        f"mkdir -p /run/app-cache/{host.name}\n"
        f"mount -t tmpfs -o size=8m,mode=0750 app-cache /run/app-cache/{host.name}\n"
        f"i=0; while [ $i -lt {lines} ]; do"
        ' echo "10.0.0.$((i % 250)) - - GET /orders/$i 200"; i=$((i+1)); done'
        " > /srv/app/logs/access.log\n"
        f"echo 'started on {host.name}' > /var/log/app/app.log\n"
    )
    if extra_mount:
        vol = f"{rng.getrandbits(48):012x}"
        script += f"mkdir -p /var/tmp/vol-{vol} /srv/app/volumes/{vol}\n"
        script += f"mount --bind /var/tmp/vol-{vol} /srv/app/volumes/{vol}\n"
    sh(host, script)


def timer_running(host: LabHost) -> None:
    """The hourly job caught running: run-parts, its shell, and the sleep it is in."""
    spawn(host, "/bin/sh -c 'cd / && run-parts --report /etc/cron.hourly'")


def ssh_session(lab: Lab, host: LabHost) -> subprocess.Popen:
    """An admin logged in interactively over SSH (a pty, a login shell, a utmp record) while the
    collection runs.  The caller ends it (by this Popen) after collecting."""
    argv = lab.controller_argv(
        [
            "ssh",
            "-tt",
            "-i",
            str(lab.client_key),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            f"root@{host.address}",
        ]
    )
    return subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _kill_exact(host: LabHost, command: str) -> None:
    """Stop the host process whose command line is exactly ``command`` (by PID, nothing broader)."""
    for pid in host_pids(host):
        if cmdline(pid) == command:
            os.kill(pid, signal.SIGTERM)
