"""analyze/activity.py: rows that are transient activity (sessions, cron runs), not state changes."""

from __future__ import annotations

from diffy_analysis.analyze.activity import CRON, SESSION, SESSION_COMMAND, activity_reason, cron_programs


def test_session_rows_of_each_table():
    assert activity_reason("logged_in_users", {"type": "user", "user": "ops"}, set()) == SESSION
    assert activity_reason("logged_in_users", {"type": "boot_time"}, set()) is None
    assert activity_reason("systemd_units", {"id": "session-42.scope"}, set()) == SESSION
    assert activity_reason("systemd_units", {"id": "evil.service"}, set()) is None
    assert activity_reason("mounts", {"path": "/run/user/1000", "type": "tmpfs"}, set()) == SESSION
    assert activity_reason("mounts", {"path": "/run/user/1000", "type": "ext4"}, set()) is None
    assert activity_reason("processes", {"cmdline": "sshd: ops@pts/0"}, set()) == SESSION
    assert activity_reason("processes", {"cmdline": "/usr/sbin/cron -f", "name": "cron"}, set()) == CRON


def test_cron_programs_leave_interpreters_out_and_mark_their_processes():
    rows = [{"command": "/bin/sh /opt/backup.sh --full"}, {"command": "/usr/bin/python3 /opt/x.py"}]
    programs = cron_programs(rows)
    assert programs == {"/opt/backup.sh", "/opt/x.py"}
    proc = {"cmdline": "/bin/sh /opt/backup.sh --full", "name": "sh"}
    assert activity_reason("processes", proc, programs) == CRON
    assert activity_reason("processes", {"cmdline": "/tmp/.x/miner", "name": "miner"}, programs) is None


def test_commands_of_a_logged_in_user_are_activity_but_root_is_not_exempt():
    row = {"cmdline": "vim notes", "uid": "1000"}
    assert activity_reason("processes", row, set(), frozenset({"1000"})) == SESSION_COMMAND
    assert activity_reason("processes", {**row, "uid": "0"}, set(), frozenset({"1000"})) is None
