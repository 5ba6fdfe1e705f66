"""A cluster's member list is one row on every member (analyze/members.py): each member names its
peers by address and itself through identity masking. Benign twin and attack twin, both methods."""

from __future__ import annotations

import pytest
from runbuilder import clean_fleet, flagged_hosts, host_record

MEMBERS = ("web-004", "web-006", "web-008")
# runbuilder gives web-00N and web-01N the same address when their digits add up alike (web-003 and
# web-012): these names have addresses of their own


def _ip(name: str) -> str:
    return host_record(name, {})["addresses"]["ipv4"][0]


def _listener(port: str, cmdline: str) -> dict[str, str]:
    return {
        "protocol": "6",
        "family": "2",
        "address": "0.0.0.0",
        "port": port,
        "pid": "900",
        "fd": "7",
        "socket": "40001",
        "name": "python3",
        "path": "/usr/bin/python3",
        "cmdline": cmdline,
        "uid": "998",
    }


def _member_cmdline(name: str, members=MEMBERS) -> str:
    peers = ",".join(_ip(m) for m in members)
    return f"/usr/bin/python3 /srv/coord/coordinator.py --advertise {_ip(name)} --initial-cluster {peers}"


def _cluster_fleet(members=MEMBERS):
    hosts = clean_fleet(12)
    for name in members:
        cmdline = _member_cmdline(name, members)
        hosts[name]["listening_ports"] += [_listener("2379", cmdline), _listener("2380", cmdline)]
    return hosts


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_a_clusters_members_are_not_a_campaign(tmp_path, method):
    assert flagged_hosts(tmp_path, _cluster_fleet(), method) == []


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_a_listener_naming_a_host_that_does_not_hold_it_is_evidence(tmp_path, method):
    """One host listens with a command line naming itself and another fleet host, which runs no such
    thing (a relay towards it): no member list."""
    hosts = clean_fleet(12)
    relay = f"/usr/bin/python3 /srv/coord/coordinator.py --advertise {_ip('web-005')} --to {_ip('web-009')}"
    hosts["web-005"]["listening_ports"].append(_listener("4444", relay))
    assert flagged_hosts(tmp_path, hosts, method) == ["web-005"]


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_an_intruders_listener_on_a_cluster_member_is_still_evidence(tmp_path, method):
    hosts = _cluster_fleet()
    hosts["web-006"]["listening_ports"].append(_listener("31337", "/usr/bin/python3 -m http.server 31337"))
    assert flagged_hosts(tmp_path, hosts, method) == ["web-006"]


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_a_list_naming_a_host_outside_the_cluster_is_evidence(tmp_path, method):
    """A third host's list names the two members and a host that is no member (web-009 holds no such
    row): that row is no member list, and its host is flagged; the two true members are not."""
    hosts = _cluster_fleet(MEMBERS[:2])
    odd = _member_cmdline("web-008", ("web-004", "web-006", "web-008", "web-009"))
    hosts["web-008"]["listening_ports"] += [_listener("2379", odd)]
    assert flagged_hosts(tmp_path, hosts, method) == ["web-008"]
