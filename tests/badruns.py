"""A corpus of crafted bad runs, built on demand from one good base run (no committed bad files).

Diffy reads results that attacker-controlled hosts helped to write, so every way a results
directory can be broken or hostile is a *case* here: a small function that breaks one host of a
good run (``HOST_CASES``) or the run as a whole (``RUN_CASES``), plus what Diffy must do about it.

    from tests.badruns import HOST_CASES, build_hostile_run
    run = build_hostile_run(tmp_path)            # 4 good hosts + one broken host per case
    # hosts are named "bad-<case name>"; case.expect says "skipped" (with case.reason) or "analysed"

docs/security.md lists every case and the behaviour the tests check.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.runbuilder import build_run, rehash

GOOD_HOSTS = ("good-001", "good-002", "good-003", "good-004")
RUN_ID = "20261129T101500Z-badrun"
OTHER_RUN_ID = "20261129T111500Z-other1"
BIG_FILE_BYTES = 64 * 1024 * 1024 + 1
"""One byte over the loader's default cap (64 MiB); written sparse, so it costs no disk or time."""

BASE_ROWS: dict[str, list[dict[str, Any]]] = {
    "users": [
        {"username": "root", "uid": "0", "shell": "/bin/bash"},
        {"username": "daemon", "uid": "1", "shell": "/usr/sbin/nologin"},
        {"username": "app", "uid": "1000", "shell": "/bin/sh"},
    ],
    "listening_ports": [
        {
            "protocol": "6",
            "family": "2",
            "address": "0.0.0.0",
            "port": "22",
            "name": "sshd",
            "path": "/usr/sbin/sshd",
        },
        {
            "protocol": "6",
            "family": "2",
            "address": "0.0.0.0",
            "port": "8080",
            "name": "java",
            "path": "/usr/bin/java",
        },
    ],
    "crontab": [{"path": "/etc/crontab", "command": "run-parts /etc/cron.hourly"}],
}
TARGET = "listening_ports"
"""The result file most file cases break."""


# --------------------------------------------------------------------------------------------------
# Helpers for breaking hosts


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def host_dir(run: Path, host_id: str) -> Path:
    return run / "hosts" / host_id


def write_result(run: Path, host_id: str, query: str, data: bytes) -> None:
    """Replace a result file as if the host had produced these bytes (host.json's hash follows)."""
    path = host_dir(run, host_id) / f"{query}.json"
    path.unlink(missing_ok=True)
    path.write_bytes(data)
    edit_host_json(run, host_id, lambda doc: doc["queries"][query].update(sha256=sha(data)))


def edit_host_json(run: Path, host_id: str, change: Callable[[dict[str, Any]], Any]) -> None:
    path = host_dir(run, host_id) / "host.json"
    doc = json.loads(path.read_bytes())
    change(doc)
    path.write_text(json.dumps(doc, indent=1))


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@dataclass(frozen=True)
class HostCase:
    """One way to break one host. ``expect`` is "skipped" (its ``reason`` is a regex the one-line
    reason must match) or "analysed" (the host must be analysed; ``reason`` then matches a note)."""

    name: str
    what: str
    apply: Callable[[Path, str, dict[str, Any]], None]
    """(run dir, host id, manifest document) -> None; may edit files and the manifest."""
    expect: str = "skipped"
    reason: str = ""
    rehash: bool = True
    """Recompute the manifest's hashes afterwards: the host *collected* these bytes (the manifest
    was written after them). False for cases about tampering after collection."""
    status: str = "invalid"


def _symlink(target: Path, link: Path) -> None:
    if link.exists() or link.is_symlink():
        if link.is_dir() and not link.is_symlink():
            shutil.rmtree(link)
        else:
            link.unlink()
    link.symlink_to(target)


def _outside(run: Path) -> Path:
    """A directory next to the results root (outside the run) that symlinks try to reach."""
    out = run.parent.parent / "outside"
    out.mkdir(exist_ok=True)
    secret = out / "secret.json"
    secret.write_text(json.dumps([{"secret": "OUTSIDE-THE-RUN"}]))
    return out


def _copy_host_outside(run: Path, host_id: str, name: str) -> Path:
    target = _outside(run) / name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(host_dir(run, host_id), target)
    return target


def _fifo(run: Path, host_id: str, _m: dict) -> None:
    path = host_dir(run, host_id) / f"{TARGET}.json"
    path.unlink()
    os.mkfifo(path)


