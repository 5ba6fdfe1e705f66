"""Fourth catalogue of benign per-host state (the `v4-` scenarios): kinds of churn between identical
cloud instances that none of noise.py, noise_v2.py and noise_v3.py has, made of real processes,
files, sockets and mounts inside the lab hosts.  Each kind's docstring names the published behaviour
it follows.

Every write lands in a per-host path (hostexec.PER_HOST), in the host's private /var/log tmpfs
(noise.image), in the private mounts of noise_v2.private_mounts, or in the two tmpfs mounts this
module makes inside the host's private mount namespace (/opt and /var/mail, ``private_v4``), each
proven a mount point inside the host before anything is written there."""

from __future__ import annotations

import random
import shlex

from diffy_analysis.errors import LabError
from diffy_lab import LabHost

from .hostexec import sh, spawn
from .noise import PY, _heredoc, _kill_exact

ADMIN_USER, ADMIN_UID = "admin", 1010
"""The cloud image's default user (Debian's cloud images: `admin`), whose key cloud-init injects; not uid
1000, which the machine's own passwd (copied into every host) already gives another account."""
RELEASES = {"base": "2.4.1", "rollout": "3.1.0", "canary": "3.2.0-rc1"}
SSM = {False: "3.3.987.0", True: "3.3.1142.0"}
"""amazon-ssm-agent before / after its automatic update."""
HEALTHD_PORT = 8558
OTEL_PORT = 9464
"""OpenTelemetry's Prometheus exporter default port (opentelemetry-exporter-prometheus)."""
DEBUG_PORT = 5678
"""debugpy's default listening port."""
EFS_PORTS = (20049, 21049)
"""efs-utils' stunnel local port range (efs-utils.conf: port_range_lower_bound/upper_bound)."""
KEYPAIRS = {False: "fleet-2025-09", True: "fleet-2026-11"}
"""The launch template's EC2 key pair: before / after the rotation."""


def private_v4(host: LabHost) -> None:
    """The host's own /opt and /var/mail (tmpfs in its private mount namespace), so that agents
    installed under /opt and mail spooled for root never touch the machine's directories."""
    sh(
        host,
        "mount -t tmpfs -o mode=0755,size=160m tmpfs /opt\n"
        "mount -t tmpfs -o mode=2775,size=4m tmpfs /var/mail && chgrp mail /var/mail\n",
    )
    check_private_v4(host)


def check_private_v4(host: LabHost) -> None:
    out = sh(host, "for p in /opt /var/mail; do mountpoint -q $p && echo ok $p || echo missing $p; done")
    missing = [line.split()[1] for line in out.splitlines() if line.startswith("missing")]
    if missing:
        raise LabError(f"{host.name}: {missing} not privately mounted; refusing to write there")


def package(name: str, version: str, arch: str, description: str) -> str:
    """A dpkg status stanza, as dpkg writes it."""
    return (
        f"Package: {name}\nStatus: install ok installed\nPriority: optional\nSection: admin\n"
        f"Installed-Size: 2048\nMaintainer: Lab Image <image@example.com>\nArchitecture: {arch}\n"
        f"Version: {version}\nDescription: {description}\n"
    )


def packages(release: str, ssm_updated: bool) -> str:
    """The dpkg stanzas a v4 host adds: the app at its release, the SSM agent at its version."""
    return (
        package("app-x", release.replace("-", "~") + "-1", "all", "App X web application (lab image)")
        + "\n"
        + package("amazon-ssm-agent", SSM[ssm_updated] + "-1", "amd64", "Amazon SSM Agent (lab stand-in)")
    )


