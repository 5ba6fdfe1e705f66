"""Fifth catalogue of benign per-host state (the `v5-` scenarios): kinds of churn between identical
cloud instances that none of noise.py, noise_v2.py, noise_v3.py and noise_v4.py has, made of real
processes, files, sockets and mounts inside the lab hosts.  Each kind's docstring names the public
description of the real-fleet behaviour it follows.  Several of them touch exactly the state an
attacker also touches (accounts, SSH keys, sudoers, cron, listeners, sysctl files, /tmp and /var/tmp,
a process attached to the app), on a sub-population (a configuration-management run that only
reached some batches, a hardening baseline applied to one tier) or on a single host (a one-off
admin action).

Every write lands in a per-host path (hostexec.PER_HOST) or in the host's private /var/log tmpfs
(noise.image); the live sysctl values changed are per network namespace (net.ipv4.conf.*), so they
change the host's namespace only."""

from __future__ import annotations

import random
import shlex

from diffy_lab import LabHost

from .hostexec import sh, spawn
from .noise import PY, _heredoc

DEPLOY_USER, DEPLOY_UID = "deploy", 1020
"""The image's human deploy account (a login shell and a home from /etc/skel), every host."""
OPS_USER, OPS_UID = "opsbot", 1050
"""The account the configuration-management run creates on the hosts it reached."""
FILESHARE_PORT = 8000
"""python3 -m http.server's default port."""
APP_UNIT = "/etc/systemd/system/app-x.service"
APP_UNIT_TEXT = """\
[Unit]
Description=App X web server
After=network-online.target
[Service]
User=root
WorkingDirectory=/srv/app/current
ExecStart=/usr/bin/python3 -m http.server 8080
Restart=always
[Install]
WantedBy=multi-user.target
"""
BACKUP_SH = """\
#!/bin/sh
# nightly application backup (lab image): tar the release and upload it
set -e
out=/var/tmp/app-x-backup-$(date +%Y%m%d).tar.gz.partial
tar czf "$out" -C /srv/app current
"""


def image_v5(host: LabHost, rng: random.Random) -> None:
    """What every v5 host shares besides noise.image: the human deploy account with a home made
    from /etc/skel (.bashrc, .profile, .bash_logout), the app's unit file and its wants link, the
    nightly backup script in /etc/cron.daily, and log files sized by each host's own traffic."""
    auth_lines, syslog_lines = rng.randint(30, 900), rng.randint(100, 2000)
    sh(
        host,
        f"grep -q '^{DEPLOY_USER}:' /etc/passwd || {{ echo '{DEPLOY_USER}:x:{DEPLOY_UID}:{DEPLOY_UID}:"
        f"Deploy user,,,:/home/{DEPLOY_USER}:/bin/bash' >> /etc/passwd; echo '{DEPLOY_USER}:x:{DEPLOY_UID}:'"
        f" >> /etc/group; echo '{DEPLOY_USER}:!:20400:0:99999:7:::' >> /etc/shadow; }}\n"
        f"mkdir -p /home/{DEPLOY_USER} && cp /etc/skel/.bashrc /etc/skel/.profile /etc/skel/.bash_logout"
        f" /home/{DEPLOY_USER}/\n"
        f"chown -R {DEPLOY_UID}:{DEPLOY_UID} /home/{DEPLOY_USER}\n"
        "mkdir -p /etc/systemd/system/multi-user.target.wants /etc/cron.daily\n"
        + _heredoc(APP_UNIT, APP_UNIT_TEXT)
        + f"ln -sfn {APP_UNIT} /etc/systemd/system/multi-user.target.wants/app-x.service\n"
        + _heredoc("/etc/cron.daily/app-backup", BACKUP_SH, "0755")
        + f'i=0; while [ $i -lt {auth_lines} ]; do echo "Dec  3 0$((i % 10)):1$((i % 6)):0$((i % 10))'
        f' {host.name} sshd[$((1000 + i))]: Accepted publickey for root from 10.0.0.$((i % 250))";'
        " i=$((i+1)); done > /var/log/auth.log\n"
        f'i=0; while [ $i -lt {syslog_lines} ]; do echo "Dec  3 00:00:0$((i % 10)) {host.name} app-x[77]:'
        ' GET /orders/$i 200"; i=$((i+1)); done > /var/log/syslog\n'
        "chmod 0640 /var/log/auth.log /var/log/syslog\n",
        timeout=60,
    )


