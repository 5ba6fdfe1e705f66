"""A security row that differs only as the echo of a value the host's software was started with
(analyze/echo.py): the container got another address, and the runtime's published-port rule
followed it. The same rule without the process's echo, or an /etc/hosts entry pointed at an
address the app then connects to, stay evidence."""

from __future__ import annotations

import pytest
from runbuilder import clean_fleet, flagged_hosts, fleet_index

from diffy_analysis.analyze.echo import _replace_word
from diffy_analysis.analyze.entries import EntryModel

MOVED = ("web-003", "web-007", "web-011")


def _proxy(address: str) -> dict[str, str]:
    return {
        "name": "docker-proxy",
        "path": "/usr/bin/docker-proxy",
        "cmdline": f"/usr/bin/docker-proxy -proto tcp -host-ip 127.0.0.1 -host-port 6379 "
        f"-container-ip {address} -container-port 6379",
        "uid": "0",
    }


def _docker_fleet(count: int, moved: tuple[str, ...], *, process_follows: bool = True):
    hosts = clean_fleet(count)
    for name, rows in hosts.items():
        address = "172.17.0.3" if name in moved else "172.17.0.2"
        rule = dict(rows["iptables"][0], chain="DOCKER", target="ACCEPT", dst_ip=address, dst_port="6379")
        rows["iptables"].append(rule)
        rows["processes"] = [_proxy(address if process_follows else "172.17.0.2")]
    return hosts


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_a_rule_that_follows_the_containers_address_is_not_a_campaign(tmp_path, method):
    assert flagged_hosts(tmp_path, _docker_fleet(12, MOVED), method) == []


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_one_host_of_four_whose_container_got_another_address(tmp_path, method):
    assert flagged_hosts(tmp_path, _docker_fleet(4, ("web-003",)), method) == []


def _echo_of_the_moved_rule(hosts):
    index = fleet_index(hosts)
    model = EntryModel(index)
    fid = next(
        f
        for f in range(index.n_features)
        if index.query_of(f) == "iptables" and index.row(f).get("dst_ip") == "172.17.0.3" and model.df[f]
    )
    return model.echo.echo_of(fid, "added")


def test_only_a_process_started_with_the_address_makes_the_rule_an_echo():
    echoed = _echo_of_the_moved_rule(_docker_fleet(12, MOVED))
    assert echoed == "the host's process was started with 172.17.0.3 where others have 172.17.0.2"
    assert _echo_of_the_moved_rule(_docker_fleet(12, MOVED, process_follows=False)) is None


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_an_etc_hosts_entry_pointed_elsewhere_is_not_excused_by_the_app_connecting_there(tmp_path, method):
    hosts = clean_fleet(12)
    for name, rows in hosts.items():
        address = "203.0.113.66" if name == "web-005" else "10.0.0.5"
        rows["etc_hosts"] = [{"address": address, "hostnames": "db.internal"}]
        rows["process_open_sockets"] = [
            {
                "family": "2",
                "protocol": "6",
                "remote_address": address,
                "remote_port": "5432",
                "state": "ESTABLISHED",
                "name": "python3",
                "process_path": "/usr/bin/python3.11",
                "uid": "0",
            }
        ]
    assert flagged_hosts(tmp_path, hosts, method) == ["web-005"]


def test_replace_word_keeps_other_numbers():
    command = "proxy -container-ip 172.17.0.3 -other 172.17.0.31"
    assert (
        _replace_word(command, "172.17.0.3", "172.17.0.2")
        == "proxy -container-ip 172.17.0.2 -other 172.17.0.31"
    )
