"""diffy_systemd_exec (plugins/module_utils/diffy_native_units.py): what every service unit file runs,
with its program's sha256, on a fixture tree (systemd.service(5) command-line syntax)."""

from __future__ import annotations

import hashlib
import sys

from collection_helpers import MODULE_UTILS

sys.path.insert(0, str(MODULE_UTILS))
import diffy_native_base as base
import diffy_native_engine as engine_mod
import diffy_native_units as units

from diffy_analysis.analyze import explain
from diffy_analysis.tables import REGISTRY


def test_program_strips_systemd_prefixes_and_quotes():
    assert units.program("-/usr/bin/foo --x") == "/usr/bin/foo"
    assert units.program('!!"/opt/my tool" a') == "/opt/my tool"
    assert units.program("@/bin/sh sh -c x") == "/bin/sh"
    assert units.program("  ") == ""
    assert units.program("'/bin/unbalanced") == "'/bin/unbalanced"


def _tree(root):
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/daemon").write_bytes(b"real daemon")
    system = root / "usr/lib/systemd/system"
    system.mkdir(parents=True)
    (system / "d.service").write_text(
        "[Service]\nExecStartPre=-/usr/bin/daemon --check\nExecStart=/usr/bin/daemon \\\n  --long\n"
        "ExecStop=kill $MAINPID\nExecReload=\n"
    )
    (system / "notes.txt").write_text("ExecStart=/tmp/not-a-unit\n")
    etc = root / "etc/systemd/system"
    (etc / "d.service.d").mkdir(parents=True)
    (etc / "d.service.d/override.conf").write_text("[Service]\nExecStart=\nExecStart=/tmp/.x/implant\n")
    (etc / "alias.service").symlink_to(system / "d.service")  # listed once, where it lives
    (root / "home/eve/.config/systemd/user").mkdir(parents=True)
    (root / "home/eve/.config/systemd/user/u.service").write_text("[Service]\nExecStart=/usr/bin/daemon\n")


def test_units_drop_ins_and_user_units_with_target_hashes(tmp_path):
    _tree(tmp_path)
    digest = hashlib.sha256(b"real daemon").hexdigest()
    rows = units.table_diffy_systemd_exec(base.Context(root=str(tmp_path)))
    got = [(r["unit"], r["directive"], r["target"], r["sha256"], r["status"]) for r in rows]
    assert got == [
        ("/etc/systemd/system/d.service.d/override.conf", "ExecStart", "/tmp/.x/implant", "", "missing"),
        ("/usr/lib/systemd/system/d.service", "ExecStartPre", "/usr/bin/daemon", digest, ""),
        ("/usr/lib/systemd/system/d.service", "ExecStart", "/usr/bin/daemon", digest, ""),
        ("/usr/lib/systemd/system/d.service", "ExecStop", "kill", "", "not absolute"),
        ("/home/eve/.config/systemd/user/u.service", "ExecStart", "/usr/bin/daemon", digest, ""),
    ]


def test_the_row_cap_is_recorded(tmp_path, monkeypatch):
    _tree(tmp_path)
    monkeypatch.setattr(units, "MAX_ROWS", 2)
    rows = units.table_diffy_systemd_exec(base.Context(root=str(tmp_path)))
    assert len(rows) == 3 and rows[-1]["status"] == "capped"


def test_the_pack_query_runs_natively_and_reads_in_plain_english(tmp_path):
    _tree(tmp_path)
    engine = engine_mod.Engine(root=str(tmp_path))
    try:
        columns, rows = engine.query(REGISTRY["systemd_exec_targets"].sql)
    finally:
        engine.close()
    first = engine_mod.rows_as_objects(columns, rows)[1]
    assert explain.describe("systemd_exec_targets", first).startswith(
        "/usr/lib/systemd/system/d.service ExecStartPre runs /usr/bin/daemon (sha256 "
    )