OPS_SUDOERS = (
    "# Ansible managed: role ops_access\n"
    f"{OPS_USER} ALL=(root) NOPASSWD: /usr/bin/systemctl restart app-x, /usr/bin/journalctl -u app-x *\n"
)
OPS_CRON = (
    "# Ansible: ops inventory report\n"
    "SHELL=/bin/sh\n"
    f"17 */4 * * * {OPS_USER} /usr/bin/python3 /srv/ops/inventory.py --report /var/tmp/ops-inventory.json\n"
)
INVENTORY_PY = "import json, platform, sys\nprint(json.dumps({'host': platform.node()}))\n"


def ops_access(host: LabHost, key: str) -> None:
    """A configuration-management run that reached only part of the fleet: Ansible's ``serial``
    keyword runs a play on batches of hosts one after the other (Ansible docs, "Controlling playbook
    execution: strategies and more" - "Setting the batch size with serial"), and a play stopped or
    failed after its first batches (``max_fail_percentage``) leaves the change on those hosts only,
    until the next run.  The play here is a typical "ops access" role: ansible.builtin.user creates
    the `opsbot` account (login shell, home from /etc/skel), ansible.posix.authorized_key installs
    the team's key (the same key on every host it reached), community.general.sudoers drops a
    command-limited NOPASSWD rule in /etc/sudoers.d, and ansible.builtin.cron a job in /etc/cron.d
    (its "#Ansible: <name>" marker) that runs the team's inventory script."""
    sh(
        host,
        f"grep -q '^{OPS_USER}:' /etc/passwd || {{ echo '{OPS_USER}:x:{OPS_UID}:{OPS_UID}:Ops automation:"
        f"/home/{OPS_USER}:/bin/bash' >> /etc/passwd; echo '{OPS_USER}:x:{OPS_UID}:' >> /etc/group;"
        f" echo '{OPS_USER}:!:20425:0:99999:7:::' >> /etc/shadow; }}\n"
        f"mkdir -p /home/{OPS_USER}/.ssh /srv/ops /etc/sudoers.d /etc/cron.d\n"
        f"cp /etc/skel/.bashrc /etc/skel/.profile /etc/skel/.bash_logout /home/{OPS_USER}/\n"
        f"echo {shlex.quote(key)} > /home/{OPS_USER}/.ssh/authorized_keys\n"
        f"chmod 0700 /home/{OPS_USER}/.ssh && chmod 0600 /home/{OPS_USER}/.ssh/authorized_keys\n"
        f"chown -R {OPS_UID}:{OPS_UID} /home/{OPS_USER}\n"
        + _heredoc("/etc/sudoers.d/50-opsbot", OPS_SUDOERS, "0440")
        + _heredoc("/etc/cron.d/ops-inventory", OPS_CRON)
        + _heredoc("/srv/ops/inventory.py", INVENTORY_PY),
    )


HARDENING_CONF = """\
# CIS Debian Linux 12 Benchmark, 3.3 Network parameters (host and router) - lab tier "edge"
net.ipv4.conf.all.send_redirects = 0
net.ipv4.conf.default.send_redirects = 0
net.ipv4.conf.all.accept_redirects = 0
net.ipv4.conf.default.accept_redirects = 0
net.ipv4.conf.all.secure_redirects = 0
net.ipv4.conf.all.log_martians = 1
"""


def net_hardening(host: LabHost) -> None:
    """Kernel network parameters tuned on one tier only: the CIS Debian Linux Benchmark's network
    section (3.3, "Ensure packet redirect sending is disabled", "Ensure ICMP redirects are not
    accepted", "Ensure suspicious packets are logged") applied by the security team to the
    internet-facing tier first, as a file in /etc/sysctl.d (sysctl.d(5): read at boot by
    systemd-sysctl) and live with ``sysctl --system``.  The live values changed here are per network
    namespace (net.ipv4.conf.*), so only this host's namespace changes."""
    sh(
        host,
        "mkdir -p /etc/sysctl.d\n"
        + _heredoc("/etc/sysctl.d/60-cis-network.conf", HARDENING_CONF)
        + "for kv in $(grep -v '^#' /etc/sysctl.d/60-cis-network.conf | tr -d ' '); do"
        ' k=${kv%%=*}; v=${kv#*=}; echo "$v" > /proc/sys/$(echo "$k" | tr . /); done\n'
        "test $(cat /proc/sys/net/ipv4/conf/all/send_redirects) = 0\n",
    )


