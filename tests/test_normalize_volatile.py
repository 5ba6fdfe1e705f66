"""Weak evidence when the fleet outgrows the space of values (normalize/volatile.py).

At 100,000 hosts a service that listens on a random port from the 28,000-port ephemeral range
repeats each port on a few hosts: fewer distinct values than hosts, yet every value is rare.
Those ports must stay weak evidence, while a replaced binary (one odd hash beside a hash the
whole fleet shares) must stay strong, whatever the fleet size.
"""

from __future__ import annotations

import numpy as np
import pytest

from diffy_analysis.normalize.index import ColumnSet, FleetIndex
from diffy_analysis.normalize.rules import default_config
from diffy_analysis.normalize.volatile import TemplateStats

N_HOSTS = 4_000  # rare values are then those held by at most 4 hosts


def template_stats(rows: list[tuple[int, tuple[str, ...], int]]) -> TemplateStats:
    """TemplateStats over rows (column set, values, hosts holding the row) of two column sets."""
    colsets = [
        ColumnSet("listening_ports", ("name", "protocol", "port"), (0, 1, 2)),
        ColumnSet("system_binaries", ("path", "sha256"), (0,)),
    ]
    index = FleetIndex(config=default_config(), colsets=colsets)
    for colset, values, _ in rows:
        index.feature_colset.append(colset)
        index.feature_values.append(values)
    df = np.asarray([hosts for _, _, hosts in rows], dtype=np.int64)
    return TemplateStats(index, df, N_HOSTS)


@pytest.fixture
def stats() -> TemplateStats:
    # rpc.statd on a random port: 1,333 ports, each on 3 hosts (0.33 distinct values per host)
    rows = [(0, ("rpc.statd", "tcp", str(port)), 3) for port in range(32_768, 32_768 + 1_333)]
    rows += [
        (0, ("sshd", "tcp", "22"), N_HOSTS),
        # /usr/bin/ps: one hash on every host but one, which has a replaced binary
        (1, ("/usr/bin/ps", "a" * 64), N_HOSTS - 1),
        (1, ("/usr/bin/ps", "b" * 64), 1),
        # a bind shell: a process no other host runs, on a port no other host uses
        (0, ("nc", "tcp", "4444"), 1),
    ]
    return template_stats(rows)


def fid_of(stats: TemplateStats, values: tuple[str, ...]) -> int:
    return stats.index.feature_values.index(values)


def test_random_port_repeating_on_a_few_hosts_is_weak(stats):
    assert stats.weak_column(fid_of(stats, ("rpc.statd", "tcp", "33000"))) == "port"


def test_replaced_binary_stays_strong(stats):
    assert stats.weak_column(fid_of(stats, ("/usr/bin/ps", "b" * 64))) is None


def test_unique_listener_stays_strong(stats):
    assert stats.weak_column(fid_of(stats, ("nc", "tcp", "4444"))) is None
