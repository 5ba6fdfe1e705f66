"""Third catalogue of benign per-host state (the `v3-` scenarios): kinds of churn a cloud app fleet
shows that neither noise.py nor noise_v2.py has, made of real processes, files, sockets and mounts
inside the lab hosts.

Every write lands in a per-host path (hostexec.PER_HOST), in the host's private /var/log tmpfs
(noise.image), or in mounts made inside the host's private mount namespace (noise_v2.private_mounts,
and the instance-store mount of ``instance_store``)."""

from __future__ import annotations

import ipaddress
import random
import shlex

from diffy_lab import LabHost

from .hostexec import sh, spawn
from .noise import PY, _heredoc

AZS = ("a", "b", "c")
SERVICE_USER, SERVICE_UID = "svc-etl", 1020
EXPORTER = {False: "1.5.0-1+b6", True: "1.7.0-1"}
"""prometheus-node-exporter before / after the config-management run."""
EXPORTER_ARGS = {
    False: "--web.listen-address=:9100",
    True: "--web.listen-address=:9100 --collector.systemd --collector.processes",
}
POOL = {"standard": (2, 5), "i4i": (4, 8)}
"""Busy workers of the adaptive API pool (uWSGI "cheaper" mode) per hardware type: (min, max)."""


def firewall_rules(gateway: str) -> str:
    """The image's nftables ruleset (inet filter/input): SSH only from the bastion (the lab
    controller's address), the app's ports open, policy accept (so nothing else breaks)."""
    return (
        "table inet filter {\n"
        "  chain input { type filter hook input priority 0; policy accept;\n"
        "    ct state established,related accept\n"
        '    iif "lo" accept\n'
        f"    tcp dport 22 ip saddr != {gateway} drop\n"
        "    tcp dport { 8000, 8080, 9100 } accept\n"
        "  }\n"
        "}\n"
    )


def ssh_restrict_rule(gateway: str) -> str:
    """The image rule as `nft -s list ruleset` prints it (what attacks_v3.firewall_opened deletes)."""
    return f"tcp dport 22 ip saddr != {gateway} drop"


def package(name: str, version: str, description: str) -> str:
    """A dpkg status stanza, as dpkg writes it."""
    return (
        f"Package: {name}\nStatus: install ok installed\nPriority: optional\nSection: net\n"
        "Installed-Size: 1024\nMaintainer: Debian Go Packaging Team <team+pkg-go@tracker.debian.org>\n"
        f"Architecture: amd64\nVersion: {version}\nDescription: {description}\n"
    )


def image_v3(host: LabHost, gateway: str) -> None:
    """What every v3 host shares besides noise.image: the image's firewall, a batch service account
    (no keys), and root's (small) shell history.  The account and history files are what some
    attacks of attacks_v3 later modify."""
    sh(host, f"printf '%s' {shlex.quote(firewall_rules(gateway))} | nft -f -")
    sh(
        host,
        f"grep -q '^{SERVICE_USER}:' /etc/passwd || {{ echo '{SERVICE_USER}:x:{SERVICE_UID}:{SERVICE_UID}:"
        f"nightly ETL:/home/{SERVICE_USER}:/bin/bash' >> /etc/passwd; "
        f"echo '{SERVICE_USER}:x:{SERVICE_UID}:' >> /etc/group; "
        f"echo '{SERVICE_USER}:*:20400:0:99999:7:::' >> /etc/shadow; }}\n"
        f"mkdir -p /home/{SERVICE_USER}/.ssh && cp /etc/skel/.bashrc /home/{SERVICE_USER}/"
        " 2>/dev/null || true\n"
        f"chmod 0700 /home/{SERVICE_USER}/.ssh && chown -R {SERVICE_UID}:{SERVICE_UID} /home/{SERVICE_USER}\n"
        "rm -f /root/.bash_history && printf 'df -h\\nsystemctl status app-x\\n' > /root/.bash_history\n"
        "chmod 0600 /root/.bash_history\n",
    )


EXPORTER_PY = """\
import socket, sys, time
srv = socket.create_server(("0.0.0.0", 9100))
time.sleep(10**8)
"""


def node_exporter(host: LabHost, applied: bool) -> None:
    """prometheus-node-exporter as the image ships it, or as a config-management run (an Ansible
    play rolled out host by host, `serial:` batches) left it on the hosts it already reached: the
    package one upstream release ahead in dpkg status (written by the builder), a new ARGS line in
    /etc/default/prometheus-node-exporter (Debian's packaging reads ARGS from there), and the
    exporter restarted with the new collectors.  The exporter is a Python stand-in holding its
    port 9100, named so in its path."""
    args = EXPORTER_ARGS[applied]
    sh(
        host,
        "mkdir -p /srv/agents /etc/default\n"
        + _heredoc("/srv/agents/node-exporter-standin.py", EXPORTER_PY)
        + f"echo 'ARGS=\"{args}\"' > /etc/default/prometheus-node-exporter\n",
    )
    spawn(host, f"{PY} /srv/agents/node-exporter-standin.py {args}", cwd="/srv/agents")


PREFORK_PY = """\
import os, socket, sys, time
# an adaptive prefork pool (uWSGI "cheaper" mode): the master keeps as many workers as the load
# needs, between --cheaper and --workers; the current count is in the master's state file
srv = socket.create_server(("0.0.0.0", 8000), backlog=64)
busy = int(open("/run/app-api/busy").read())
for _ in range(busy):
    if os.fork() == 0:
        while True:
            conn, _ = srv.accept()
            conn.close()
while True:
    time.sleep(3600)
"""


