"""The native `hash` table's work savers (plugins/module_utils/diffy_native_files.py): only the digests a
query names are computed, and a file several queries read is hashed once while it is unchanged."""

from __future__ import annotations

import hashlib
import sys

from collection_helpers import MODULE_UTILS

sys.path.insert(0, str(MODULE_UTILS))
import diffy_native_engine as engine_mod
import diffy_native_files as files


def test_the_engine_asks_only_for_the_digests_the_sql_names():
    assert engine_mod.digests_named("SELECT h.sha256 FROM hash AS h WHERE path = '/x';") == ("sha256",)
    assert engine_mod.digests_named("SELECT path FROM hash WHERE path = '/x';") == ()
    assert engine_mod.digests_named("SELECT * FROM hash WHERE path = '/x';") == ("md5", "sha1", "sha256")


def test_named_digests_match_hashlib_and_unchanged_files_are_not_read_twice(tmp_path, monkeypatch):
    target = tmp_path / "bin"
    target.write_bytes(b"one")
    engine = engine_mod.Engine()
    try:
        sql = f"SELECT sha256, md5 FROM hash WHERE path = '{target}';"
        assert engine.query(sql)[1] == [[hashlib.sha256(b"one").hexdigest(), hashlib.md5(b"one").hexdigest()]]
        reads = []
        real_new = files.hashlib.new
        monkeypatch.setattr(files.hashlib, "new", lambda name: reads.append(name) or real_new(name))
        assert engine.query(f"SELECT sha256 FROM hash WHERE path = '{target}';")[1][0][0] == (
            hashlib.sha256(b"one").hexdigest()
        )
        assert reads == []  # served from the cache
        target.write_bytes(b"two")  # a write changes size/mtime/ctime: the cache misses
        assert engine.query(f"SELECT sha256 FROM hash WHERE path = '{target}';")[1][0][0] == (
            hashlib.sha256(b"two").hexdigest()
        )
        assert reads == ["sha256"]
        # a query naming no digest still gets the row of a readable file, and computes nothing
        assert engine.query(f"SELECT path FROM hash WHERE path = '{target}';")[1] == [[str(target)]]
        assert reads == ["sha256"]
    finally:
        engine.close()
