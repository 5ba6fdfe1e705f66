"""Second catalogue of benign per-host state (the `v2-` scenarios), each kind written from a published
description of what really differs between identical instances of one image, and made of real files,
processes, sockets and mounts inside the lab hosts.  None of these kinds is in noise.py.

Every write lands in a per-host path (hostexec.PER_HOST) or in a mount made inside the host's private
mount namespace (``private_mounts``: /dev/shm, /var/spool/cron and a per-host copy of dpkg's status
file), which ``check_private`` proves before anything is written there."""

from __future__ import annotations

import random
import re
import shlex
from collections.abc import Callable
from pathlib import Path

from diffy_analysis.errors import LabError
from diffy_lab import Lab, LabHost

from .hostexec import sh, spawn
from .noise import PY, RELEASES, WORKERS, _kill_exact, jvm

CANARY = "2.1.0-rc1"
"""The canary release (newer than the rolling deploy's 2.0.0): a newer config and package too."""
DPKG_COPY = "/run/dpkg-state/status"
APP_UID = 1001
# The packages an unattended security upgrade touched on some hosts and not yet on others.
UPGRADED = ("libssl3", "openssl", "tzdata")


def _heredoc(path: str, text: str, mode: str = "0644") -> str:
    return f"cat > {path} <<'__EOF__'\n{text}__EOF__\nchmod {mode} {path}\n"


def private_mounts(host: LabHost) -> None:
    """Give the host its own /dev/shm and /var/spool/cron (tmpfs, like a real instance's) and its own
    copy of /var/lib/dpkg/status (bind-mounted from /run, which is per host), so that noise and
    attacks can write there without touching the machine's copies."""
    sh(
        host,
        "mount -t tmpfs -o mode=1777,size=64m tmpfs /dev/shm\n"
        "mount -t tmpfs -o mode=0755,size=4m tmpfs /var/spool/cron\n"
        "mkdir -p /var/spool/cron/crontabs /var/spool/cron/atjobs /var/spool/cron/atspool\n"
        "chmod 1730 /var/spool/cron/crontabs && chmod 1770 /var/spool/cron/atjobs\n"
        "chown daemon:daemon /var/spool/cron/atjobs /var/spool/cron/atspool\n"
        f"mkdir -p {Path(DPKG_COPY).parent} && cp /var/lib/dpkg/status {DPKG_COPY}\n"
        f"mount --bind {DPKG_COPY} /var/lib/dpkg/status\n",
    )
    check_private(host)


def check_private(host: LabHost) -> None:
    """Each privately mounted path must be a mount point inside the host (else a write would reach
    the machine's own file); refuse to go on otherwise."""
    out = sh(
        host,
        "for p in /dev/shm /var/spool/cron /var/lib/dpkg/status; do "
        "mountpoint -q $p && echo ok $p || echo missing $p; done",
    )
    missing = [line.split()[1] for line in out.splitlines() if line.startswith("missing")]
    if missing:
        raise LabError(f"{host.name}: {missing} not privately mounted; refusing to write there")


def dpkg_edit(lab: Lab, host: LabHost, edit: Callable[[str], str]) -> None:
    """Rewrite the host's private dpkg status with ``edit(text) -> text``, through the host's own
    /run directory seen from outside (the file is ~1 MB: too big for one shell argument)."""
    check_private(host)
    path = lab.host_dir(host.name) / "run" / DPKG_COPY.removeprefix("/run/")
    path.write_text(edit(path.read_text()))


def app_package(release: str) -> str:
    """The app's own Debian package stanza, as dpkg writes it, at the host's release."""
    version = release.replace("-", "~") + "-1"
    return (
        "Package: app-x\nStatus: install ok installed\nPriority: optional\nSection: web\n"
        "Installed-Size: 812\nMaintainer: App X Team <appx@example.com>\nArchitecture: all\n"
        f"Version: {version}\nDescription: App X web application (lab image)\n"
    )


