"""Conformance: users, groups, authorized_keys, logged_in_users (osquery 5.23.1).

users (osquery >= 5.13) reads /etc/passwd with glibc's fgetpwent_r (osquery/tables/system/linux/
users.cpp:96-159); groups enumerates getgrent_r (groups.cpp:52-70).  The per-line accept/reject rules
are glibc's (pwd/fgetpwent_r.c, nss/nss_files/files-parse.c); the expectations below for the odd lines
were also checked against glibc 2.36's own getpwent/getgrent (Python's pwd/grp modules) with these
files bind-mounted in a private mount namespace - glibc, not the native collector."""

from __future__ import annotations

import struct

from conformance_helpers import query, tree

PASSWD = (
    "root:x:0:0:root:/root:/bin/bash\n"
    "daemon:x:00001:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "   # an indented comment\n"
    "  lead:x:7:7::/:/bin/sh\n"
    "bad:x:notanumber:10:x:/x:/bin/sh\n"
    "short:x:1001\n"
    "short2:x:1003:1003\n"
    "+::::::\n"
    "neg:x:-2:-2::/:/bin/false\n"
    "big:x:99999999999:5::/:/bin/sh\n"
    "extra:x:1002:1002:g:/home/extra:/bin/sh:trailing\n"
    "alice:x:1000:1000:Alice A,,,:/home/alice:/bin/bash\n"
    "twin:x:1004:1004::/home/alice:/bin/sh\n"
)


def _user(uid, gid, name, gecos, home, shell):  # noqa: PLR0917
    return {
        "uid": str(uid),
        "gid": str(gid),
        "uid_signed": str(uid),
        "gid_signed": str(gid),
        "username": name,
        "description": gecos,
        "directory": home,
        "shell": shell,
    }


def test_users_follow_glibc_passwd_parsing(tmp_path):
    root = tree(tmp_path, {"/etc/passwd": PASSWD})
    rows = query(
        root,
        "SELECT uid, gid, uid_signed, gid_signed, username, description, directory, shell FROM users",
    )
    assert rows == [
        _user(0, 0, "root", "root", "/root", "/bin/bash"),
        # users.cpp:26-29 BIGINT(pw_uid): strtoul made "00001" the number 1
        _user(1, 1, "daemon", "daemon", "/usr/sbin", "/usr/sbin/nologin"),
        # leading blanks are skipped by glibc's line getter; the indented comment is dropped
        _user(7, 7, "lead", "", "/", "/bin/sh"),
        # "bad" (no number), "short" (no gid) are rejected by INT_FIELD; "short2" has 4 fields: accepted
        _user(1003, 1003, "short2", "", "", ""),
        # a NIS "+" line: INT_FIELD_MAYBE_NULL gives 0/0 (fgetpwent_r.c); osquery prints it as a user
        _user(0, 0, "+", "", "", ""),
        # "neg" and "big" do not fit 32 bits: rejected.  The shell is the rest of the line, colons kept
        _user(1002, 1002, "extra", "g", "/home/extra", "/bin/sh:trailing"),
        _user(1000, 1000, "alice", "Alice A,,,", "/home/alice", "/bin/bash"),
        _user(1004, 1004, "twin", "", "/home/alice", "/bin/sh"),
    ]
    # The spec types uid BIGINT: comparisons are numeric (specs/users.table; dynamic_table_row.cpp:126-134)
    assert [r["username"] for r in query(root, "SELECT username FROM users WHERE uid >= 1000")] == [
        "short2",
        "extra",
        "alice",
        "twin",
    ]


def test_groups_keep_the_first_group_of_each_gid(tmp_path):
    root = tree(
        tmp_path, {"/etc/group": "root:x:0:\nwheel:x:10:a,b\nother:x:10:\n+\nbad:x:zz:\nstaff:x:50:\n"}
    )
    # groups.cpp:52-70: getgrent_r order, a gid already seen is skipped ("other", and "+" which glibc
    # gives gid 0); "bad" is rejected by the parser
    assert query(root, "SELECT gid, gid_signed, groupname FROM groups") == [
        {"gid": "0", "gid_signed": "0", "groupname": "root"},
        {"gid": "10", "gid_signed": "10", "groupname": "wheel"},
        {"gid": "50", "gid_signed": "50", "groupname": "staff"},
    ]