def _directory(run: Path, host_id: str, _m: dict) -> None:
    path = host_dir(run, host_id) / f"{TARGET}.json"
    path.unlink()
    path.mkdir()


def _huge(run: Path, host_id: str, _m: dict) -> None:
    path = host_dir(run, host_id) / f"{TARGET}.json"
    with open(path, "r+b") as handle:
        handle.truncate(BIG_FILE_BYTES)


def _tamper(run: Path, host_id: str, _m: dict) -> None:
    path = host_dir(run, host_id) / f"{TARGET}.json"
    data = bytearray(path.read_bytes())
    data[data.index(b"8080")] = ord("9")  # one byte, same size
    path.write_bytes(bytes(data))


def _unlisted(run: Path, host_id: str, manifest: dict) -> None:
    del manifest["files"][f"hosts/{host_id}/{TARGET}.json"]


def _bad_file_entry(run: Path, host_id: str, manifest: dict) -> None:
    manifest["files"][f"hosts/{host_id}/{TARGET}.json"] = {"sha256": "not-a-hash", "bytes": -1}


def _remove(name: str) -> Callable[[Path, str, dict], None]:
    def apply(run: Path, host_id: str, _m: dict) -> None:
        (host_dir(run, host_id) / name).unlink()

    return apply


def _raw(data: bytes) -> Callable[[Path, str, dict], None]:
    def apply(run: Path, host_id: str, _m: dict) -> None:
        write_result(run, host_id, TARGET, data)

    return apply


