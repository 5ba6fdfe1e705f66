"""The lab fleet: namespaced hosts that really are separate machines, isolated from the outside
world, described by a moto EC2 API that the real aws_ec2 inventory plugin reads.

Tests marked ``lab`` need root; in CI they must run (see tools/diffy_lab/testing.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from diffy_analysis.cli.main import run as run_cli
from diffy_analysis.errors import LabError
from diffy_lab import Lab, LabConfig, network
from diffy_lab.spec import parse_apps, plan_hosts
from diffy_lab.system import pid_alive
from diffy_lab.testing import require_lab, running_lab, unique_name


# ---------------------------------------------------------------- without root
def test_parse_apps_and_plan_hosts():
    apps = parse_apps("app_x=2, app_y=1")
    assert apps == [("app_x", 2), ("app_y", 1)]
    hosts = plan_hosts("t1", apps, "10.213.0.0/24")
    assert [(h.name, h.app, h.address, h.netns) for h in hosts] == [
        ("app-x-01", "app_x", "10.213.0.11", "t1-h0"),
        ("app-x-02", "app_x", "10.213.0.12", "t1-h1"),
        ("app-y-01", "app_y", "10.213.0.13", "t1-h2"),
    ]
    for bad in ("app_x", "app_x=0", "=3", ""):
        with pytest.raises(ValueError):
            parse_apps(bad)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Bad-Name"}, "bad lab name"),
        ({"subnet": "8.8.8.0/24"}, "private IPv4"),
        ({"subnet": "not-a-net"}, "bad lab subnet"),
    ],
)
def test_bad_lab_config_is_a_clear_error(kwargs, message):
    with pytest.raises(LabError, match=message):
        LabConfig(**kwargs)


def test_not_root_is_said_clearly(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(LabError, match="needs root"):
        Lab(LabConfig(name="nr", lab_dir=tmp_path / "lab")).up()
    from diffy_analysis.cli.lab import lab as lab_cli

    code = run_cli(lab_cli, ["up", "--name", "nr", "--lab-dir", str(tmp_path / "lab")], prog_name="diffy lab")
    err = capsys.readouterr().err
    assert code == 2
    assert "needs root" in err and "inventory/localhost.yml" in err
    assert "Traceback" not in err
    assert not (tmp_path / "lab").exists()


def test_status_of_missing_lab_is_a_clear_error(tmp_path, capsys):
    from diffy_analysis.cli.lab import lab as lab_cli

    code = run_cli(lab_cli, ["status", "--lab-dir", str(tmp_path)], prog_name="diffy lab")
    assert code == 2
    assert "no lab in" in capsys.readouterr().err


# ---------------------------------------------------------------- with a real lab
@pytest.fixture(scope="module")
def lab():
    config = LabConfig(name=unique_name("tl"), apps=[("app_x", 2), ("app_y", 1)], subnet="10.213.7.0/24")
    with running_lab(config) as the_lab:
        yield the_lab


def ssh(lab: Lab, address: str, command: str, *, timeout: float = 30) -> subprocess.CompletedProcess:
    """SSH from the controller side (inside the lab namespace) with the lab's client key."""
    argv = [
        "ssh", "-i", str(lab.client_key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR",
        f"root@{address}", command,
    ]  # fmt: skip
    return lab.run_controller(argv, timeout=timeout, capture_output=True, text=True)


@pytest.mark.lab
def test_hosts_are_separate_machines(lab):
    seen = {}
    for host in lab.hosts:
        out = ssh(lab, host.address, "hostname; cat /proc/1/comm; cat /etc/hostname")
        assert out.returncode == 0, out.stderr
        hostname, init, etc_hostname, *_ = out.stdout.split("\n")
        seen[host.name] = hostname
        assert hostname == host.name == etc_hostname  # own UTS namespace and own /etc
        assert init == "sshd"  # own PID namespace: sshd is PID 1
    assert len(set(seen.values())) == len(lab.hosts)
    # "the app" runs on every host, on its own network stack
    out = ssh(lab, lab.hosts[0].address, "ss -ltnH '( sport = :8080 )' | wc -l")
    assert out.stdout.strip() == "1"


@pytest.mark.lab
def test_aws_ec2_inventory_groups_hosts_by_app(lab):
    out = lab.run_controller(
        ["ansible-inventory", "-i", str(lab.inventory), "--list", "-y"],
        timeout=60,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    inv = yaml.safe_load(out.stdout)["all"]["children"]
    app_x = inv["app_x"]["hosts"]
    assert set(app_x) == {h.instance_id for h in lab.hosts_of("app_x")}
    assert set(inv["app_y"]["hosts"]) == {h.instance_id for h in lab.hosts_of("app_y")}
    # `-y` prints a host's variables under one of its groups: gather them from every group.
    merged: dict = {}
    for group in inv.values():
        for name, hostvars in ((group or {}).get("hosts") or {}).items():
            merged.setdefault(name, {}).update(hostvars or {})
    for host in lab.hosts_of("app_x"):
        hostvars = merged[host.instance_id]
        assert hostvars["ansible_host"] == host.address  # PrivateIpAddress carries the lab address
        assert hostvars["ansible_python_interpreter"] == "/usr/bin/python3"
        assert hostvars["tags"]["app"] == "app_x"
        assert hostvars["tags"]["aws:autoscaling:groupName"] == "app_x-asg"
    assert set(inv["asg_app_x_asg"]["hosts"]) == set(app_x)


@pytest.mark.lab
def test_lab_has_no_route_off_this_machine(lab):
    for netns in [lab.lab_ns, *(h.netns for h in lab.hosts)]:
        assert not network.has_route_off_lab(netns, lab.config.subnet), network.routes(netns)
    # With no route, connect() fails at once inside the kernel: no packet is ever sent.
    probe = (
        "import socket\ns = socket.socket()\ntry:\n    s.connect(('192.0.2.1', 80))\n"
        "except OSError as e:\n    print(e.errno)"
    )
    for netns in (lab.lab_ns, lab.hosts[0].netns):
        out = subprocess.run(
            ["ip", "netns", "exec", netns, "/usr/bin/python3", "-c", probe],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        assert out.stdout.strip() == "101", out  # ENETUNREACH
    assert lab.status()["route_off_lab"] is False


@pytest.mark.lab
def test_injected_artifacts_are_real_and_only_on_their_host(lab):
    target, clean = lab.hosts_of("app_x")
    lab.inject(target.name, ["listener", "cron", "user"])
    check = (
        "ss -ltnH '( sport = :4444 )' | wc -l; grep -c 203.0.113.66 /etc/crontab || true; "
        "getent passwd svc-backup | cut -d: -f1; "
        "cat /home/svc-backup/.ssh/authorized_keys 2>/dev/null | wc -l"
    )
    out = ssh(lab, target.address, check)
    assert out.stdout.split() == ["1", "1", "svc-backup", "1"], out
    out = ssh(lab, clean.address, check)
    assert out.stdout.split() == ["0", "0", "0"], out
    assert lab.status()["hosts"][0]["artifacts"] == ["listener", "cron", "user"]


@pytest.mark.lab
def test_stop_and_start_a_host(lab):
    host = lab.hosts_of("app_y")[0]
    lab.stop_host(host.name)
    assert not pid_alive(host.pid)
    out = ssh(lab, host.address, "true", timeout=20)
    assert out.returncode == 255 and "refused" in out.stderr
    assert [h["running"] for h in lab.status()["hosts"] if h["name"] == host.name] == [False]
    lab.start_host(host.name)
    assert ssh(lab, host.address, "hostname").stdout.strip() == host.name


@pytest.mark.lab
def test_up_after_a_crash_then_down_removes_everything(tmp_path):
    require_lab()
    name = unique_name("tc")
    config = LabConfig(name=name, apps=[("app_x", 1)], lab_dir=tmp_path / "lab", subnet="10.213.8.0/24")
    first = Lab(config).up()
    old_pids = [first.hosts[0].pid, first.moto_pid]
    (tmp_path / "lab" / "state.json").unlink()  # a crash: the state file is lost
    second = Lab(LabConfig(name=name, apps=[("app_x", 1)], lab_dir=tmp_path / "lab", subnet="10.213.8.0/24"))
    try:
        second.up()
        assert not any(pid_alive(p) for p in old_pids)
        ours = [ns for ns in network.list_netns() if ns.startswith(f"{name}-")]
        assert sorted(ours) == sorted([f"{name}-lab", f"{name}-h0"])
        status = json.loads((tmp_path / "lab" / "state.json").read_text())
        live_pids = [status["hosts"][0]["pid"], status["moto_pid"]]
        assert all(pid_alive(p) for p in live_pids)
    finally:
        removed = second.down()
    assert removed
    assert not [ns for ns in network.list_netns() if ns.startswith(f"{name}-")]
    assert not any(pid_alive(p) for p in live_pids)
    assert not Path(tmp_path / "lab").exists()
    assert not network.leftover_links(network.link_tag(name))


@pytest.mark.lab
def test_cli_status_and_exec(lab, capsys):
    from diffy_analysis.cli.lab import lab as lab_cli

    common = ["--name", lab.config.name, "--lab-dir", str(lab.lab_dir)]
    assert run_cli(lab_cli, ["status", *common, "--json"], prog_name="diffy lab") == 0
    doc = json.loads(capsys.readouterr().out)
    assert [h["instance_id"] for h in doc["hosts"]] == [h.instance_id for h in lab.hosts]
    assert doc["moto"]["running"] is True
    # `exec` runs a controller command inside the lab namespace with the lab's environment
    diffy = str(Path(sys.executable).with_name("diffy"))
    proc = subprocess.run(
        [diffy, "lab", "exec", *common, "--", "sh", "-c", 'echo "$DIFFY_LAB_INVENTORY"; ip -o -4 addr show'],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == str(lab.inventory)
    assert "labbr0" in proc.stdout and "10.213.7.1/24" in proc.stdout


def test_unknown_host_to_compromise_is_refused_before_anything_is_built(tmp_path):
    require_lab()
    config = LabConfig(name=unique_name("tu"), apps=[("app_x", 2)], lab_dir=tmp_path / "lab")
    config.compromise = {"app-x-09": ["cron"]}
    with pytest.raises(LabError, match="cannot compromise app-x-09: the lab's hosts are app-x-01, app-x-02"):
        Lab(config).up()
    assert not (tmp_path / "lab").exists()
    assert not [ns for ns in network.list_netns() if ns.startswith(f"{config.name}-")]
