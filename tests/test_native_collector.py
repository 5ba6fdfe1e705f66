"""The native collector (plugins/module_utils): osquery tables from /proc and /etc, queried
with SQLite.  These tests run it in-process against this machine's real state."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
from pathlib import Path

import pytest
from collection_helpers import MODULE_UTILS, REPO

sys.path.insert(0, str(MODULE_UTILS))
import diffy_native_engine as engine_mod
import diffy_native_tables as tables_mod

PACK = REPO / "roles" / "diffy_collect" / "files" / "packs" / "linux-dfir.json"


@pytest.fixture
def engine():
    eng = engine_mod.Engine()
    yield eng
    eng.close()


def test_every_default_pack_query_runs_natively(engine):
    pack = json.loads(PACK.read_text())
    for name, query in pack["queries"].items():
        columns, rows = engine.query(query["query"], timeout=60)
        assert columns, name
        assert all(isinstance(v, str) for row in rows for v in row), name


def test_processes_has_this_process_with_osquery_columns(engine):
    columns, rows = engine.query(
        "SELECT pid, parent, name, path, cmdline, uid, on_disk, state FROM processes "
        f"WHERE pid = {os.getpid()}"
    )
    assert len(rows) == 1
    row = dict(zip(columns, rows[0], strict=True))
    assert row["parent"] == str(os.getppid())
    assert row["uid"] == str(os.getuid())
    assert row["on_disk"] == "1"
    assert row["path"] == os.path.realpath(sys.executable)
    assert "pytest" in row["cmdline"] or "python" in row["cmdline"]


def test_listening_ports_sees_a_real_socket_and_its_owner(engine):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        # osquery reads every network namespace once, from the first pid (string order) seen in it;
        # a pid whose ns link is unreadable counts as namespace 0 (process_open_sockets.cpp:81-99),
        # which on some sandboxes duplicates the root namespace's sockets: look at ours only.
        netns = str(Path("/proc/self/ns/net").readlink())[5:-1]
        columns, rows = engine.query(
            "SELECT lp.port, lp.address, lp.protocol, lp.family, lp.pid, p.name FROM listening_ports AS lp "
            f"LEFT JOIN processes AS p USING (pid) WHERE lp.port = {port} AND lp.net_namespace = '{netns}'"
        )
    assert [dict(zip(columns, r, strict=True)) for r in rows] == [
        {
            "port": str(port),
            "address": "127.0.0.1",
            "protocol": "6",
            "family": "2",
            "pid": str(os.getpid()),
            "name": rows[0][5],
        }
    ]
    assert rows[0][5]  # the owning process was joined


def test_file_and_hash_only_read_the_named_paths(engine, tmp_path, monkeypatch):
    target = tmp_path / "sample.bin"
    target.write_bytes(b"diffy" * 1000)
    other = tmp_path / "other.bin"
    other.write_bytes(b"x")
    walked = []
    monkeypatch.setattr(os, "walk", lambda *a, **k: walked.append(a) or iter(()))
    _, rows = engine.query(
        "SELECT f.path, f.size, f.mode, h.sha256 FROM file AS f JOIN hash AS h USING (path) "
        f"WHERE f.path IN ('{target}', '/nonexistent/diffy')"
    )
    assert rows == [
        [
            str(target),
            "5000",
            "%04o" % (target.stat().st_mode & 0o7777),
            hashlib.sha256(target.read_bytes()).hexdigest(),
        ]
    ]
    assert walked == []
    _, rows = engine.query(f"SELECT path FROM file WHERE directory = '{tmp_path}' ORDER BY path")
    assert rows == [[str(other)], [str(target)]]


def test_file_without_a_path_constraint_is_an_error_not_a_walk(engine):
    with pytest.raises(engine_mod.QueryFailed) as info:
        engine.query("SELECT path FROM file WHERE size > 0")
    assert info.value.status == "error"
    assert "constraint" in info.value.message


def test_unknown_table_is_unsupported_and_syntax_error_is_error(engine):
    with pytest.raises(engine_mod.QueryFailed) as info:
        engine.query("SELECT * FROM yara WHERE path = '/bin/ls'")
    assert info.value.status == "unsupported"
    with pytest.raises(engine_mod.QueryFailed) as info:
        engine.query("SELECT name FROM os_version WHERE")
    assert info.value.status == "error"


def test_runaway_query_times_out(engine):
    with pytest.raises(engine_mod.QueryFailed) as info:
        engine.query(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
            timeout=1,
        )
    assert info.value.status == "timeout"


def test_tables_are_built_lazily_and_once(engine, monkeypatch):
    calls = []
    original = tables_mod.BUILDERS["users"]
    monkeypatch.setitem(engine_mod.BUILDERS, "users", lambda ctx: calls.append(1) or original(ctx))
    engine.query("SELECT count(*) FROM users")
    engine.query("SELECT username FROM users WHERE uid = '0'")
    assert calls == [1]
    assert "processes" not in engine.loaded


def test_users_match_the_password_database(engine):
    import pwd

    _, rows = engine.query("SELECT uid, username, directory, shell FROM users")
    got = {r[1]: r for r in rows}
    for entry in pwd.getpwall():
        if entry.pw_name in got:
            assert got[entry.pw_name] == [str(entry.pw_uid), entry.pw_name, entry.pw_dir, entry.pw_shell]
    assert "root" in got


def test_constraint_literals_parse_eq_and_in_with_aliases_and_quotes():
    sql = (
        "SELECT * FROM file AS f JOIN hash h USING (path) WHERE f.path = '/etc/ld.so.preload' "
        "OR h.path IN ('/bin/ls', 'it''s') OR directory = '/tmp'"
    )
    assert engine_mod.constraint_literals(sql, "path") == ["/etc/ld.so.preload", "/bin/ls", "it's"]
    assert engine_mod.constraint_literals(sql, "directory") == ["/tmp"]
