"""Static system state of the synthetic app server: accounts, files, units, rules, modules.

Everything here is what a clean instance built from the app's image has, identical on every host.
Per-host noise (addresses, pids, counters) and sub-population differences are added by
``hostgen``; attacker changes by ``artifacts``.  The tables themselves live in
``catalog_system.json`` (one row per line, in the column order noted below).
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources

_DATA = json.loads(resources.files("diffy_fleetgen").joinpath("catalog_system.json").read_text("utf-8"))


def _table(name: str) -> list[tuple[str, ...]]:
    return [tuple(row) for row in _DATA[name]]


USERS = _table("USERS")
"""uid, gid, username, description, directory, shell (Debian 12 base accounts + the app's)."""
GROUPS = _table("GROUPS")
"""gid, groupname."""
AUTHORIZED_KEYS = _table("AUTHORIZED_KEYS")
"""username, uid, algorithm, key, options, comment, key_file: the EC2 key pair cloud-init installs
for the default user, the same on every instance of the ASG."""
FLEET_SSH_KEY = AUTHORIZED_KEYS[0][3]
SUID_BINARIES = _table("SUID_BINARIES")
"""path, username, groupname, permissions."""
SYSTEM_BINARIES = _table("SYSTEM_BINARIES")
"""path, package, version, size, mode of the binaries the pack hashes.  On a merged-/usr system
/bin/x and /usr/bin/x are the same file, so they share a hash; net-tools and lsof are not installed."""
MOUNTS = _table("MOUNTS")
"""device, path, type, flags."""
CRONTAB = _table("CRONTAB")
"""event, minute, hour, day_of_month, month, day_of_week, command, path."""
SUDOERS = _table("SUDOERS")
"""source, header, rule_details."""
IPTABLES = _table("IPTABLES")
"""Rules in ``IPTABLES_COLUMNS`` order; the bastion and VPC subnets are the app's."""
IPTABLES_COLUMNS = (
    "filter_name", "chain", "policy", "target", "protocol", "src_ip", "src_mask", "dst_ip", "dst_mask",
    "src_port", "dst_port", "iniface", "outiface", "match",
)  # fmt: skip
KERNEL_MODULES = _table("KERNEL_MODULES")
"""name, size, used_by of the cloud kernel's loaded modules."""
SYSTEMD_UNITS = _table("SYSTEMD_UNITS")
"""id, description, load_state, active_state, sub_state, fragment_path, source_path."""
ETC_HOSTS = _table("ETC_HOSTS")
"""address, hostnames: the lines identical on every host (the host's own line is added per host)."""


def fake_sha256(*parts: str) -> str:
    """A stable stand-in for a file hash: the same package build gives the same digest everywhere."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


OS_VERSION = {
    "name": "Debian GNU/Linux",
    "version": "12 (bookworm)",
    "major": "12",
    "minor": "8",
    "patch": "0",
    "codename": "bookworm",
    "platform": "debian",
    "arch": "x86_64",
}
KERNEL_RELEASE = "6.1.0-27-cloud-amd64"
KERNEL_INFO = {
    "version": KERNEL_RELEASE,
    "arguments": " ".join(
        [
            "BOOT_IMAGE=/boot/vmlinuz-6.1.0-27-cloud-amd64",
            "root=PARTUUID=5c1a7e06-7c5e-4b9a-9a4e-2b1f3f1d8e11",
            "ro console=tty0 console=ttyS0,115200 earlyprintk=ttyS0,115200 consoleblank=0",
        ]
    ),
    "path": "/boot/vmlinuz-6.1.0-27-cloud-amd64",
}
