"""The native tables the DFIR pack added (plugins/module_utils/diffy_native_dfir.py):
fixture trees for file-backed tables, this machine's real /proc for the live ones."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from collection_helpers import MODULE_UTILS

sys.path.insert(0, str(MODULE_UTILS))
import diffy_native_dfir as dfir
import diffy_native_engine as engine_mod


class RootCtx:
    """A Context reading the host's files under a fixture root."""

    def __init__(self, root):
        self.root = str(root)
        self.deadline = None

    def host(self, path):
        return str(Path(self.root) / path.lstrip("/"))

    def check_deadline(self):
        pass


def _tree(root, files):
    for path, text in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def test_shadow_derives_status_like_osquery_and_never_returns_the_hash(tmp_path):
    secret = "$6$saltsalt$" + "h" * 86
    _tree(
        tmp_path,
        {
            "/etc/shadow": (
                f"root:{secret}:20000:0:99999:7:::\n"
                "daemon:*:20000:0:99999:7:::\n"
                "eve::20001::::::\n"
                "svc:!!:20002:0:99999:7:::\n"
                "old:!$y$j9T$abc$def:20003:0:99999:7:::\n"
            )
        },
    )
    rows = {r["username"]: r for r in dfir.table_shadow(RootCtx(tmp_path))}
    assert {u: r["password_status"] for u, r in rows.items()} == {
        "root": "active",
        "daemon": "locked",
        "eve": "empty",
        "svc": "not_set",
        "old": "locked",
    }
    assert rows["root"]["hash_alg"] == "6" and rows["old"]["hash_alg"] == ""
    assert rows["eve"]["min"] == "-1" and rows["root"]["last_change"] == "20000"
    assert not any("saltsalt" in v or "hhhh" in v for r in rows.values() for v in r.values())


def test_user_groups_lists_primary_then_supplementary_groups(tmp_path):
    _tree(
        tmp_path,
        {
            "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\neve:x:1001:1001::/home/eve:/bin/sh\n",
            "/etc/group": "root:x:0:\nsudo:x:27:eve\neve:x:1001:\ndocker:x:999:root,eve\n",
        },
    )
    rows = [(r["uid"], r["gid"]) for r in dfir.table_user_groups(RootCtx(tmp_path))]
    assert rows == [("0", "0"), ("0", "999"), ("1001", "1001"), ("1001", "27"), ("1001", "999")]


def test_startup_items_reads_xdg_entries_and_init_scripts_of_every_home(tmp_path):
    _tree(
        tmp_path,
        {
            "/etc/passwd": "eve:x:1001:1001::/home/eve:/bin/sh\n",
            "/home/eve/.config/autostart/evil.desktop": "[Desktop Entry]\nName=updater\nExec=/tmp/.x/run\n",
            "/etc/init.d/backdoor": "#!/bin/sh\n",
        },
    )
    rows = dfir.table_startup_items(RootCtx(tmp_path))
    expected = {"name": "updater", "path": "/tmp/.x/run", "args": "", "type": "Startup Item",
                "status": "enabled", "source": "/home/eve/.config/autostart/", "username": "eve"}  # fmt: skip
    assert expected in rows
    assert any(r["path"] == "/etc/init.d/backdoor" and r["username"] == "" for r in rows)


def test_system_controls_reads_config_files_like_sysctl(tmp_path):
    _tree(
        tmp_path,
        {
            "/proc/sys/kernel/randomize_va_space": "0\n",
            "/proc/sys/net/ipv4/ip_forward": "1\n",
            "/etc/sysctl.conf": "# comment\nkernel.randomize_va_space = 2\n",
            "/etc/sysctl.d/99-x.conf": "net/ipv4/ip_forward=0\n",
        },
    )
    rows = {r["name"]: r for r in dfir.table_system_controls(RootCtx(tmp_path))}
    assert rows["kernel.randomize_va_space"]["current_value"] == "0"
    assert rows["kernel.randomize_va_space"]["config_value"] == "2"
    assert rows["net.ipv4.ip_forward"]["config_value"] == "0"
    assert rows["net.ipv4.ip_forward"]["subsystem"] == "net"


@pytest.fixture
def engine():
    eng = engine_mod.Engine()
    yield eng
    eng.close()


def test_process_open_sockets_sees_a_real_connection_and_its_owner(engine):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            local_port = client.getsockname()[1]
            columns, rows = engine.query(
                "SELECT pid, family, protocol, local_port, remote_address, remote_port, state "
                f"FROM process_open_sockets WHERE remote_port = {port} AND local_port = {local_port}"
            )
    assert [dict(zip(columns, r, strict=True)) for r in rows] == [
        {"pid": str(os.getpid()), "family": "2", "protocol": "6", "local_port": str(local_port),
         "remote_address": "127.0.0.1", "remote_port": str(port), "state": "ESTABLISHED"}
    ]  # fmt: skip


def test_process_envs_finds_a_history_variable_of_a_real_process(engine):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HISTFILE": "/dev/null", "SECRET_TOKEN": "x"}
    child = subprocess.Popen(["sleep", "30"], env=env)
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not Path(f"/proc/{child.pid}/environ").exists():
            time.sleep(0.05)
        _columns, rows = engine.query(
            f"SELECT key, value FROM process_envs WHERE pid = {child.pid} "
            "AND (key LIKE 'HIST%' OR key LIKE 'LD\\_%' ESCAPE '\\')"
        )
    finally:
        child.kill()
        child.wait()
    assert rows == [["HISTFILE", "/dev/null"]]


def test_system_controls_reads_only_the_names_a_query_constrains_and_never_caches_them(engine):
    # system_controls.cpp:82-87: a `name` = / IN constraint reads only those names
    sql = (
        "SELECT name, current_value FROM system_controls"
        " WHERE name IN ('kernel.ostype', 'net.ipv4.ip_forward');"
    )
    narrowed = engine.query(sql)[1]
    assert sorted(r[0] for r in narrowed) == ["kernel.ostype", "net.ipv4.ip_forward"]
    assert "system_controls" not in engine.loaded  # the partial table served that query only
    everything = engine.query("SELECT COUNT(*) FROM system_controls;")[1][0][0]
    assert int(everything) > 100 and "system_controls" in engine.loaded
    assert sorted(engine.query(sql)[1]) == sorted(narrowed)