def image_v2(lab: Lab, host: LabHost, release: str, deploy_key: str, rng: random.Random) -> None:
    """What every v2 host shares besides noise.image: private mounts, the app's service account with
    the CI deploy key, the app's package in dpkg's status, and the image's log files."""
    private_mounts(host)
    dpkg_edit(lab, host, lambda text: text.rstrip("\n") + "\n\n" + app_package(release))
    sh(
        host,
        f"grep -q '^app:' /etc/passwd || {{ echo 'app:x:{APP_UID}:{APP_UID}:app service:/home/app:/bin/bash'"
        f" >> /etc/passwd; echo 'app:x:{APP_UID}:' >> /etc/group;"
        " echo 'app:!:20423:0:99999:7:::' >> /etc/shadow; }\n"
        "mkdir -p /home/app/.ssh && cp /etc/skel/.bashrc /etc/skel/.profile /home/app/ 2>/dev/null || true\n"
        f"echo {shlex.quote(deploy_key)} > /home/app/.ssh/authorized_keys\n"
        "chmod 0700 /home/app/.ssh && chmod 0600 /home/app/.ssh/authorized_keys && "
        f"chown -R {APP_UID}:{APP_UID} /home/app\n"
        "mkdir -p /var/log/apt\n"
        "printf 'Start-Date: 2026-11-20  09:12:01\\nCommandline: apt-get install -y app-x\\n"
        "Install: app-x:all (1.4.2-1)\\nEnd-Date: 2026-11-20  09:12:03\\n\\n' > /var/log/apt/history.log\n"
        "printf '2026-11-20 09:12:02 install app-x:all <none> 1.4.2-1\\n' > /var/log/dpkg.log\n",
    )
    cloud_init_hosts(host)
    log_sizes(host, rng)


def cloud_init_hosts(host: LabHost) -> None:
    """cloud-init's update_etc_hosts module (``manage_etc_hosts: true``) renders /etc/hosts from its
    template on every boot with the instance's own FQDN and hostname on a 127.0.1.1 line
    (cloud-init docs, "Update Etc Hosts" module; /etc/cloud/templates/hosts.debian.tmpl): one
    etc_hosts row differs on every instance of the same image."""
    short = "ip-" + host.address.replace(".", "-")
    sh(host, f"echo '127.0.1.1 {short}.ec2.internal {short}' >> /etc/hosts")


def _lines(path: str, count: int, fmt: str) -> str:
    return f'i=0; while [ $i -lt {count} ]; do echo "{fmt}"; i=$((i+1)); done > {path}\n'


def log_sizes(host: LabHost, rng: random.Random) -> None:
    """System logs whose sizes depend on each host's own traffic and uptime (every host)."""
    sh(
        host,
        _lines(
            "/var/log/syslog", rng.randint(200, 3000), f"Dec  2 01:0$((i % 10)) {host.name} app[$i]: req ok"
        )
        + _lines(
            "/var/log/auth.log", rng.randint(20, 600), f"Dec  2 01:00 {host.name} sshd[$i]: Accepted key"
        )
        + _lines("/var/log/kern.log", rng.randint(5, 80), f"Dec  2 00:00 {host.name} kernel: eth0 up $i")
        + "chgrp adm /var/log/syslog /var/log/auth.log /var/log/kern.log; "
        "chmod 0640 /var/log/syslog /var/log/auth.log /var/log/kern.log\n",
    )


def log_rotated(host: LabHost) -> None:
    """logrotate(8) caught having just rotated: with ``create`` the active log is recreated empty and
    the old one becomes .1.  Debian runs it from logrotate.timer (OnCalendar=daily, AccuracySec=1h,
    Persistent=true; systemd.timer(5)), so hosts rotate at different times and at any moment some
    have empty syslog/auth.log while others have a day's worth."""
    sh(
        host,
        "for f in syslog auth.log; do mv /var/log/$f /var/log/$f.1 && : > /var/log/$f && "
        "chgrp adm /var/log/$f && chmod 0640 /var/log/$f; done\n",
    )


def _bump(version: str) -> str:
    """The next Debian stable/security revision of ``version`` (deb12uN -> deb12uN+1)."""
    bumped, n = re.subn(r"deb12u(\d+)", lambda m: f"deb12u{int(m.group(1)) + 1}", version)
    return bumped if n else version + "+deb12u1"