SERVER_PY = """\
import http.server, sys
args = sys.argv[1:]
port = int(args[args.index("--port") + 1])
root = args[args.index("--root") + 1]
handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=root)
servers = [http.server.ThreadingHTTPServer(("0.0.0.0", port), handler)]
if "--otel-exporter" in args:
    import threading
    otel = http.server.ThreadingHTTPServer(("0.0.0.0", {otel}), handler)
    threading.Thread(target=otel.serve_forever, daemon=True).start()
if "--debug-listen" in args:
    import socket
    host, dport = args[args.index("--debug-listen") + 1].rsplit(":", 1)
    debug = socket.create_server((host, int(dport)))
servers[0].serve_forever()
""".replace("{otel}", str(OTEL_PORT))
HEALTHD_PY = """\
import socket, time
srv = socket.create_server(("0.0.0.0", {port}))
while True:
    conn, _ = srv.accept()
    conn.sendall(b"ok\\n")
    conn.close()
""".replace("{port}", str(HEALTHD_PORT))
SLEEP_PY = "import time\nwhile True:\n    time.sleep(3600)\n"
UNIT = """\
[Unit]
Description=App X web server
After=network-online.target
[Service]
User=root
ExecStart={bin} {base}/server.py --port 8080 --root {base}/public{args}
Restart=always
[Install]
WantedBy=multi-user.target
"""


def _args(kind: str) -> str:
    return {
        "base": " --workers 2",
        "rollout": " --workers 4 --otel-exporter prometheus",
        "canary": " --workers 4 --otel-exporter prometheus --log-level debug --debug-listen "
        f"127.0.0.1:{DEBUG_PORT}",
    }[kind]


def image_v4(host: LabHost, keypair_new: bool, admin_keys: dict[bool, str]) -> None:
    """What every v4 host shares besides noise.image and noise_v2.private_mounts: the private /opt
    and /var/mail, the three app releases unpacked under /srv/app/releases (each with its own copy
    of the interpreter as bin/app-server), the cloud image's default user with sudo (cloud-init's
    /etc/sudoers.d/90-cloud-init-users) and the launch template's key, and the app's health daemon."""
    private_v4(host)
    script = ""
    first = f"/srv/app/releases/{RELEASES['base']}/bin/app-server"
    for kind, release in RELEASES.items():
        base = f"/srv/app/releases/{release}"
        copy = "cp /usr/bin/python3" if kind == "base" else f"ln -f {first}"
        script += (
            f"mkdir -p {base}/bin {base}/public && {copy} {base}/bin/app-server\n"
            f"echo {release} > {base}/VERSION && echo '<h1>app {release}</h1>' > {base}/public/index.html\n"
            + _heredoc(f"{base}/server.py", SERVER_PY)
        )
    script += (
        f"grep -q '^{ADMIN_USER}:' /etc/passwd || {{ echo '{ADMIN_USER}:x:{ADMIN_UID}:{ADMIN_UID}:Debian:"
        f"/home/{ADMIN_USER}:/bin/bash' >> /etc/passwd; echo '{ADMIN_USER}:x:{ADMIN_UID}:' >> /etc/group;"
        f" echo '{ADMIN_USER}:!:20400:0:99999:7:::' >> /etc/shadow; }}\n"
        f"mkdir -p /home/{ADMIN_USER}/.ssh && cp /etc/skel/.bashrc /etc/skel/.profile /home/{ADMIN_USER}/"
        " 2>/dev/null || true\n"
        f"echo {shlex.quote(admin_keys[keypair_new])} > /home/{ADMIN_USER}/.ssh/authorized_keys\n"
        f"chmod 0700 /home/{ADMIN_USER}/.ssh && chmod 0600 /home/{ADMIN_USER}/.ssh/authorized_keys\n"
        f"chown -R {ADMIN_UID}:{ADMIN_UID} /home/{ADMIN_USER}\n"
        "mkdir -p /etc/sudoers.d && printf '# Created by cloud-init v. 22.4.2\\n\\n"
        f"# User rules for {ADMIN_USER}\\n{ADMIN_USER} ALL=(ALL) NOPASSWD:ALL\\n'"
        " > /etc/sudoers.d/90-cloud-init-users && chmod 0440 /etc/sudoers.d/90-cloud-init-users\n"
        "mkdir -p /srv/app/bin && cp /usr/bin/python3 /srv/app/bin/app-healthd\n"
        + _heredoc("/srv/app/healthd.py", HEALTHD_PY)
    )
    sh(host, script, timeout=60)
    spawn(
        host, "env PYTHONHOME=/usr /srv/app/bin/app-healthd /srv/app/healthd.py --interval 10", cwd="/srv/app"
    )