def worker_pool(host: LabHost, workers: int, hardware: str) -> None:
    """The API server's adaptive prefork pool: one master and ``workers`` forked workers, all with
    the same command line and the one listening socket (uWSGI docs, "The uWSGI cheaper subsystem":
    workers are spawned and reaped with the load, so identical hosts run different numbers)."""
    low, high = POOL[hardware]
    sh(
        host,
        "mkdir -p /srv/app/api /run/app-api\n"
        + _heredoc("/srv/app/api/prefork.py", PREFORK_PY)
        + f"echo {workers} > /run/app-api/busy\n",
    )
    spawn(
        host,
        f"{PY} /srv/app/api/prefork.py --http :8000 --cheaper {low} --workers {high}",
        cwd="/srv/app/api",
        log="/var/log/app/api.log",
    )


def app_tmp(host: LabHost, rng: random.Random) -> int:
    """The running app's temporary files: request bodies being uploaded (spooled to /tmp as
    `upload-<random>.part`, 0600, like tempfile.NamedTemporaryFile), a multiprocessing temp dir
    (`pymp-<random>`, Python's multiprocessing.util.get_temp_dir) and a per-instance session
    cache dir in /var/tmp.  Returns the number of upload parts (0-4)."""
    parts = rng.randint(0, 4)
    script = f"mkdir -p /tmp/pymp-{_token(rng, 8)} /var/tmp/app-x-sessions-{rng.getrandbits(32):08x}\n"
    for _ in range(parts):
        path = f"/tmp/upload-{_token(rng, 10)}.part"
        script += f"head -c {rng.randint(1, 512) * 1024} /dev/zero > {path} && chmod 0600 {path}\n"
    sh(host, script)
    return parts


def _token(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789_") for _ in range(n))


def az_addresses(subnet: str, az: str) -> tuple[str, str]:
    """The AZ-local NTP server and cache endpoint: unused addresses at the top of the lab subnet
    (on-link, never answered; nothing is sent to them)."""
    net = ipaddress.ip_network(subnet)
    i = AZS.index(az)
    return str(net.network_address + 241 + i), str(net.network_address + 231 + i)


CHRONY_PY = """\
import socket, sys, time
# chronyd uses a connected UDP socket per NTP source; nothing is sent here
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((sys.argv[sys.argv.index("--server") + 1], 123))
time.sleep(10**8)
"""


def az_endpoints(host: LabHost, az: str, subnet: str) -> None:
    """Per-AZ infrastructure endpoints: hosts use the time source and the cache endpoint of their
    own availability zone (AWS "Regions and Zones": zone-local endpoints keep traffic in the zone;
    chrony.conf `server ... iburst`).  So /etc/hosts pins the zone's cache node, and the time
    daemon holds a connected UDP socket to the zone's NTP server: three values across a fleet.
    The time daemon is a Python stand-in (its path says so)."""
    ntp, cache = az_addresses(subnet, az)
    sh(
        host,
        "mkdir -p /etc/chrony /srv/agents\n"
        f"printf 'server {ntp} iburst\\ndriftfile /var/lib/chrony/chrony.drift\\nmakestep 1.0 3\\n'"
        " > /etc/chrony/chrony.conf\n"
        f"echo '{cache} cache.{az}.app-x.internal cache' >> /etc/hosts\n"
        + _heredoc("/srv/agents/chronyd-standin.py", CHRONY_PY),
    )
    spawn(host, f"{PY} /srv/agents/chronyd-standin.py -f /etc/chrony/chrony.conf --server {ntp}", cwd="/")


FLUENT_PY = """\
import socket, time
srv = socket.create_server(("127.0.0.1", 2020))
db = open("/var/log/flb_app.db", "ab")
time.sleep(10**8)
"""
FLUENT_CONF = """\
[SERVICE]
    HTTP_Server  On
    HTTP_Listen  127.0.0.1
    HTTP_Port    2020
[INPUT]
    Name  tail
    Path  /var/log/app/*.log
    DB    /var/log/flb_app.db
[OUTPUT]
    Name  forward
    Host  logs.internal
"""
FLUENT_VERSION = "3.0.7"


def sidecar_agent(host: LabHost) -> None:
    """A log-shipping agent installed on only part of the fleet (a team's opt-in; fluent-bit docs:
    its built-in HTTP monitoring server listens on 2020, the tail input keeps offsets in a DB
    file): its package (written by the builder into dpkg status), config, process, local listener
    and offsets file.  A Python stand-in with fluent-bit's port and files, named so in its path."""
    sh(
        host,
        "mkdir -p /etc/fluent-bit /srv/agents\n"
        + _heredoc("/etc/fluent-bit/fluent-bit.conf", FLUENT_CONF)
        + _heredoc("/srv/agents/fluent-bit-standin.py", FLUENT_PY),
    )
    spawn(host, f"{PY} /srv/agents/fluent-bit-standin.py -c /etc/fluent-bit/fluent-bit.conf", cwd="/")


def instance_store(host: LabHost) -> None:
    """The second hardware type (storage-optimised instances with a local NVMe instance store):
    the ephemeral disk mounted on /mnt, as cloud-init's default ``mounts`` does for ephemeral0, inside
    the host's private mount namespace, holding the app's local cache.  Stand-in: a tmpfs whose
    source is named /dev/nvme1n1 (the instance store's device name on Nitro instances); the real
    one is an ext4/xfs filesystem.  (Kernel modules cannot differ: the lab hosts share one kernel.)"""
    sh(
        host,
        "mount -t tmpfs -o size=64m,mode=0755 /dev/nvme1n1 /mnt\n"
        "mountpoint -q /mnt && mkdir -p /mnt/app-cache && ln -sfn /mnt/app-cache /srv/app/cache\n",
    )