def partial_upgrade(lab: Lab, host: LabHost) -> list[str]:
    """unattended-upgrades already applied on this host, not yet on others: Debian's
    apt-daily-upgrade.timer fires at 6:00 with RandomizedDelaySec=60m (and mirrors sync on their own
    schedule), so a fleet is caught mid-way with libssl3/openssl/tzdata at two versions (Debian wiki
    "UnattendedUpgrades"; apt's apt-daily-upgrade.timer).  Written into the host's own dpkg status,
    apt history and dpkg.log, as apt does.  Returns the packages changed."""
    changed: list[tuple[str, str, str]] = []

    def edit(text: str) -> str:
        stanzas = text.split("\n\n")
        for i, stanza in enumerate(stanzas):
            name = re.search(r"^Package: (\S+)$", stanza, re.M)
            version = re.search(r"^Version: (\S+)$", stanza, re.M)
            if name and version and name.group(1) in UPGRADED:
                new = _bump(version.group(1))
                stanzas[i] = stanza.replace(f"Version: {version.group(1)}", f"Version: {new}")
                changed.append((name.group(1), version.group(1), new))
        return "\n\n".join(stanzas)

    dpkg_edit(lab, host, edit)
    upgrade = ", ".join(f"{n}:amd64 ({old}, {new})" for n, old, new in changed)
    dpkg_lines = "".join(
        f"2026-12-02 06:{17 + i}:04 upgrade {n}:amd64 {old} {new}\\n"
        for i, (n, old, new) in enumerate(changed)
    )
    sh(
        host,
        "printf 'Start-Date: 2026-12-02  06:17:02\\nCommandline: /usr/bin/unattended-upgrade\\n"
        f"Upgrade: {upgrade}\\nEnd-Date: 2026-12-02  06:19:40\\n\\n' >> /var/log/apt/history.log\n"
        f"printf '{dpkg_lines}' >> /var/log/dpkg.log\n",
    )
    return [n for n, _, _ in changed]


JOB_PY = "import sys, time\nwhile True:\n    time.sleep(3600)\n"


def containers(host: LabHost, rng: random.Random, count: int) -> None:
    """Ephemeral batch containers scheduled on this node: containerd's runtime-v2 task directories
    (/run/containerd/io.containerd.runtime.v2.task/<namespace>/<id>/rootfs, an overlay mount per
    container) and CRI sandboxes' shm tmpfs (/run/containerd/io.containerd.grpc.v1.cri/sandboxes/<id>/
    shm), with random 64-hex ids, plus ``net.ipv4.ip_forward=1`` which Kubernetes requires on nodes
    (containerd docs; kubernetes.io "Container Runtimes": "Enable IPv4 packet forwarding").  The
    container's process is a job script run from its rootfs."""
    script = "mkdir -p /run/containerd && mount -t tmpfs -o size=32m,mode=0711 tmpfs /run/containerd\n"
    jobs = []
    for _ in range(count):
        cid, sandbox = f"{rng.getrandbits(256):064x}", f"{rng.getrandbits(256):064x}"
        snap = f"/run/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/{rng.randint(10, 999)}"
        rootfs = f"/run/containerd/io.containerd.runtime.v2.task/k8s.io/{cid}/rootfs"
        shm = f"/run/containerd/io.containerd.grpc.v1.cri/sandboxes/{sandbox}/shm"
        script += (
            f"mkdir -p {snap}/lower/app {snap}/fs {snap}/work {rootfs} {shm}\n"
            + _heredoc(f"{snap}/lower/app/job.py", JOB_PY)
            + f"mount -t overlay overlay -o lowerdir={snap}/lower,upperdir={snap}/fs,"
            f"workdir={snap}/work {rootfs}\n"
            f"mount -t tmpfs -o size=64m,mode=1777 shm {shm}\n"
        )
        jobs.append((rootfs, cid))
    script += "echo 1 > /proc/sys/net/ipv4/ip_forward\n"
    sh(host, script)
    for rootfs, cid in jobs:
        spawn(host, f"{PY} {rootfs}/app/job.py --job-id {cid[:12]}", cwd=rootfs)


COORD_PY = """\
import socket, sys, threading, time
peers = [a for a in sys.argv[sys.argv.index("--initial-cluster") + 1].split(",") if a]
me = sys.argv[sys.argv.index("--advertise") + 1]
held = []
def serve(port):
    srv = socket.create_server(("0.0.0.0", port))
    while True:
        conn, _ = srv.accept()
        held.append(conn)
for port in (2379, 2380):
    threading.Thread(target=serve, args=(port,), daemon=True).start()
for peer in peers:
    if peer == me:
        continue
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            held.append(socket.create_connection((peer, 2380), timeout=2))
            break
        except OSError:
            time.sleep(0.5)
while True:
    time.sleep(3600)
"""


