"""Conformance: file and hash with =, IN, LIKE constraints, and osquery's typed columns in the native
SQL (osquery/tables/utility/file.cpp, osquery/tables/system/hash.cpp, osquery/filesystem/filesystem.cpp,
osquery/sql/dynamic_table_row.cpp at 5.23.1)."""

from __future__ import annotations

import hashlib

from conformance_helpers import query, tree
from diffy_native_engine import osquery_value


def _files(tmp_path):
    return tree(
        tmp_path,
        {
            "/etc/ssh/sshd_config": "PermitRootLogin no\n",
            "/etc/ssh/ssh_config": "Host *\n",
            "/etc/ssh/.hidden": "x",
            "/etc/ssh/sshd_config.d/local.conf": "Port 2222\n",
            "/etc/ssh/sshd_config.d/.dot.conf": "Port 2223\n",
            "/etc/ld.so.preload": "",
        },
        links={"/etc/ssh/dangling": "/nowhere", "/etc/ssh/cfg": "sshd_config"},
    )


def test_file_like_pattern_is_a_glob_with_marked_directories(tmp_path):
    root = _files(tmp_path)
    rows = query(
        root, "SELECT path, directory, filename, type, symlink FROM file WHERE path LIKE '/etc/ssh/%'"
    )
    # file.cpp:210-235 + filesystem.cpp:420-424: '%' -> '*', glob(3) with GLOB_MARK (fileops.cpp:302-315):
    # dot files hidden, directories end in '/' (boost v3 filename() of "dir/" is "."); the results go
    # into a std::set (sorted); type is fs::status() - links followed, a dangling link is "unknown"
    assert rows == [
        {
            "path": "/etc/ssh/cfg",
            "directory": "/etc/ssh",
            "filename": "cfg",
            "type": "regular",
            "symlink": "1",
        },
        {
            "path": "/etc/ssh/dangling",
            "directory": "/etc/ssh",
            "filename": "dangling",
            "type": "unknown",
            "symlink": "1",
        },
        {
            "path": "/etc/ssh/ssh_config",
            "directory": "/etc/ssh",
            "filename": "ssh_config",
            "type": "regular",
            "symlink": "0",
        },
        {
            "path": "/etc/ssh/sshd_config",
            "directory": "/etc/ssh",
            "filename": "sshd_config",
            "type": "regular",
            "symlink": "0",
        },
        {
            "path": "/etc/ssh/sshd_config.d/",
            "directory": "/etc/ssh/sshd_config.d",
            "filename": ".",
            "type": "directory",
            "symlink": "0",
        },
    ]


def test_recursive_like_and_hash(tmp_path):
    root = _files(tmp_path)
    rows = query(root, "SELECT path, sha256 FROM hash WHERE path LIKE '/etc/ssh/%%'")
    # filesystem.cpp:373-387: a trailing '%%' globs '/etc/ssh/*' (no dot files at that level) and walks
    # every directory found (dfsTraverseDirectories: there, dot files are listed); hash.cpp:264-271
    # keeps regular files only (the link to sshd_config is followed, the dangling one is not)
    digest = hashlib.sha256
    assert rows == [
        {"path": "/etc/ssh/cfg", "sha256": digest(b"PermitRootLogin no\n").hexdigest()},
        {"path": "/etc/ssh/ssh_config", "sha256": digest(b"Host *\n").hexdigest()},
        {"path": "/etc/ssh/sshd_config", "sha256": digest(b"PermitRootLogin no\n").hexdigest()},
        {"path": "/etc/ssh/sshd_config.d/.dot.conf", "sha256": digest(b"Port 2223\n").hexdigest()},
        {"path": "/etc/ssh/sshd_config.d/local.conf", "sha256": digest(b"Port 2222\n").hexdigest()},
    ]


def test_file_equals_directory_and_mode(tmp_path):
    root = _files(tmp_path)
    (root / "etc/ld.so.preload").chmod(0o4644)
    rows = query(root, "SELECT path, mode, size, btime FROM file WHERE path = '/etc/ld.so.preload'")
    # file.cpp:405 lsperms(): 4 octal digits including the setuid digit; :415-418 btime "0" on Linux
    assert rows == [{"path": "/etc/ld.so.preload", "mode": "4644", "size": "0", "btime": "0"}]
    rows = query(
        root, "SELECT path, directory FROM file WHERE directory = '/etc/ssh/sshd_config.d' ORDER BY path"
    )
    # file.cpp:458-476: directory_iterator lists dot files too
    assert rows == [
        {"path": "/etc/ssh/sshd_config.d/.dot.conf", "directory": "/etc/ssh/sshd_config.d"},
        {"path": "/etc/ssh/sshd_config.d/local.conf", "directory": "/etc/ssh/sshd_config.d"},
    ]


def test_typed_values_follow_osquerys_conversion():
    # dynamic_table_row.cpp:109-134 + tryto.h:62-126 (std::stol, base 0, pos never checked)
    assert osquery_value("04", "INTEGER") == 4  # octal
    assert osquery_value("08", "INTEGER") == 0  # "0", then '8' is not octal
    assert osquery_value("0x1F", "BIGINT") == 31
    assert osquery_value("12abc", "BIGINT") == 12
    assert osquery_value("!6", "INTEGER") is None  # invalid_argument -> NULL
    assert osquery_value("", "BIGINT") is None
    assert osquery_value("4294967295", "INTEGER") == -1  # sqlite3_result_int: 32 bits
    assert osquery_value("4294967295", "BIGINT") == 4294967295
    assert osquery_value("99999999999999999999", "BIGINT") is None  # out_of_range -> NULL
    assert osquery_value(7, "TEXT") == "7"


def test_numeric_comparisons_and_like_in_native_sql(tmp_path):
    root = tree(
        tmp_path,
        {
            "/etc/passwd": "root:x:0:0::/root:/bin/sh\nsys:x:999:999::/:/bin/sh\n"
            "alice:x:1000:1000::/home/alice:/bin/bash\nbob:x:10000:10000::/home/bob:/bin/bash\n"
        },
    )
    # uid is BIGINT (specs/users.table): 10000 >= 1000 numerically (as TEXT "10000" < "999")
    assert [r["username"] for r in query(root, "SELECT username FROM users WHERE uid >= 1000")] == [
        "alice",
        "bob",
    ]
    # SQLite's LIKE is case-insensitive for ASCII, in osquery too
    assert [r["username"] for r in query(root, "SELECT username FROM users WHERE shell LIKE '%BASH'")] == [
        "alice",
        "bob",
    ]
    assert query(root, "SELECT max(uid) AS m FROM users") == [{"m": "10000"}]
