"""Conformance: crontab, sudoers, suid_bin (osquery/tables/system/posix/*.cpp at 5.23.1)."""

from __future__ import annotations

import os

from conformance_helpers import query, tree

CRONTAB = (
    "SHELL=/bin/sh\n"
    "# m h dom mon dow user command\n"
    "17 *\t* * *\troot    cd / &&  run-parts --report /etc/cron.hourly\n"
    "@reboot\troot /usr/local/bin/boot.sh   --fast\n"
    "   \n"
    "  #@daily root commented out\n"
    "MAILTO = a b c d e\n"
    "@yearly\n"
)


def test_crontab_rows_as_osquery_prints_them(tmp_path):
    root = tree(
        tmp_path,
        {
            "/etc/crontab": CRONTAB,
            "/etc/cron.d/b-job": "*/5 * * * * root /bin/true\n",
            "/etc/cron.d/a-job": "0 0 * * * root /bin/a\n",
            "/etc/cron.d/.placeholder": "* * * * * root /bin/hidden\n",
            "/etc/cron.d/subdir/inner": "* * * * * root /bin/inner\n",
            "/var/spool/cron/crontabs/alice": "1 2 3 4 5 /home/alice/x.sh\n",
        },
    )
    blank = dict.fromkeys(("event", "minute", "hour", "day_of_month", "month", "day_of_week"), "")
    assert query(root, "SELECT * FROM crontab") == [
        # crontab.cpp:67 split(line, " \t") then :88-93 the command is the tokens joined by ONE space
        {
            **blank,
            "minute": "17",
            "hour": "*",
            "day_of_month": "*",
            "month": "*",
            "day_of_week": "*",
            "command": "root cd / && run-parts --report /etc/cron.hourly",
            "path": "/etc/crontab",
        },
        # crontab.cpp:72-78: an '@' first token is the event and index jumps to 5 (the command)
        {
            **blank,
            "event": "@reboot",
            "command": "root /usr/local/bin/boot.sh --fast",
            "path": "/etc/crontab",
        },
        # crontab.cpp:61-104 has no notion of variables: a 6+ token assignment is a "job"
        {
            **blank,
            "minute": "MAILTO",
            "hour": "=",
            "day_of_month": "a",
            "month": "b",
            "day_of_week": "c",
            "command": "d e",
            "path": "/etc/crontab",
        },
        # "SHELL=/bin/sh" and "@yearly" have no command: crontab.cpp:97-100 drops them.
        # Files: crontab.cpp:110-114 + filesystem.cpp:478-483: glob(dir/*), sorted, no dot files, no dirs
        {
            **blank,
            "minute": "0",
            "hour": "0",
            "day_of_month": "*",
            "month": "*",
            "day_of_week": "*",
            "command": "root /bin/a",
            "path": "/etc/cron.d/a-job",
        },
        {
            **blank,
            "minute": "*/5",
            "hour": "*",
            "day_of_month": "*",
            "month": "*",
            "day_of_week": "*",
            "command": "root /bin/true",
            "path": "/etc/cron.d/b-job",
        },
        {
            **blank,
            "minute": "1",
            "hour": "2",
            "day_of_month": "3",
            "month": "4",
            "day_of_week": "5",
            "command": "/home/alice/x.sh",
            "path": "/var/spool/cron/crontabs/alice",
        },
    ]


SUDOERS = (
    "Defaults\tenv_reset\n"
    "Defaults   mail_badpass\n"
    "root\tALL=(ALL:ALL) ALL\n"
    "%admin ALL=(ALL) \\\n"
    "    NOPASSWD: ALL\n"
    "# User privilege specification\n"
    "#include sudoers.local\n"
    "#includedir\n"
    "@includedir /etc/sudoers.d\n"
)


