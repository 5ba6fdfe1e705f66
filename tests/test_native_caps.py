"""diffy_file_capabilities (plugins/module_utils/diffy_native_caps.py): Diffy's own table for the
security.capability xattr. The byte layouts below are what setcap wrote on this machine (revision 2)
and the kernel's revision-3 layout (include/uapi/linux/capability.h, struct vfs_ns_cap_data)."""

from __future__ import annotations

import os
import struct
import sys

import pytest
from collection_helpers import MODULE_UTILS

sys.path.insert(0, str(MODULE_UTILS))
import diffy_native_base as base
import diffy_native_caps as caps

SETUID_EP = bytes.fromhex("0100000280000000000000000000000000000000")  # setcap cap_setuid=ep
SYSADMIN_IP_NETRAW_P = bytes.fromhex("0000000200202000000020000000000000000000")


def test_decode_reads_the_revisions_like_getcap():
    assert caps.decode(SETUID_EP) == ("cap_setuid=ep", "")
    # getcap prints "cap_sys_admin=ip cap_net_raw+p": every clause here is absolute ('=')
    assert caps.decode(SYSADMIN_IP_NETRAW_P) == ("cap_sys_admin=ip cap_net_raw=p", "")
    v3 = struct.pack("<IIIIII", 0x03000001, 1 << 7, 0, 1 << (40 - 32), 0, 100000)
    assert caps.decode(v3) == ("cap_setuid,cap_checkpoint_restore=ep", "100000")
    assert caps.decode(b"\x01\x00")[0] == "invalid:0100"
    assert caps.decode(struct.pack("<I", 0x09000000) + bytes(16))[0].startswith("invalid:")


def _capped_file(path, raw):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x7fELF")
    try:
        os.setxattr(path, caps.XATTR, raw)
    except OSError as exc:  # not root, or a filesystem without security xattrs
        pytest.skip(f"cannot set {caps.XATTR} here: {exc}")


def test_the_walk_finds_capabilities_and_records_its_bounds(tmp_path, monkeypatch):
    _capped_file(tmp_path / "tmp/.x/python3", SETUID_EP)
    _capped_file(tmp_path / "usr/bin/ping", SYSADMIN_IP_NETRAW_P)
    (tmp_path / "usr/bin/ls").write_bytes(b"plain")
    (tmp_path / "usr/bin/ping6").symlink_to("/usr/bin/ping")  # never followed
    _capped_file(tmp_path / "home/a/b/c/tool", SETUID_EP)  # 4 levels down: in reach
    _capped_file(tmp_path / "home/a/b/c/d/deep", SETUID_EP)  # below the depth bound
    ctx = base.Context(root=str(tmp_path))
    rows = caps.table_diffy_file_capabilities(ctx, roots=("/usr/bin", "/tmp", "/home", "/nowhere"))
    assert rows == [
        {
            "path": "/usr/bin/ping",
            "capabilities": "cap_sys_admin=ip cap_net_raw=p",
            "rootid": "",
            "capped": "",
        },
        {"path": "/tmp/.x/python3", "capabilities": "cap_setuid=ep", "rootid": "", "capped": ""},
        {"path": "/home/a/b/c/tool", "capabilities": "cap_setuid=ep", "rootid": "", "capped": ""},
        {"path": "/home", "capabilities": "", "rootid": "", "capped": "depth > 4"},
    ]
    monkeypatch.setattr(caps, "MAX_ENTRIES", 1)
    cut = caps.table_diffy_file_capabilities(ctx, roots=("/usr/bin",))
    assert cut[-1] == {"path": "/usr/bin", "capabilities": "", "rootid": "", "capped": "entries > 1"}


def test_the_engine_answers_the_pack_query(tmp_path):
    import diffy_native_engine as engine_mod

    from diffy_analysis.tables import REGISTRY

    _capped_file(tmp_path / "opt/tool", SETUID_EP)
    engine = engine_mod.Engine(root=str(tmp_path))
    try:
        columns, rows = engine.query(REGISTRY["file_capabilities"].sql)
    finally:
        engine.close()
    assert engine_mod.rows_as_objects(columns, rows) == [
        {"path": "/opt/tool", "capabilities": "cap_setuid=ep", "rootid": "", "capped": ""}
    ]
