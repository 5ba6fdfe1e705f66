"""The lab network: a lab namespace holding a bridge with no uplink, one veth pair per host.

The lab namespace has no default route and no link to the root namespace, so neither the hosts nor
the controller commands run inside it (`ip netns exec <lab>`) can send a packet off this machine.
"""

from __future__ import annotations

import hashlib
import ipaddress

from diffy_lab.spec import LabHost
from diffy_lab.system import run

BRIDGE = "labbr0"


def link_tag(name: str) -> str:
    """A short tag for the lab's temporary interface names in the root namespace (<= 15 chars)."""
    return "dl" + hashlib.sha1(name.encode()).hexdigest()[:4]


def list_netns() -> list[str]:
    out = run(["ip", "netns", "list"], timeout=10)
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def create_lab_ns(lab_ns: str, gateway_cidr: str) -> None:
    run(["ip", "netns", "add", lab_ns])
    inside = ["ip", "-n", lab_ns]
    run([*inside, "link", "set", "lo", "up"])
    run([*inside, "link", "add", BRIDGE, "type", "bridge"])
    run([*inside, "addr", "add", gateway_cidr, "dev", BRIDGE])
    run([*inside, "link", "set", BRIDGE, "up"])


def create_host_ns(lab_ns: str, host: LabHost, prefixlen: int, tag: str) -> None:
    """A host namespace joined to the lab bridge by a veth pair; its only route is the lab subnet."""
    host_ns, index, address = host.netns, host.index, host.address
    run(["ip", "netns", "add", host_ns])
    outer, inner = f"{tag}{index}a", f"{tag}{index}b"
    # Created in the root namespace for an instant, without addresses, then moved: nothing routes there.
    run(["ip", "link", "add", outer, "type", "veth", "peer", "name", inner])
    run(["ip", "link", "set", outer, "netns", lab_ns])
    run(["ip", "link", "set", inner, "netns", host_ns])
    run(["ip", "-n", lab_ns, "link", "set", outer, "name", f"veth{index}"])
    run(["ip", "-n", lab_ns, "link", "set", f"veth{index}", "master", BRIDGE, "up"])
    run(["ip", "-n", host_ns, "link", "set", inner, "name", "eth0"])
    run(["ip", "-n", host_ns, "addr", "add", f"{address}/{prefixlen}", "dev", "eth0"])
    run(["ip", "-n", host_ns, "link", "set", "eth0", "up"])
    run(["ip", "-n", host_ns, "link", "set", "lo", "up"])


def routes(netns: str) -> list[str]:
    """All IPv4 and IPv6 routes of a namespace (tests and `status` check there is no default route)."""
    out = run(["ip", "-n", netns, "route", "show", "table", "all"], timeout=10)
    return [line for line in out.splitlines() if line.strip()]


def has_route_off_lab(netns: str, subnet: str) -> bool:
    """True if ``netns`` could route a packet to an address outside the lab subnet and loopback."""
    net = ipaddress.ip_network(subnet)
    for line in routes(netns):
        dest = line.split()[0]
        if dest in ("local", "broadcast", "multicast", "unreachable", "blackhole", "prohibit"):
            continue
        if dest == "default":
            return True
        try:
            route_net = ipaddress.ip_network(dest, strict=False)
        except ValueError:
            continue
        if route_net.version == 6:
            if route_net.is_link_local or route_net.is_multicast:
                continue
            return True
        if not (route_net.subnet_of(net) or route_net.is_loopback):
            return True
    return False


def delete_netns(name: str) -> None:
    run(["ip", "netns", "del", name], check=False, timeout=10)


def leftover_links(tag: str) -> list[str]:
    out = run(["ip", "-o", "link", "show"], timeout=10)
    names = []
    for line in out.splitlines():
        parts = line.split(":", 2)
        if len(parts) > 1:
            ifname = parts[1].strip().split("@")[0]
            if ifname.startswith(tag):
                names.append(ifname)
    return names


def netns_pids(name: str) -> list[int]:
    out = run(["ip", "netns", "pids", name], check=False, timeout=10)
    return [int(p) for p in out.split() if p.isdigit()]