def deploy_v4(host: LabHost, kind: str) -> None:
    """Run the host's release of the app (``kind``: base, rollout or canary) as its unit file says,
    replacing the lab's default web server.  A rolling deploy of 3.1.0 changes several things at
    once, as a real release does: the package version (written by the builder), the unit file's
    ExecStart (binary path and arguments), and a new OpenTelemetry metrics listener on 9464; the
    canary group additionally runs with a debug flag and debugpy's local listener on 5678."""
    release = RELEASES[kind]
    base = f"/srv/app/releases/{release}"
    binary = f"{base}/bin/app-server"
    unit = UNIT.format(bin=binary, base=base, args=_args(kind))
    sh(
        host,
        "mkdir -p /etc/systemd/system/multi-user.target.wants\n"
        + _heredoc("/etc/systemd/system/app-x.service", unit)
        + "ln -sfn /etc/systemd/system/app-x.service"
        " /etc/systemd/system/multi-user.target.wants/app-x.service\n"
        f"ln -sfn {base} /srv/app/current\n",
    )
    _kill_exact(host, f"{PY} -m http.server 8080")
    spawn(
        host,
        f"env PYTHONHOME=/usr {binary} {base}/server.py --port 8080 --root {base}/public{_args(kind)}",
        cwd=base,
        log="/var/log/app/server.log",
    )


def expected_ports(kind: str) -> set[int]:
    return (
        {22, 8080, HEALTHD_PORT}
        | ({OTEL_PORT} if kind != "base" else set())
        | ({DEBUG_PORT} if kind == "canary" else set())
    )


def ssm_agent(host: LabHost, updated: bool) -> None:
    """amazon-ssm-agent, on every host, at one of two versions: Systems Manager's "Auto update SSM
    Agent" setting (AWS docs, "Automating updates to SSM Agent") creates a State Manager association
    running AWS-UpdateSSMAgent on a schedule, so the fleet carries two agent versions until every
    host's turn came; the updater installs the new version beside the old and restarts the agent
    from it.  Here: the agent and its worker from /opt/amazon/ssm/<version>/, the package at that
    version in dpkg status (written by the builder).  Stand-in: copies of the interpreter running a
    sleep loop under the agent's names (the real agent is a Go binary)."""
    version = SSM[updated]
    base = f"/opt/amazon/ssm/{version}"
    sh(
        host,
        f"mkdir -p {base} /etc/amazon/ssm\n"
        f"cp /usr/bin/python3 {base}/amazon-ssm-agent\n"
        f"ln -f {base}/amazon-ssm-agent {base}/ssm-agent-worker\n"
        + _heredoc(f"{base}/agent-standin.py", SLEEP_PY)
        + f"ln -sfn {base} /opt/amazon/ssm/current\n"
        + 'printf \'{"Agent": {"Region": "us-east-1"}}\\n\''
        " > /etc/amazon/ssm/amazon-ssm-agent.json\n",
        timeout=60,
    )
    spawn(host, f"env PYTHONHOME=/usr {base}/amazon-ssm-agent {base}/agent-standin.py", cwd=base)
    spawn(host, f"env PYTHONHOME=/usr {base}/ssm-agent-worker {base}/agent-standin.py", cwd=base)


def pending_restart(host: LabHost) -> None:
    """The health daemon's binary upgraded under it, the daemon not restarted yet: dpkg (and
    install(1)) unpack a new file and rename it over the old one, so a process started before the
    upgrade keeps running the old, now deleted, inode (its /proc/PID/exe ends in " (deleted)") until
    it is restarted.  This is exactly what Debian's needrestart(1) looks for after unattended
    upgrades, and hosts reach their restart at different times."""
    sh(
        host,
        "cp /usr/bin/python3 /srv/app/bin/.app-healthd.new && mv -f /srv/app/bin/.app-healthd.new "
        "/srv/app/bin/app-healthd\n",
        timeout=60,
    )