def _truncated(run: Path, host_id: str, _m: dict) -> None:
    data = (host_dir(run, host_id) / f"{TARGET}.json").read_bytes()
    write_result(run, host_id, TARGET, data[: len(data) // 2])


def _host_json_raw(data: bytes) -> Callable[[Path, str, dict], None]:
    def apply(run: Path, host_id: str, _m: dict) -> None:
        (host_dir(run, host_id) / "host.json").write_bytes(data)

    return apply


def _host_json_edit(change: Callable[[dict[str, Any]], Any]) -> Callable[[Path, str, dict], None]:
    def apply(run: Path, host_id: str, _m: dict) -> None:
        edit_host_json(run, host_id, change)

    return apply


def _result_symlink_outside(run: Path, host_id: str, _m: dict) -> None:
    _symlink(_outside(run) / "secret.json", host_dir(run, host_id) / f"{TARGET}.json")


def _result_symlink_inside(run: Path, host_id: str, _m: dict) -> None:
    _symlink(host_dir(run, GOOD_HOSTS[0]) / f"{TARGET}.json", host_dir(run, host_id) / f"{TARGET}.json")


def _host_json_symlink(run: Path, host_id: str, _m: dict) -> None:
    target = _copy_host_outside(run, host_id, "host-json-target")
    _symlink(target / "host.json", host_dir(run, host_id) / "host.json")


def _host_dir_symlink(run: Path, host_id: str, _m: dict) -> None:
    target = _copy_host_outside(run, host_id, f"copy-of-{host_id}")
    _symlink(target, host_dir(run, host_id))


def _host_dir_is_file(run: Path, host_id: str, _m: dict) -> None:
    shutil.rmtree(host_dir(run, host_id))
    host_dir(run, host_id).write_text("not a directory")


def _no_host_dir(run: Path, host_id: str, _m: dict) -> None:
    shutil.rmtree(host_dir(run, host_id))


def _not_in_manifest(run: Path, host_id: str, manifest: dict) -> None:
    del manifest["hosts"][host_id]


def _manifest_entry(entry: Any) -> Callable[[Path, str, dict], None]:
    def apply(run: Path, host_id: str, manifest: dict) -> None:
        manifest["hosts"][host_id] = entry

    return apply


def _unsafe_manifest_id(run: Path, host_id: str, manifest: dict) -> None:
    """The manifest names a host id that walks out of hosts/ (``../evil``); a complete host with
    correct hashes (and a host.json that agrees) waits there, so only the id check can stop it."""
    evil = run / "evil"
    host_dir(run, host_id).rename(evil)
    doc = json.loads((evil / "host.json").read_bytes())
    doc["host_id"] = "../evil"
    (evil / "host.json").write_text(json.dumps(doc))
    for rel in [r for r in manifest["files"] if r.startswith(f"hosts/{host_id}/")]:
        del manifest["files"][rel]
    for path in evil.iterdir():
        data = path.read_bytes()
        manifest["files"][f"hosts/../evil/{path.name}"] = {"sha256": sha(data), "bytes": len(data)}
    del manifest["hosts"][host_id]
    manifest["hosts"]["../evil"] = {"status": "ok", "error": None, "host": host_id}


def _hostile_names(run: Path, host_id: str, manifest: dict) -> None:
    """Inventory name and host-reported hostname full of control characters and escapes."""
    name = "web/../\x00\x1b[31mRED\x1b[0m\r\n\u202eevil" + "x" * 300
    manifest["hosts"][host_id]["host"] = name

    def change(doc: dict) -> None:
        doc["host"] = name
        doc["hostname"] = "\x1b]0;pwned\x07host\x00name"

    edit_host_json(run, host_id, change)


def _partial(run: Path, host_id: str, manifest: dict) -> None:
    def change(doc: dict) -> None:
        doc["queries"]["crontab"] = {"status": "timeout", "rows": None, "error": "timed out after 60 s"}
        doc["queries"]["users"] = {"status": "unsupported", "rows": None, "error": "no such table"}

    for query in ("crontab", "users"):
        (host_dir(run, host_id) / f"{query}.json").unlink()
        del manifest["files"][f"hosts/{host_id}/{query}.json"]
    edit_host_json(run, host_id, change)
    manifest["hosts"][host_id].update(status="partial", error="queries not ok: crontab, users")


def _made_up_queries(run: Path, host_id: str, manifest: dict) -> None:
    def change(doc: dict) -> None:
        for i in range(5000):
            doc["queries"][f"made_up_{i:05d}"] = {"status": "error", "rows": None, "error": "x"}

    edit_host_json(run, host_id, change)


def _multiline_error(status: str) -> Callable[[Path, str, dict], None]:
    def apply(run: Path, host_id: str, manifest: dict) -> None:
        shutil.rmtree(host_dir(run, host_id))
        for rel in [r for r in manifest["files"] if r.startswith(f"hosts/{host_id}/")]:
            del manifest["files"][rel]
        manifest["hosts"][host_id].update(
            status=status, error=f"{status}: first line\nTraceback (most recent call last):\n  injected"
        )

    return apply


NON_STRING_ROWS = json.dumps(
    [
        {
            "protocol": 6,
            "family": 2,
            "address": "0.0.0.0",
            "port": 22,
            "name": "sshd",
            "path": "/usr/sbin/sshd",
        },
        {
            "protocol": 6,
            "family": 2,
            "address": "0.0.0.0",
            "port": 8080,
            "name": "java",
            "path": "/usr/bin/java",
        },
        {"x": True, "y": None, "z": 1.5, "w": [1, [2]], "v": {"a": {"b": 1}}, "big": 10**60, "nan": "NaN"},
    ]
).encode()


HOST_CASES: tuple[HostCase, ...] = (
    # --- result files -----------------------------------------------------------------------------
    HostCase(
        "malformed-json",
        "a result file that is not JSON",
        _raw(b'[{"port": "22",, }]'),
        reason="malformed JSON",
    ),
    HostCase("truncated", "a result file cut in half", _truncated, reason="truncated"),
    HostCase(
        "object-not-array",
        "a JSON object instead of an array",
        _raw(b'{"port": "22"}'),
        reason="dict, not an array",
    ),
    HostCase(
        "string-not-array", "a JSON string instead of an array", _raw(b'"rows"'), reason="str, not an array"
    ),
    HostCase(
        "rows-not-objects",
        "rows that are numbers, strings, null",
        _raw(b'[1, "two", null]'),
        reason="not an object",
    ),
    HostCase("rows-are-arrays", "rows that are arrays", _raw(b'[["port", "22"]]'), reason="not an object"),
    HostCase("empty-file", "an empty result file", _raw(b""), reason="truncated|malformed"),
    HostCase("nul-bytes", "a result file of NUL bytes", _raw(b"\x00" * 64), reason="malformed JSON"),
    HostCase(
        "non-string-values",
        "numbers, booleans, null, nested arrays/objects and a 61-digit number as values",
        _raw(NON_STRING_ROWS),
        expect="analysed",
    ),
    HostCase(
        "huge-number-string",
        "a 100000-digit number as a value (over Python's int-to-text limit)",
        _raw(b'[{"port": ' + b"9" * 100_000 + b"}]"),
        expect="analysed",
    ),
    HostCase(
        "huge-file",
        "a result file one byte over the 64 MiB cap",
        _huge,
        reason="over the .*limit",
        rehash=False,
    ),
    HostCase(
        "deeply-nested",
        "a value nested 100000 levels deep",
        _raw(b'[{"a": ' + nested(100_000) + b"}]"),
        reason="nested too deeply",
    ),
    HostCase(
        "nested-value",
        "a value nested 50 levels deep (kept, as compact JSON text)",
        _raw(b'[{"a": ' + nested(50) + b"}]"),
        expect="analysed",
    ),
    HostCase(
        "invalid-utf8",
        "invalid UTF-8 inside a value",
        _raw(b'[{"port": "22", "name": "ss\xff\xfehd", "path": "/usr/sbin/sshd"}]'),
        expect="analysed",
        reason="invalid UTF-8",
    ),
    HostCase(
        "utf8-bom-and-surrogates",
        "a UTF-8 BOM and lone surrogate escapes (\\ud800)",
        _raw(b'\xef\xbb\xbf[{"port": "\\ud800", "name": "\\udfff"}]'),
        expect="skipped",
        reason="malformed JSON|truncated",
    ),
    HostCase(
        "lone-surrogates",
        "lone UTF-16 surrogate escapes (\\ud800) in keys and values",
        _raw(b'[{"port": "\\ud800", "na\\udfffme": "x\\udc80"}]'),
        expect="analysed",
    ),
    HostCase(
        "result-symlink-outside",
        "a result file that is a symlink out of the run",
        _result_symlink_outside,
        reason="symlink",
    ),
    HostCase(
        "result-symlink-inside",
        "a result file that is a symlink to another host's file",
        _result_symlink_inside,
        reason="symlink",
    ),
    HostCase(
        "result-fifo",
        "a named pipe instead of a result file (must not block)",
        _fifo,
        reason="not a regular file",
        rehash=False,
    ),
    HostCase(
        "result-directory",
        "a directory instead of a result file",
        _directory,
        reason="not a regular file",
        rehash=False,
    ),
    HostCase(
        "result-missing",
        "a result file the manifest lists is gone",
        _remove(f"{TARGET}.json"),
        reason="missing",
        rehash=False,
    ),
    HostCase(
        "hash-differs",
        "one byte changed after the manifest was written",
        _tamper,
        reason="differs from the manifest",
        rehash=False,
    ),
    HostCase(
        "file-not-in-manifest",
        "a result file the manifest does not list",
        _unlisted,
        reason="not listed in the manifest",
        rehash=False,
    ),
    HostCase(
        "bad-file-entry",
        "a manifest file entry with a bad hash and size",
        _bad_file_entry,
        reason="manifest entry .* is invalid",
        rehash=False,
    ),
    # --- host.json --------------------------------------------------------------------------------
    HostCase(
        "host-json-missing", "no host.json", _remove("host.json"), reason="host.json is missing", rehash=False
    ),
    HostCase(
        "host-json-malformed",
        "host.json is not JSON",
        _host_json_raw(b"{host: "),
        reason="host.json is (malformed|truncated)",
    ),
    HostCase(
        "host-json-array", "host.json is an array", _host_json_raw(b"[]"), reason="host.json is invalid"
    ),
    HostCase(
        "host-json-schema",
        "host.json with a wrong collector and no queries",
        _host_json_edit(lambda d: (d.update(collector="evil"), d.pop("queries"))),
        reason="host.json is invalid",
    ),
    HostCase(
        "host-json-huge-int",
        "host.json with a 100000-digit number",
        _host_json_raw(b'{"host": "x", "rows": ' + b"9" * 100_000 + b"}"),
        reason="host.json",
    ),
    HostCase(
        "host-json-deep",
        "host.json nested 100000 levels deep",
        _host_json_raw(nested(100_000)),
        reason="nested too deeply",
    ),
    HostCase(
        "host-json-query-traversal",
        "host.json names a query '../../outside/secret' (path traversal through a query name)",
        _host_json_edit(lambda d: d["queries"].update({"../../outside/secret": {"status": "ok"}})),
        reason="host.json is invalid",
    ),
    HostCase(
        "host-json-other-id",
        "host.json claims to be another host",
        _host_json_edit(lambda d: d.update(host_id=GOOD_HOSTS[0])),
        reason="names host_id",
    ),
    HostCase(
        "host-json-symlink", "host.json is a symlink", _host_json_symlink, reason="symlink", rehash=False
    ),
    HostCase(
        "host-json-invalid-utf8",
        "host.json with invalid UTF-8",
        _host_json_raw(b'{"host": "\xff"}'),
        reason="not valid UTF-8",
    ),
    # --- host directories and the manifest --------------------------------------------------------
    HostCase(
        "host-dir-symlink",
        "the host directory is a symlink to a copy outside the run",
        _host_dir_symlink,
        reason="symlink",
        rehash=False,
    ),
    HostCase(
        "host-dir-is-file",
        "the host directory is a regular file",
        _host_dir_is_file,
        reason="missing or is a symlink",
        rehash=False,
    ),
    HostCase(
        "host-dir-missing",
        "the manifest lists an ok host with no directory",
        _no_host_dir,
        reason="missing",
        rehash=False,
    ),
    HostCase(
        "not-in-manifest",
        "a host directory the manifest does not list",
        _not_in_manifest,
        reason="not listed in the manifest",
        rehash=False,
    ),
    HostCase(
        "manifest-entry-bad-status",
        "a manifest host entry with status 'pwned'",
        _manifest_entry({"status": "pwned"}),
        reason="manifest entry is invalid",
        rehash=False,
    ),
    HostCase(
        "manifest-entry-not-object",
        "a manifest host entry that is a string",
        _manifest_entry("ok"),
        reason="manifest entry is invalid",
        rehash=False,
    ),
    HostCase(
        "manifest-unsafe-id",
        "the manifest names host id '../evil' with valid files outside hosts/",
        _unsafe_manifest_id,
        reason="not a safe host id",
        rehash=False,
    ),
    HostCase(
        "unreachable",
        "unreachable at collection (multi-line error)",
        _multiline_error("unreachable"),
        reason="^unreachable: first line$",
        rehash=False,
        status="unreachable",
    ),
    HostCase(
        "osquery-failed",
        "collection failed on the host, e.g. osquery install",
        _multiline_error("failed"),
        reason="^failed: first line$",
        rehash=False,
        status="failed",
    ),
    HostCase(
        "queries-not-in-pack",
        "host.json reports 5000 made-up queries (would give every other host 5000 gaps)",
        _made_up_queries,
        expect="analysed",
        reason="5000 queries not in the run's pack, ignored",
    ),
    HostCase(
        "partial", "a query timed out and one is unsupported (status partial)", _partial, expect="analysed"
    ),
    HostCase(
        "hostile-names",
        "inventory name and hostname with /, .., NUL, ANSI/OSC escapes, CR/LF, RTL override, 330 chars",
        _hostile_names,
        expect="analysed",
    ),
)


def case_host_id(case: HostCase) -> str:
    return f"bad-{case.name}"


def _rehash_host(run: Path, host_id: str, manifest: dict[str, Any]) -> None:
    directory = host_dir(run, host_id)
    if directory.is_symlink() or not directory.is_dir():
        return
    for path in directory.iterdir():
        rel = f"hosts/{host_id}/{path.name}"
        if rel in manifest["files"] and path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            manifest["files"][rel] = {"sha256": sha(data), "bytes": len(data)}


def build_hostile_run(
    root: Path,
    cases: tuple[HostCase, ...] = HOST_CASES,
    *,
    good: tuple[str, ...] = GOOD_HOSTS,
    run_id: str = RUN_ID,
) -> Path:
    """A run with ``good`` healthy hosts and one host broken per case (named ``bad-<case>``)."""
    hosts = dict.fromkeys(good, BASE_ROWS) | {case_host_id(c): BASE_ROWS for c in cases}
    run = build_run(root, hosts, run_id=run_id)
    manifest_path = run / "manifest.json"
    manifest = json.loads(manifest_path.read_bytes())
    for case in cases:
        host_id = case_host_id(case)
        case.apply(run, host_id, manifest)
        if case.rehash:
            _rehash_host(run, host_id, manifest)
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return run


def build_good_run(root: Path, *, run_id: str = RUN_ID, good: tuple[str, ...] = GOOD_HOSTS) -> Path:
    return build_run(root, dict.fromkeys(good, BASE_ROWS), run_id=run_id)


# --------------------------------------------------------------------------------------------------
# Cases that break a whole run (the manifest, hosts/, the run directory)


def _manifest_bytes(data: bytes) -> Callable[[Path], Path]:
    def apply(run: Path) -> Path:
        (run / "manifest.json").write_bytes(data)
        return run

    return apply


def _manifest_edit(change: Callable[[dict[str, Any]], Any]) -> Callable[[Path], Path]:
    def apply(run: Path) -> Path:
        doc = json.loads((run / "manifest.json").read_bytes())
        change(doc)
        (run / "manifest.json").write_text(json.dumps(doc))
        return run

    return apply


def _manifest_symlink(run: Path) -> Path:
    real = run.parent / "real-manifest.json"
    (run / "manifest.json").rename(real)
    (run / "manifest.json").symlink_to(real)
    return run


def _manifest_fifo(run: Path) -> Path:
    (run / "manifest.json").unlink()
    os.mkfifo(run / "manifest.json")
    return run


def _hosts_symlink(run: Path) -> Path:
    real = run.parent / "real-hosts"
    (run / "hosts").rename(real)
    (run / "hosts").symlink_to(real)
    return run


def _run_symlink(run: Path) -> Path:
    link = run.parent / "link-to-run"
    link.symlink_to(run)
    return link


def _no_manifest(run: Path) -> Path:
    (run / "manifest.json").unlink()
    return run


def _all_hosts_broken(run: Path) -> Path:
    for host_id in GOOD_HOSTS:
        write_result(run, host_id, TARGET, b"[{")
    rehash(run)
    return run


def _all_unreachable(run: Path) -> Path:
    doc = json.loads((run / "manifest.json").read_bytes())
    for entry in doc["hosts"].values():
        entry.update(status="unreachable", error="Failed to connect to the host via ssh")
    shutil.rmtree(run / "hosts")
    doc["files"] = {}
    (run / "manifest.json").write_text(json.dumps(doc))
    return run


@dataclass(frozen=True)
class RunCase:
    """One way to break a whole run: exit 2 with ``reason`` (a regex) on stderr, no traceback."""

    name: str
    what: str
    apply: Callable[[Path], Path]
    """(good run dir) -> the path to give diffy-analyze."""
    reason: str


RUN_CASES: tuple[RunCase, ...] = (
    RunCase(
        "no-manifest", "a directory without manifest.json", _no_manifest, "not a usable results directory"
    ),
    RunCase(
        "manifest-malformed",
        "manifest.json is not JSON",
        _manifest_bytes(b'{"format": '),
        "manifest.json is (truncated|malformed)",
    ),
    RunCase("manifest-array", "manifest.json is an array", _manifest_bytes(b"[]"), "manifest format is None"),
    RunCase(
        "manifest-wrong-format",
        "manifest.json of another format",
        _manifest_edit(lambda d: d.update(format="diffy-results/99")),
        "expected 'diffy-results/1'",
    ),
    RunCase(
        "manifest-schema",
        "manifest.json without run_id",
        _manifest_edit(lambda d: d.pop("run_id")),
        "manifest.json is invalid",
    ),
    RunCase(
        "manifest-hosts-not-object",
        "manifest hosts is a list",
        _manifest_edit(lambda d: d.update(hosts=[])),
        "manifest.json is invalid",
    ),
    RunCase(
        "manifest-huge-int",
        "manifest.json with a 100000-digit number",
        _manifest_bytes(b'{"format": ' + b"9" * 100_000 + b"}"),
        "manifest",
    ),
    RunCase(
        "manifest-deep",
        "manifest.json nested 100000 levels deep",
        _manifest_bytes(nested(100_000)),
        "nested too deeply",
    ),
    RunCase(
        "manifest-invalid-utf8",
        "manifest.json with invalid UTF-8",
        _manifest_bytes(b'{"format": "\xff"}'),
        "not valid UTF-8",
    ),
    RunCase("manifest-symlink", "manifest.json is a symlink", _manifest_symlink, "symlink"),
    RunCase(
        "manifest-fifo",
        "manifest.json is a named pipe (must not block)",
        _manifest_fifo,
        "not a regular file",
    ),
    RunCase("hosts-symlink", "hosts/ is a symlink", _hosts_symlink, "symlink"),
    RunCase("run-dir-symlink", "the run directory given is a symlink", _run_symlink, "symlink"),
    RunCase(
        "all-hosts-broken",
        "every host's results are broken",
        _all_hosts_broken,
        "no host could be analysed.*truncated",
    ),
    RunCase(
        "all-unreachable",
        "every host was unreachable",
        _all_unreachable,
        "no host could be analysed.*unreachable|Failed to connect",
    ),
)
