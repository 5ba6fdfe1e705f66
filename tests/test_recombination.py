"""A row no other host holds but made of parts other hosts hold (analyze/recombination.py): the one
host at the crossing of two benign populations (large AND on the new release) is not flagged for
its workers' listeners; an intruder's listener, with words nobody else's processes use, still is."""

from __future__ import annotations

import random

import pytest
from runbuilder import clean_fleet, flagged_hosts

LARGE = ("web-001", "web-002", "web-003", "web-004")
RELEASE2 = ("web-004", "web-005", "web-006", "web-007")  # web-004 alone is large AND on 2.0.0


def _listener(port: int, cmdline: str, name: str = "python3", path: str = "/usr/bin/python3.11"):
    return {
        "protocol": "6",
        "family": "2",
        "address": "0.0.0.0",
        "port": str(port),
        "pid": "77",
        "fd": "3",
        "socket": "4242",
        "name": name,
        "path": path,
        "cmdline": cmdline,
        "uid": "0",
    }


def _cross_product_fleet():
    """12 hosts; workers ``--id 1..2`` (``1..4`` on large hosts), release 2.0.0 adds ``--batch 50``;
    each worker is a process listening on its own ephemeral port (random per host)."""
    rng = random.Random(7)
    hosts = clean_fleet(12)
    for name, rows in hosts.items():
        release = "2.0.0" if name in RELEASE2 else "1.4.2"
        batch = " --batch 50" if name in RELEASE2 else ""
        for ident in range(1, 5 if name in LARGE else 3):
            cmdline = (
                f"/usr/bin/python3 /srv/app/releases/{release}/worker.py --queue orders --id {ident}{batch}"
            )
            rows["listening_ports"].append(_listener(rng.randrange(32768, 60999), cmdline))
            rows.setdefault("processes", []).append(
                {"name": "python3", "path": "/usr/bin/python3.11", "cmdline": cmdline, "uid": "0"}
            )
    return hosts


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_the_host_at_the_crossing_of_two_populations_is_not_flagged(tmp_path, method):
    assert flagged_hosts(tmp_path, _cross_product_fleet(), method, "web-008") == []


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_an_intruders_listener_in_the_same_fleet_is(tmp_path, method):
    hosts = _cross_product_fleet()
    hosts["web-009"]["listening_ports"].append(_listener(4444, "nc -lvp 4444", "nc", "/usr/bin/nc.openbsd"))
    assert flagged_hosts(tmp_path, hosts, method, "web-008") == ["web-009"]


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_known_words_in_a_new_order_on_a_new_port_by_a_new_program_are_not_a_recombination(tmp_path, method):
    """The worker's words run by another program (a bind shell renamed after the worker's command)
    bring a new program path: not every value is on other hosts, so it stays evidence."""
    hosts = _cross_product_fleet()
    cmdline = "/usr/bin/python3 /srv/app/releases/1.4.2/worker.py --queue orders --id 1"
    hosts["web-010"]["listening_ports"].append(_listener(4444, cmdline, "sh", "/usr/bin/dash"))
    assert flagged_hosts(tmp_path, hosts, method, "web-008") == ["web-010"]


def test_intruders_varying_one_tool_do_not_make_its_words_known(tmp_path):
    """Eight intruders on a 200-host fleet each run nc with their own mix of port, flags and shell:
    every word is on other intruders' hosts, but on too few hosts to be a population's part."""
    hosts = clean_fleet(200)
    intruders = [f"web-{i:03d}" for i in range(10, 170, 20)]
    combos = [
        (p, f, sh) for p in ("4444", "5555") for f in ("-lknp", "-lvnp") for sh in ("/bin/bash", "/bin/sh")
    ]
    for name, (port, flags, shell) in zip(intruders, combos, strict=True):
        cmdline = f"nc {flags} {port} -e {shell}"
        hosts[name]["listening_ports"].append(_listener(int(port), cmdline, "nc", "/usr/bin/nc.openbsd"))
    assert flagged_hosts(tmp_path, hosts, "peers", "web-008") == sorted(intruders)
