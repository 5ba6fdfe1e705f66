"""The result bundle a host sends back is hostile input on the controller: the collect role's
diffy_unbundle module (plugins/modules/diffy_unbundle.py) must write only flat, reported,
regular .json files whose hashes match, never follow or create links, never write outside the host's
directory, and fail with one clear message (the role then records the host as failed)."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import stat
import tarfile
from pathlib import Path

import pytest
from collection_helpers import MODULES

_spec = importlib.util.spec_from_file_location("diffy_unbundle", MODULES / "diffy_unbundle.py")
diffy_unbundle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(diffy_unbundle)
FAILURES = (ValueError, OSError, tarfile.TarError, EOFError)  # what the module turns into fail_json

GOOD = {"users.json": b'[{"username": "root"}]', "host.json": b'{"host": "h"}'}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _bundle(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _special(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info, None


def _unbundle(tmp_path: Path, members, expected=None, max_bytes=1 << 20):
    bundle = _bundle(tmp_path / "bundle.tgz", members)
    dest = tmp_path / "run" / "hosts" / "h"
    expected = expected if expected is not None else {n: _sha(d) for n, d in GOOD.items()}
    return diffy_unbundle.unbundle(str(bundle), str(dest), expected, max_bytes), dest


def test_a_good_bundle_is_written_owner_only(tmp_path):
    (names, total), dest = _unbundle(tmp_path, [_file(n, d) for n, d in GOOD.items()])
    assert sorted(names) == sorted(GOOD) and total == sum(map(len, GOOD.values()))
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    for name, data in GOOD.items():
        assert (dest / name).read_bytes() == data and stat.S_IMODE((dest / name).stat().st_mode) == 0o600


HOSTILE = {
    "path-traversal": ([_file("../escape.json", b"[]")], "not a plain result file"),
    "absolute-path": ([_file("/tmp/diffy-abs.json", b"[]")], "not a plain result file"),
    "subdirectory": ([_file("sub/users.json", b"[]")], "not a plain result file"),
    "dot-json": ([_file("..json", b"[]")], "not a plain result file"),
    "not-json-name": ([_file("users.sh", b"[]")], "not a plain result file"),
    "symlink": ([_special("users.json", tarfile.SYMTYPE, "/etc/passwd")], "not a plain result file"),
    "hardlink": ([_special("users.json", tarfile.LNKTYPE, "/etc/passwd")], "not a plain result file"),
    "fifo": ([_special("users.json", tarfile.FIFOTYPE)], "not a plain result file"),
    "char-device": ([_special("users.json", tarfile.CHRTYPE)], "not a plain result file"),
    "directory": ([_special("users.json", tarfile.DIRTYPE)], "not a plain result file"),
    "unreported-file": ([_file("extra.json", b"[]")], "not reported by the host"),
    "duplicate": ([_file("users.json", GOOD["users.json"])] * 2, "appears twice"),
    "hash-differs": ([_file("users.json", b"[]"), _file("host.json", GOOD["host.json"])], "differs"),
    "missing-file": ([_file("users.json", GOOD["users.json"])], "lacks files"),
    "too-big": ([_file("users.json", b" " * (2 << 20))], "larger than"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_bundles_are_refused_with_one_clear_reason(case, tmp_path):
    members, reason = HOSTILE[case]
    expected = {n: _sha(d) for n, d in GOOD.items()}
    if case == "too-big":
        expected["users.json"] = _sha(members[0][1])
    with pytest.raises(ValueError, match=reason):
        _unbundle(tmp_path, members, expected)
    written = [p for p in tmp_path.rglob("*") if p.name not in ("bundle.tgz",) and p.is_file()]
    assert not [p for p in written if p.name != "users.json"], written  # nothing else, nowhere else
    assert not (tmp_path / "escape.json").exists() and not Path("/tmp/diffy-abs.json").exists()
    if case == "hash-differs":
        assert not (tmp_path / "run" / "hosts" / "h" / "users.json").exists()  # removed, not kept


@pytest.mark.parametrize(
    "data",
    [b"", b"not a tarball", gzip.compress(b"not a tarball"), None],
    ids=["empty", "garbage", "gzip-of-garbage", "truncated"],
)
def test_broken_bundles_fail_cleanly(data, tmp_path):
    bundle = tmp_path / "bundle.tgz"
    if data is None:  # a valid bundle cut short
        full = _bundle(tmp_path / "full.tgz", [_file(n, d) for n, d in GOOD.items()]).read_bytes()
        data = full[: len(full) // 2]
    bundle.write_bytes(data)
    with pytest.raises(FAILURES):
        diffy_unbundle.unbundle(
            str(bundle), str(tmp_path / "dest"), {n: _sha(d) for n, d in GOOD.items()}, 1 << 20
        )


def test_a_planted_symlink_in_the_destination_is_not_followed(tmp_path):
    dest = tmp_path / "run" / "hosts" / "h"
    dest.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (dest / "users.json").symlink_to(victim)
    with pytest.raises(OSError):
        _unbundle(tmp_path, [_file(n, d) for n, d in GOOD.items()])
    assert victim.read_text() == "keep me"