KEYS = (
    "# a comment\n"
    "ssh-ed25519 AAAAC3alice  alice@laptop   (work)\n"
    '   command="/usr/bin/backup --now",no-pty ssh-rsa AAAAB3backup backup key\n'
    "ssh-dss AAAAB3dss old@host\n"
    "ecdsa-sha2-nistp256 AAAAE2nocomment\n"
    "ssh-ed25519\n"
    'zos-key-ring-label="KeyRing01 label"\n'
)


def test_authorized_keys_as_osquery_splits_them(tmp_path):
    root = tree(tmp_path, {"/etc/passwd": PASSWD, "/home/alice/.ssh/authorized_keys": KEYS})
    rows = query(root, "SELECT uid, algorithm, key, options, comment, key_file FROM authorized_keys")
    alice = {"key_file": "/home/alice/.ssh/authorized_keys"}
    expected_for_one_user = [
        # authorized_keys.cpp:72-82: the comment is everything after the key, verbatim
        {"algorithm": "ssh-ed25519", "key": "AAAAC3alice", "options": "", "comment": "alice@laptop   (work)"},
        # :117 split(content, "\n") trims the line; :60-63 options = text before the key type
        {
            "algorithm": "ssh-rsa",
            "key": "AAAAB3backup",
            "options": 'command="/usr/bin/backup --now",no-pty',
            "comment": "backup key",
        },
        # ssh-dss is not in kSSHKeyTypes (:29-36): no row.  No comment: only the key
        {"algorithm": "ecdsa-sha2-nistp256", "key": "AAAAE2nocomment", "options": "", "comment": ""},
        # "ssh-ed25519" alone: the type must be followed by a blank (:129): no row.
        # :147-153: a zos-key-ring-label option without a key is an options-only row
        {"algorithm": "", "key": "", "options": 'zos-key-ring-label="KeyRing01 label"', "comment": ""},
    ]
    # :159-175: every users row is searched, so the two users sharing /home/alice both get the keys
    expected = [{"uid": uid, **row, **alice} for uid in ("1000", "1004") for row in expected_for_one_user]
    assert rows == expected


def _utmp(ut_type, pid, line, user, host, seconds):  # noqa: PLR0917
    fmt = struct.Struct("<hxxi32s4s32s256shhiii4i20s")  # glibc struct utmp, x86_64/aarch64
    return fmt.pack(ut_type, pid, line, b"", user, host, 0, 0, 0, seconds, 0, 0, 0, 0, 0, b"")


def test_logged_in_users_every_record_but_pid_1(tmp_path):
    data = (
        _utmp(2, 0, b"~", b"reboot", b"6.1.0", 1699999000)  # BOOT_TIME
        + _utmp(1, 1, b"~", b"runlevel", b"", 1699999001)  # RUN_LVL from init (pid 1): skipped
        + _utmp(7, 4242, b"pts/3", b"alice", b"203.0.113.9", 1700000000)
        + _utmp(8, 4100, b"pts/1", b"", b"", 1700000100)
        + _utmp(0, 0, b"", b"", b"", 0)
    )
    root = tree(tmp_path, {"/var/run/utmp": data})
    # logged_in_users.cpp:45-61: pid 1 is the only record skipped; EMPTY records are rows too
    assert query(root, "SELECT type, user, tty, host, time, pid FROM logged_in_users") == [
        {
            "type": "boot_time",
            "user": "reboot",
            "tty": "~",
            "host": "6.1.0",
            "time": "1699999000",
            "pid": "0",
        },
        {
            "type": "user",
            "user": "alice",
            "tty": "pts/3",
            "host": "203.0.113.9",
            "time": "1700000000",
            "pid": "4242",
        },
        {"type": "dead", "user": "", "tty": "pts/1", "host": "", "time": "1700000100", "pid": "4100"},
        {"type": "empty", "user": "", "tty": "", "host": "", "time": "0", "pid": "0"},
    ]
