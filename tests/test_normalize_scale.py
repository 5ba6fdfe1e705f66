"""Issue 17's fast paths give exactly the slow paths' answers: the columnar row interning, the
compact manifest digests, and fleetgen's per-host-unique fleets (their volatile values are ignored)."""

from __future__ import annotations

import hashlib

from diffy_analysis.load import open_results
from diffy_analysis.load.manifest import NOT_HEX, host_file_digests
from diffy_analysis.normalize import FleetIndex, build_fleet, default_config
from diffy_fleetgen import FleetOptions, generate_fleet

PROCS = [
    {"name": "sshd", "path": "/usr/sbin/sshd", "cmdline": "sshd -D", "pid": "412"},
    {"name": "cron", "path": "/usr/sbin/cron", "cmdline": "cron -f", "pid": "77"},
    {"name": "sshd", "path": "/usr/sbin/sshd", "cmdline": "sshd -D", "pid": "999"},  # same feature
    {"name": "kworker/u8:3-events", "path": "", "cmdline": "", "pid": "5"},  # transformed
]


def test_columnar_interning_equals_row_by_row():
    fast, slow = FleetIndex(config=default_config()), FleetIndex(config=default_config())
    rule = fast.rule("processes")
    rows = [dict(r) for r in PROCS]
    ids = fast._row_ids("processes", rows)
    assert ids == slow._mixed_row_ids("processes", _transformed(rows), rule, True)
    assert ids[0] == ids[2] and len(set(ids)) == 3
    assert fast.feature_values == slow.feature_values
    assert fast.row(ids[3])["name"] == "kworker/uN:N"
    # unknown rows are -1 without interning, known ones keep their id
    unknown = {**PROCS[1], "cmdline": "new"}
    assert fast._row_ids("processes", [unknown, PROCS[1]], intern=False) == [-1, ids[1]]


def _transformed(rows):
    from diffy_analysis.normalize.transforms import kernel_thread_names

    return [kernel_thread_names(r) for r in rows]


def test_rows_with_other_columns_take_the_row_by_row_path():
    index = FleetIndex(config=default_config())
    # same width, but a non-ignored column replaces an ignored one: a different column set
    rows = [{"name": "a", "path": "/a", "pid": "1"}, {"name": "a", "path": "/a", "extra": "x"}]
    ids = index._row_ids("processes", rows)
    assert ids[0] != ids[1]
    assert index.columns_of(ids[0]) == ("name", "path")
    assert index.columns_of(ids[1]) == ("extra", "name", "path")
    short = [{"name": "a", "path": "/a"}, {"name": "b"}]  # different widths
    assert [index.columns_of(i) for i in index._row_ids("processes", short)] == [("name", "path"), ("name",)]


def test_manifest_digests_answer_as_the_entries_do():
    good = hashlib.sha256(b"x").hexdigest()
    files = {
        "hosts/web-1/users.json": {"sha256": good, "bytes": 1},
        "hosts/web-1/groups.json": {"sha256": good.upper(), "bytes": 1},  # never equal to hexdigest()
        "hosts/web-1/bad.json": {"sha256": "short", "bytes": 1},
        "hosts/web-2/users.json": {"sha256": good, "bytes": 1},
        "pack.json": {"sha256": good, "bytes": 1},
        "hosts/web-1/late.json": {"sha256": good, "bytes": True},  # listed after another host's files
        "hosts/web-1/odd.json": ["not", "an", "object"],
    }
    digests = host_file_digests(files)
    assert digests["web-1"] == {
        "users.json": bytes.fromhex(good),
        "groups.json": NOT_HEX,
        "bad.json": b"",
        "late.json": bytes.fromhex(good),  # as file_entry_ok decides (a bool is an int there)
        "odd.json": b"",
    }
    assert set(digests) == {"web-1", "web-2"}
    names = [next(iter(d)) for d in digests.values()]
    assert names[0] is names[1]  # file names shared between hosts


def test_per_host_unique_fleet_differs_per_host_and_normalizes_like_the_other(tmp_path):
    plain = generate_fleet(tmp_path / "a", FleetOptions(hosts=6, seed=3), workers=1)
    unique = generate_fleet(tmp_path / "b", FleetOptions(hosts=6, seed=3, per_host_volatile=True), workers=1)
    assert plain.run_dir.name != unique.run_dir.name  # its own run id; existing fleets keep theirs
    hosts = sorted(p.name for p in (unique.run_dir / "hosts").iterdir())
    for name in ("mounts.json", "system_binaries.json"):
        texts = {(unique.run_dir / "hosts" / h / name).read_bytes() for h in hosts}
        assert len(texts) == len(hosts)  # no two hosts share the file
    a = build_fleet(open_results([plain.run_dir]), default_config()).index
    b = build_fleet(open_results([unique.run_dir]), default_config()).index
    assert a.feature_values == b.feature_values  # the added values are volatile columns, ignored
    assert [h.profile for h in a.hosts] == [h.profile for h in b.hosts]
    assert b.file_cache_hits < a.file_cache_hits