def cron_mail(host: LabHost, rng: random.Random) -> int:
    """Mail spooled for root by cron: cron(8) mails a job's output to the crontab's owner (Debian
    cron, MAILTO), and a local MTA delivers it to /var/mail/root; on hosts where the nightly job
    printed something (a failed backup upload after a network blip) root has an mbox of one or more
    messages, elsewhere none.  Returns the number of messages."""
    count = rng.randint(1, 5)
    short = "ip-" + host.address.replace(".", "-")
    msgs = ""
    for i in range(count):
        msgs += (
            f"From root@{short}  Wed Dec  2 0{2 + i}:17:01 2026\n"
            f"From: root@{short} (Cron Daemon)\nTo: root@{short}\n"
            f"Subject: Cron <root@{short}> /srv/app/bin/nightly-backup\n"
            "Content-Type: text/plain; charset=UTF-8\n\n"
            f"upload failed: connection reset by peer (attempt {i + 1})\n\n"
        )
    sh(
        host,
        f"printf %s {shlex.quote(msgs)} > /var/mail/root && chown root:mail /var/mail/root && "
        "chmod 0600 /var/mail/root",
    )
    return count


def admin_traces(host: LabHost, rng: random.Random) -> None:
    """What an administrator's past interactive work leaves in root's home on the hosts they logged
    into (and not on the others): a longer shell history, vim's .viminfo and less's .lesshst
    (vim: 'viminfo' option; less(1): LESSHISTFILE), and a known_hosts entry for the host they
    jumped to next."""
    lines = rng.randint(8, 120)
    sh(
        host,
        f'i=0; while [ $i -lt {lines} ]; do echo "journalctl -u app-x --since -${{i}}min | tail"; '
        "i=$((i+1)); done >> /root/.bash_history\n"
        "printf '# This viminfo file was generated by Vim 9.0.\\n> /etc/app-x/app.env\\n' > /root/.viminfo\n"
        "printf '.less-history-file:\\n.search\\n\"ERROR\\n' > /root/.lesshst\n"
        "mkdir -p /root/.ssh && printf"
        " '|1|c2FsdA==|aGFzaA== ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfDb1\\n'"
        " >> /root/.ssh/known_hosts\n"
        "chmod 0600 /root/.bash_history /root/.viminfo /root/.lesshst\n",
    )


STUNNEL_PY = """\
import socket, sys, time
port = int(sys.argv[sys.argv.index("--accept") + 1].rsplit(":", 1)[1])
srv = socket.create_server(("127.0.0.1", port))
time.sleep(10**8)
"""


def efs_mount(host: LabHost, port: int) -> None:
    """The ingest role's shared file system, mounted with amazon-efs-utils and encryption in transit
    (AWS docs, "Encrypting data in transit"; efs-utils README): mount.efs starts an stunnel process
    listening on a local port taken from 20049-21049 (a different one per host and mount) and the
    NFS client mounts 127.0.0.1:/ through it.  Stand-in: a tmpfs whose source is 127.0.0.1:/ on
    /srv/shared (the real one is nfs4 to the tunnel), and a Python stand-in holding stunnel's local
    port (named so in its path)."""
    sh(
        host,
        "mkdir -p /srv/shared /srv/agents /etc/amazon/efs\n"
        "mount -t tmpfs -o size=16m,mode=0755 127.0.0.1:/ /srv/shared\n"
        "mountpoint -q /srv/shared\n"
        "printf '[mount]\\nstunnel_check_cert_hostname = true\\nport_range_lower_bound = 20049\\n"
        "port_range_upper_bound = 21049\\n' > /etc/amazon/efs/efs-utils.conf\n"
        + _heredoc("/srv/agents/stunnel-standin.py", STUNNEL_PY),
    )
    spawn(
        host,
        f"{PY} /srv/agents/stunnel-standin.py /var/run/efs/stunnel-config.fs-0a1b2c3d.srv.shared.{port}"
        f" --accept 127.0.0.1:{port}",
        cwd="/",
    )