def coordinator(host: LabHost, members: list[LabHost]) -> None:
    """A member of the app's 3-node coordination cluster (an etcd-like quorum that runs on only some
    of the app's hosts): client port 2379, peer port 2380, and an established peer connection to
    every other member (etcd docs, "Clustering Guide": --listen-peer-urls :2380, --initial-cluster).
    A stand-in written in Python with etcd's ports and flags, named so in its path."""
    sh(host, "mkdir -p /srv/coord && " + _heredoc("/srv/coord/etcd-standin.py", COORD_PY).rstrip("\n"))
    cluster = ",".join(m.address for m in members)
    spawn(
        host,
        f"{PY} /srv/coord/etcd-standin.py --name {host.name} --advertise {host.address} "
        f"--initial-cluster {cluster}",
        cwd="/srv/coord",
        log="/var/log/app/coord.log",
    )


POOL_PY = """\
import os, socket, time
tcp = socket.create_server(("127.0.0.1", 6432))
path = "/tmp/.s.PGSQL.6432"
if os.path.exists(path):
    os.unlink(path)
unix = socket.socket(socket.AF_UNIX)
unix.bind(path)
unix.listen(16)
time.sleep(10**8)
"""


def connection_pool(host: LabHost) -> None:
    """A local connection pooler on the hosts that talk to the database directly: pgbouncer listens
    on 6432 and, by default, on a Unix socket in /tmp (pgbouncer docs: listen_port 6432,
    unix_socket_dir "/tmp"), so /tmp holds a per-host .s.PGSQL.6432 socket.  A Python stand-in with
    the same sockets (named so in its path)."""
    sh(
        host,
        "mkdir -p /srv/pool /etc/pgbouncer && "
        + _heredoc("/srv/pool/pgbouncer-standin.py", POOL_PY)
        + "printf '[databases]\\norders = host=db.internal\\n[pgbouncer]\\nlisten_port = 6432\\n'"
        " > /etc/pgbouncer/pgbouncer.ini\n",
    )
    spawn(host, f"{PY} /srv/pool/pgbouncer-standin.py /etc/pgbouncer/pgbouncer.ini", cwd="/srv/pool")


def admin_tmux(host: LabHost) -> None:
    """An operator's detached tmux session left running on a host (tmux(1): the server forks and
    keeps the session's programs after the client detaches), watching disk usage."""
    sh(host, "TERM=xterm tmux new-session -d -s ops 'watch -n 5 df -h'")


def deploy_canary(host: LabHost, size: str) -> None:
    """A canary group on a newer release *and* a newer config together: release 2.1.0-rc1's web server
    and workers with a feature flag, its metrics endpoint, a raised open-files limit in
    /etc/security/limits.d, and the package at 2.1.0~rc1-1 (written by image_v2)."""
    base = f"/srv/app/releases/{CANARY}"
    v2 = f"/srv/app/releases/{RELEASES[2]}"
    sh(
        host,
        f"mkdir -p {base} && cp -r {v2}/. {base}/ && echo {CANARY} > {base}/VERSION\n"
        f"echo '<h1>app {CANARY}</h1>' > {base}/public/index.html\n"
        f"echo 'ALTER TABLE orders ADD channel text;' > {base}/migrations/0008.sql\n"
        f"ln -sfn {base} /srv/app/current\n"
        "mkdir -p /etc/security/limits.d\n"
        "printf 'app soft nofile 65536\\napp hard nofile 65536\\n'"
        " > /etc/security/limits.d/90-app-nofile.conf\n",
    )
    _kill_exact(host, f"{PY} -m http.server 8080")
    spawn(host, f"{PY} -m http.server 8080 --directory {base}/public", cwd="/srv/app")
    spawn(host, f"{PY} {base}/metrics.py", cwd=f"{base}/public")
    for n in range(1, WORKERS[size] + 1):
        spawn(
            host,
            f"{PY} {base}/worker.py --queue orders --id {n} --batch 50 --feature-flags new-checkout",
            cwd=base,
            log=f"/var/log/app/worker-{n}.log",
        )
    if size == "large":
        jvm(host)