def test_sudoers_rows_as_osquery_prints_them(tmp_path):
    root = tree(
        tmp_path,
        {
            "/etc/sudoers": SUDOERS,
            "/etc/sudoers.local": "alice ALL=(ALL) ALL\n",
            "/etc/sudoers.d/ops": "bob ALL=(ALL) NOPASSWD: /bin/systemctl\n",
            "/etc/sudoers.d/README.txt": "eve ALL=(ALL) ALL\n",
            "/etc/sudoers.d/ops~": "mallory ALL=(ALL) ALL\n",
        },
    )
    assert query(root, "SELECT source, header, rule_details FROM sudoers") == [
        # sudoers.cpp:33 + :81-83: the header ends at the first TAB, vertical tab or space
        {"source": "/etc/sudoers", "header": "Defaults", "rule_details": "env_reset"},
        {"source": "/etc/sudoers", "header": "Defaults", "rule_details": "mail_badpass"},
        {"source": "/etc/sudoers", "header": "root", "rule_details": "ALL=(ALL:ALL) ALL"},
        # sudoers.cpp:68-78: the '\' is popped and the next (trimmed) line appended with no separator
        {"source": "/etc/sudoers", "header": "%admin", "rule_details": "ALL=(ALL) NOPASSWD: ALL"},
        # sudoers.cpp:86-92: #include is a row (a plain '#' comment is not); the row keeps the
        # relative text, the file read is relative to /etc (sudoers.cpp:145-153)
        {"source": "/etc/sudoers", "header": "#include", "rule_details": "sudoers.local"},
        {"source": "/etc/sudoers.local", "header": "alice", "rule_details": "ALL=(ALL) ALL"},
        # "#includedir" without a target is a comment (sudoers.cpp:100-104); @includedir is a row
        {"source": "/etc/sudoers", "header": "@includedir", "rule_details": "/etc/sudoers.d"},
        # sudoers.cpp:131-143: names holding '.' or ending in '~' are skipped
        {
            "source": "/etc/sudoers.d/ops",
            "header": "bob",
            "rule_details": "ALL=(ALL) NOPASSWD: /bin/systemctl",
        },
    ]


def _setuid(path, mode, gid=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x7fELF")
    os.chown(path, 0, gid)
    path.chmod(mode)


def test_suid_bin_follows_symlinked_search_dirs_and_links_to_setuid_files(tmp_path):
    root = tree(
        tmp_path,
        {"/etc/passwd": "root:x:0:0:root:/root:/bin/bash\n", "/etc/group": "root:x:0:\ntty:x:5:\n"},
        links={"/bin": "usr/bin", "/usr/bin/sulink": "su", "/usr/bin/dirlink": "sub"},
    )
    _setuid(root / "usr/bin/su", 0o4755)
    _setuid(root / "usr/bin/wall", 0o2755, gid=5)
    _setuid(root / "usr/bin/plain", 0o755)
    _setuid(root / "usr/bin/sub/deep/x", 0o6755)
    _setuid(root / "tmp/a/b/c/d/e/f/deepshell", 0o4755)
    rows = query(root, "SELECT path, username, groupname, permissions FROM suid_bin")
    expected = []
    # suid_bin.cpp:29-37 search dirs; :96-97 recursive_directory_iterator opens /bin although it is a
    # symlink (so merged-/usr files appear as /bin/x AND /usr/bin/x), never enters the symlinked
    # sub-directory "dirlink"; :102 is_regular_file follows "sulink"; :39-79 owner names, S / G.
    for top in ("/bin", "/usr/bin"):
        expected += [
            {"path": top + "/su", "username": "root", "groupname": "root", "permissions": "S"},
            {"path": top + "/sulink", "username": "root", "groupname": "root", "permissions": "S"},
            {"path": top + "/wall", "username": "root", "groupname": "tty", "permissions": "G"},
            {"path": top + "/sub/deep/x", "username": "root", "groupname": "root", "permissions": "SG"},
        ]
    # /tmp is searched to any depth (no depth limit in suid_bin.cpp)
    expected.append(
        {"path": "/tmp/a/b/c/d/e/f/deepshell", "username": "root", "groupname": "root", "permissions": "S"}
    )
    key = lambda r: r["path"]  # noqa: E731 - readdir order is the filesystem's; compare as sets
    assert sorted(rows, key=key) == sorted(expected, key=key)