def support_key(host: LabHost, key: str, subnet: str) -> None:
    """A temporary vendor-support engineer's SSH key on one host: sshd(8), AUTHORIZED_KEYS FILE
    FORMAT, documents the ``expiry-time="timespec"`` option (the key stops being accepted after that
    date) and ``from="pattern-list"`` (source addresses), the usual way to grant a vendor time-boxed
    access to the one host a ticket is about; the key is appended to root's authorized_keys next to
    the fleet's own and nobody removes it after the ticket closes."""
    line = f'expiry-time="20261231",from="{subnet}" {key} vendor-support ticket#48213'
    sh(host, f"echo {shlex.quote(line)} >> /root/.ssh/authorized_keys")


PYSPY_PY = """\
import sys, time
out = sys.argv[sys.argv.index("-o") + 1]
with open(out, "w") as f:
    f.write('<?xml version="1.0" standalone="no"?><svg version="1.1" width="1200">\\n')
    f.flush()
    while True:
        time.sleep(3600)
"""


def profiling_sidecar(host: LabHost) -> None:
    """A profiler attached to the app during a performance investigation on one or two hosts:
    py-spy's README ("py-spy record -o profile.svg --pid 12345"; its sampling attaches with ptrace)
    notes that attaching to a process needs root or a relaxed Yama ptrace scope, which admins set
    with ``kernel.yama.ptrace_scope = 0`` in /etc/sysctl.d (kernel docs, Yama LSM).  Left running:
    the profiler, its partial flame graph in /tmp and the sysctl file.  Stand-in: a copy of the
    interpreter named py-spy in /srv/ops/bin (the real py-spy is a Rust binary from pip); the live
    ptrace scope is kernel-wide, so only the file is written (all lab hosts share one kernel)."""
    sh(
        host,
        "mkdir -p /srv/ops/bin /etc/sysctl.d && cp /usr/bin/python3 /srv/ops/bin/py-spy\n"
        + _heredoc("/srv/ops/bin/pyspy-standin.py", PYSPY_PY)
        + "printf '# perf investigation INC-2291: allow py-spy to attach\\nkernel.yama.ptrace_scope = 0\\n'"
        " > /etc/sysctl.d/10-ptrace-debug.conf\n",
        timeout=60,
    )
    pid = sh(host, "pgrep -o -f 'http.server 8080' || echo 1").split()[0]
    spawn(
        host,
        f"env PYTHONHOME=/usr /srv/ops/bin/py-spy /srv/ops/bin/pyspy-standin.py record --pid {pid}"
        " --rate 100 --subprocesses -o /tmp/profile-app-x.svg",
        cwd="/srv/ops",
    )


STUCK_PY = """\
import os, sys, time
child = os.fork()
if child == 0:
    os.execv("/bin/sh", ["/bin/sh", "-c", "exit 0"])
# the upload step hangs (a stalled object-store connection); the finished tar child is never reaped
with open(sys.argv[1], "ab") as f:
    f.write(os.urandom(int(sys.argv[2])))
while True:
    time.sleep(3600)
"""


def stuck_backup(host: LabHost, rng: random.Random) -> int:
    """The nightly backup job stuck since the night on one or two hosts: its upload stalled and
    the job never finished, so the parent still runs and the finished child it never wait()ed for
    stays a zombie (proc(5): state Z; wait(2): "a child that terminates, but has not been waited
    for becomes a zombie"), next to the job's partial archive in /var/tmp.  Returns the partial
    archive's size in KiB."""
    kib = rng.randint(64, 4096)
    sh(host, "mkdir -p /srv/ops/bin\n" + _heredoc("/srv/ops/bin/app-backup-upload.py", STUCK_PY))
    spawn(
        host,
        f"{PY} /srv/ops/bin/app-backup-upload.py /var/tmp/app-x-backup-20261203.tar.gz.partial {kib * 1024}",
        cwd="/var/tmp",
    )
    return kib


def adhoc_fileshare(host: LabHost, rng: random.Random) -> None:
    """An admin's ad-hoc file share on one host: Python's docs for http.server ("python -m
    http.server [port] ... --directory") describe the quick way to serve a directory over HTTP, and
    admins use it to hand a heap dump or a log bundle to a colleague; left running on its default
    port 8000 as root, serving a directory in /tmp."""
    size = rng.randint(256, 2048)
    sh(
        host,
        "mkdir -p /tmp/share && "
        f"head -c {size * 1024} /dev/urandom > /tmp/share/app-x-logs-20261203.tar.gz\n",
    )
    spawn(host, f"{PY} -m http.server {FILESHARE_PORT} --directory /tmp/share", cwd="/tmp/share")
