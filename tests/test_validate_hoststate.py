"""tools/diffy_lab/validate/hoststate.py without a lab: what counts as a durable change."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from diffy_lab.validate.hoststate import Snapshot, changes, durable, walk_files


def _tree(top: Path) -> None:
    (top / "etc/cron.d").mkdir(parents=True)
    (top / "etc/crontab").write_text("# m h dom mon dow user command\n")
    (top / "tmp").mkdir()
    (top / "etc/localtime").symlink_to("/usr/share/zoneinfo/UTC")


def _snap(top: Path, **kw) -> Snapshot:
    files, truncated = walk_files(top, ["/etc", "/tmp", "/absent"], **kw)
    return Snapshot(files, Counter(), {}, truncated)


def test_a_file_created_then_removed_leaves_no_change(tmp_path):
    _tree(tmp_path)
    before = _snap(tmp_path)
    victim = tmp_path / "tmp/victim-files"
    victim.write_text("x")  # the directory's mtime changes: not a durable change
    victim.unlink()
    assert changes(before, _snap(tmp_path)) == set()


def test_added_changed_retimed_relinked_and_removed_entries_are_changes(tmp_path):
    _tree(tmp_path)
    before = _snap(tmp_path)
    (tmp_path / "etc/cron.d/evil").write_text("* * * * * root sh\n")
    (tmp_path / "etc/crontab").write_text("# m h dom mon dow user command\n")  # same bytes, new mtime
    os.utime(tmp_path / "etc/crontab", ns=(0, 0))  # and timestomped
    (tmp_path / "etc/localtime").unlink()
    (tmp_path / "etc/localtime").symlink_to("/usr/share/zoneinfo/Asia/Tokyo")
    (tmp_path / "tmp").chmod(0o777)
    assert changes(before, _snap(tmp_path)) == {"/etc/cron.d/evil", "/etc/crontab", "/etc/localtime", "/tmp"}
    (tmp_path / "etc/cron.d/evil").unlink()  # removed again: no longer a change
    assert changes(before, _snap(tmp_path)) == {"/etc/crontab", "/etc/localtime", "/tmp"}


def test_processes_and_other_state_count_and_ambient_drift_is_subtracted():
    before = Snapshot({"/etc/a": 1}, Counter({"/usr/sbin/sshd -D": 1}), {"firewall": "-P INPUT ACCEPT"})
    after = Snapshot(
        {"/etc/a": 1, "/run/drift": 2},
        Counter({"/usr/sbin/sshd -D": 1, "python3 -m http.server 8080": 1}),
        {"firewall": ""},
    )
    found = changes(before, after)
    assert found == {"/run/drift", "process: python3 -m http.server 8080", "firewall"}
    left = durable(found, ambient={"/run/drift"})
    assert left.count == 2 and left.sample == ("firewall", "process: python3 -m http.server 8080")
    assert durable(None, set()).count is None  # not measured: nothing may be concluded
    # a daemon the test killed is a change too
    assert changes(after, before) >= {"process: python3 -m http.server 8080"}


def test_a_truncated_walk_says_so(tmp_path):
    _tree(tmp_path)
    files, truncated = walk_files(tmp_path, ["/etc"], limit=2)
    assert truncated and len(files) == 2  # the bound counts the root itself too
    assert walk_files(tmp_path, ["/etc"])[1] is False


def test_a_root_replaced_by_a_link_is_a_change_and_is_not_followed(tmp_path):
    _tree(tmp_path)
    before = _snap(tmp_path)
    (tmp_path / "tmp").rmdir()
    (tmp_path / "tmp").symlink_to(tmp_path / "etc")  # followed, it would list /etc's files again
    after = _snap(tmp_path)
    assert changes(before, after) == {"/tmp"}
    assert not any(p.startswith("/tmp/") for p in after.files)
