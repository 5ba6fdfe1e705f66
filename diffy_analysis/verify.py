"""Evidence integrity: re-hash every file of a run against its manifest.

`diffy verify RUN_DIR` reports every file whose content changed, every file the manifest lists that is
gone, every file under hosts/ the manifest does not list, and every symlink (never followed); also a
pack.json that differs from the manifest's pack.sha256, and a host recorded ok or partial whose
host.json is not among the run's files (an "ok" host without its files).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from diffy_analysis.contract import (
    HOST_RECORD_NAME,
    HOSTS_DIR,
    MANIFEST_NAME,
    PACK_COPY_NAME,
    schema_errors,
    sha256_file,
)
from diffy_analysis.errors import ResultsError
from diffy_analysis.load import read_manifest as load_manifest


@dataclass(frozen=True)
class FileProblem:
    path: str
    problem: str  # changed | missing | unexpected | symlink | unreadable | host-files-missing
    detail: str = ""


@dataclass(frozen=True)
class VerifyReport:
    run_dir: Path
    run_id: str
    files_checked: int
    bytes_checked: int
    problems: tuple[FileProblem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems


def read_manifest(run_dir: Path) -> dict:
    """The manifest of ``run_dir`` (the loader's one manifest reader), every entry checked against
    the schema too (verify walks all of them); ResultsError when unusable."""
    manifest = load_manifest(run_dir)
    problems = schema_errors("manifest", manifest)
    if problems:
        raise ResultsError(f"{run_dir / MANIFEST_NAME}: invalid manifest: " + "; ".join(problems))
    return manifest


def _files_on_disk(run_dir: Path) -> tuple[dict[str, Path], list[str]]:
    """Regular files under hosts/ by relative path, and symlinks found (never followed)."""
    files: dict[str, Path] = {}
    links: list[str] = []
    hosts = run_dir / HOSTS_DIR
    if not hosts.is_dir() or hosts.is_symlink():
        return files, ([HOSTS_DIR] if hosts.is_symlink() else [])
    for dirpath, dirnames, filenames in os.walk(hosts, followlinks=False):
        base = Path(dirpath)
        for name in sorted(dirnames):
            if (base / name).is_symlink():
                links.append((base / name).relative_to(run_dir).as_posix())
        for name in sorted(filenames):
            path = base / name
            rel = path.relative_to(run_dir).as_posix()
            if path.is_symlink():
                links.append(rel)
            elif path.is_file():
                files[rel] = path
    return files, links


def verify_run(run_dir: str | Path) -> VerifyReport:
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    listed: dict[str, dict] = manifest["files"]
    on_disk, links = _files_on_disk(run_dir)
    problems: list[FileProblem] = [FileProblem(p, "symlink", "symlinks are never followed") for p in links]
    checked = total = 0
    for rel in sorted(listed):
        expected = listed[rel]
        path = on_disk.get(rel)
        if path is None:
            if rel not in links:
                problems.append(FileProblem(rel, "missing", "listed in the manifest, not on disk"))
            continue
        try:
            digest, size = sha256_file(path)
        except OSError as err:
            problems.append(FileProblem(rel, "unreadable", err.strerror or str(err)))
            continue
        checked += 1
        total += size
        if digest != expected["sha256"] or size != expected["bytes"]:
            problems.append(
                FileProblem(
                    rel,
                    "changed",
                    f"sha256 {digest[:12]}… ({size} bytes), manifest says "
                    f"{expected['sha256'][:12]}… ({expected['bytes']} bytes)",
                )
            )
    problems.extend(
        FileProblem(rel, "unexpected", "on disk, not in the manifest")
        for rel in sorted(set(on_disk) - set(listed))
    )
    problems.extend(_pack_problems(run_dir, manifest))
    problems.extend(_host_problems(manifest))
    return VerifyReport(run_dir, manifest["run_id"], checked, total, tuple(problems))


def _pack_problems(run_dir: Path, manifest: dict) -> list[FileProblem]:
    """pack.json must be the pack the manifest names (a swapped pack changes every query's meaning)."""
    expected = (manifest.get("pack") or {}).get("sha256")
    path = run_dir / PACK_COPY_NAME
    if path.is_symlink() or not path.is_file():
        return [FileProblem(PACK_COPY_NAME, "missing", "the run's pack copy is missing (or a symlink)")]
    try:
        digest, _ = sha256_file(path)
    except OSError as err:
        return [FileProblem(PACK_COPY_NAME, "unreadable", err.strerror or str(err))]
    if expected and digest != expected:
        detail = f"sha256 {digest[:12]}…, manifest's pack.sha256 says {str(expected)[:12]}…"
        return [FileProblem(PACK_COPY_NAME, "changed", detail)]
    return []


def _host_problems(manifest: dict) -> list[FileProblem]:
    """Every host the manifest lists as collected (ok, partial) has its host.json listed."""
    listed = manifest.get("files") or {}
    problems = []
    for host_id, entry in sorted((manifest.get("hosts") or {}).items()):
        status = entry.get("status") if isinstance(entry, dict) else None
        rel = f"{HOSTS_DIR}/{host_id}/{HOST_RECORD_NAME}"
        if status in ("ok", "partial") and rel not in listed:
            problems.append(FileProblem(rel, "host-files-missing", f"host {host_id} is recorded {status}"))
    return problems
