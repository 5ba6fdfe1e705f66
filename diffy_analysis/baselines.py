"""Named functional baselines per app: the state of a freshly launched, clean instance.

A baseline is a results directory in the usual layout (docs/results-format.md) stored at
``<results_root>/baselines/<app>/<name>/``, plus ``baseline.json`` recording where it came from.
It is made either by `playbooks/baseline.yml` (which collects straight into that place) or by
promoting hosts of an existing run (``save_from_run``).  The analysis reads it like any run.

The one name rule, for `diffy baseline` and `diffy-analyze --baseline` alike (:func:`resolve_baseline`):
a PATH (a host directory, a one-host run, or a directory holding exactly one run), a NAME saved for
the run's app (or ``--app``), or APP/NAME; names are letters, digits, '.', '_' and '-', not starting
with '.'.  Manifests are read by the loader's one manifest reader (``load.read_manifest``).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diffy_analysis import contract
from diffy_analysis.contract import HOSTS_DIR, MANIFEST_NAME, PACK_COPY_NAME, sha256_file, utc_now_iso
from diffy_analysis.errors import BaselineError, ResultsError, UsageError
from diffy_analysis.load import read_manifest

BASELINES_DIR = "baselines"
BASELINE_RECORD = "baseline.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class Baseline:
    app: str
    name: str
    path: Path
    run_id: str
    hosts: tuple[str, ...]
    collected_at: str | None
    pack: str | None
    saved_at: str | None = None
    source: str | None = None

    def to_json(self) -> dict[str, Any]:
        doc = dict(self.__dict__)
        doc["path"] = str(self.path)
        doc["hosts"] = list(self.hosts)
        return doc


def _check_name(kind: str, value: str) -> str:
    if not _NAME.match(value or ""):
        raise BaselineError(f"bad baseline {kind} {value!r}: use letters, digits, '.', '_' and '-'")
    return value


def baselines_root(results_root: Path) -> Path:
    return Path(results_root) / BASELINES_DIR


def baseline_path(results_root: Path, app: str, name: str) -> Path:
    return baselines_root(results_root) / _check_name("app", app) / _check_name("name", name)


def _read_manifest(run_dir: Path) -> dict[str, Any]:
    try:
        return read_manifest(run_dir)
    except ResultsError as err:
        raise BaselineError(err.message, hint=err.hint) from None


def load_baseline(path: Path, *, app: str | None = None, name: str | None = None) -> Baseline:
    manifest = _read_manifest(path)
    try:
        record = json.loads((path / BASELINE_RECORD).read_text("utf-8"))
    except (OSError, ValueError):
        record = {}
    hosts = tuple(
        sorted(
            str(entry.get("host") or host_id)
            for host_id, entry in manifest["hosts"].items()
            if isinstance(entry, dict) and entry.get("status") in ("ok", "partial")
        )
    )
    pack = manifest.get("pack") or {}
    return Baseline(
        app=app or record.get("app") or path.parent.name,
        name=name or record.get("name") or path.name,
        path=path,
        run_id=str(manifest.get("run_id") or ""),
        hosts=hosts,
        collected_at=manifest.get("finished_at"),
        pack=pack.get("name") if isinstance(pack, dict) else None,
        saved_at=record.get("saved_at"),
        source=record.get("source"),
    )


def get_baseline(results_root: Path, app: str, name: str) -> Baseline:
    path = baseline_path(results_root, app, name)
    if not (path / MANIFEST_NAME).is_file():
        known = [b.name for b in list_baselines(results_root, app)]
        raise BaselineError(
            f"no baseline {app}/{name} under {baselines_root(results_root)}",
            hint=f"known for {app}: {', '.join(known)}" if known else "save one with `diffy baseline save`",
        )
    return load_baseline(path, app=app, name=name)


def list_baselines(results_root: Path, app: str | None = None) -> list[Baseline]:
    root = baselines_root(results_root)
    apps = [root / _check_name("app", app)] if app else sorted(p for p in root.glob("*") if p.is_dir())
    found = []
    for app_dir in apps:
        candidates = (p for p in app_dir.glob("*") if not p.name.startswith("."))
        for path in sorted(p for p in candidates if (p / MANIFEST_NAME).is_file()):
            try:
                found.append(load_baseline(path, app=app_dir.name, name=path.name))
            except BaselineError:
                continue
    return found


def resolve_baseline(
    value: str | Path, *, app: str | None = None, results_root: Path | str | None = None
) -> Path:
    """The results directory of a baseline given as PATH, NAME (saved for ``app``) or APP/NAME.

    ``results_root`` defaults to ./diffy-results; the result is a run or a host directory.
    """
    path = Path(value)
    if path.exists():
        return run_inside(path)
    root = Path(results_root or contract.DEFAULT_RESULTS_ROOT)
    text = str(value)
    if not isinstance(value, Path):
        app_part, sep, name = text.partition("/")
        if sep and _NAME.match(app_part) and _NAME.match(name):
            return run_inside(get_baseline(root, app_part, name).path)
        if not sep:
            if not app:
                raise UsageError(
                    f"baseline {value!r} is not a directory; to use a named baseline, give APP/NAME or "
                    "--app (or analyse a run whose manifest names its app)"
                )
            named = baseline_path(root, app, text)
            if not named.is_dir():
                raise BaselineError(f"no baseline named {text!r} for app {app!r} (looked in {named})")
            return run_inside(named)
    raise BaselineError(f"baseline {value}: no such directory (give a PATH, NAME or APP/NAME)")


def run_inside(path: Path) -> Path:
    """A baseline directory may hold the run itself (or one host) or exactly one run directory."""
    if (path / MANIFEST_NAME).exists() or (path / contract.HOST_RECORD_NAME).exists():
        return path
    inner = [p for p in sorted(path.iterdir()) if p.is_dir() and not p.is_symlink()] if path.is_dir() else []
    runs = [p for p in inner if (p / MANIFEST_NAME).exists()]
    if len(runs) == 1:
        return runs[0]
    raise BaselineError(f"baseline {path}: not a results directory or host directory")


def record_baseline(path: Path, *, app: str, name: str, source: str) -> Baseline:
    """Write ``baseline.json`` next to a baseline's manifest (after baseline.yml collected it)."""
    doc = {"app": app, "name": name, "saved_at": utc_now_iso(), "source": source}
    (path / BASELINE_RECORD).write_text(json.dumps(doc, indent=2) + "\n", "utf-8")
    (path / BASELINE_RECORD).chmod(0o600)
    return load_baseline(path, app=app, name=name)


def save_from_run(
    run_dir: Path,
    results_root: Path,
    app: str,
    name: str,
    *,
    hosts: list[str] | None = None,
    force: bool = False,
) -> Baseline:
    """Promote collected hosts of ``run_dir`` (all ok/partial ones, or those named) to a baseline.

    The run is verified against its manifest first; the baseline keeps the original files and a
    manifest reduced to the chosen hosts (so it verifies on its own)."""
    run_dir = Path(run_dir)
    dest = baseline_path(results_root, app, name)
    if dest.exists() and not force:
        raise BaselineError(
            f"baseline {app}/{name} already exists at {dest}", hint="use --force to replace it"
        )
    manifest = _read_manifest(run_dir)
    chosen = _choose_hosts(manifest, hosts)
    _check_hashes(run_dir, manifest, chosen)
    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=dest.parent))
    try:
        (staging / HOSTS_DIR).mkdir(mode=0o700)
        for host_id in chosen:
            shutil.copytree(run_dir / HOSTS_DIR / host_id, staging / HOSTS_DIR / host_id, symlinks=True)
        if (run_dir / PACK_COPY_NAME).is_file():
            shutil.copy2(run_dir / PACK_COPY_NAME, staging / PACK_COPY_NAME)
        reduced = dict(manifest)
        reduced["hosts"] = {h: manifest["hosts"][h] for h in chosen}
        prefixes = tuple(f"{HOSTS_DIR}/{h}/" for h in chosen)
        reduced["files"] = {k: v for k, v in (manifest.get("files") or {}).items() if k.startswith(prefixes)}
        (staging / MANIFEST_NAME).write_text(json.dumps(reduced, indent=2, sort_keys=True) + "\n", "utf-8")
        record_baseline(staging, app=app, name=name, source=f"run {manifest.get('run_id')} ({run_dir})")
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)
    return load_baseline(dest, app=app, name=name)


def _check_hashes(run_dir: Path, manifest: dict[str, Any], chosen: list[str]) -> None:
    """Every file of the chosen hosts is a regular file listed in the manifest, with its hash."""
    files = manifest.get("files") or {}
    for host_id in chosen:
        host_dir = run_dir / HOSTS_DIR / host_id
        if host_dir.is_symlink() or not host_dir.is_dir():
            raise BaselineError(f"{host_dir}: missing or not a plain directory")
        for path in sorted(host_dir.rglob("*")):
            rel = path.relative_to(run_dir).as_posix()
            if path.is_symlink():
                raise BaselineError(f"{rel}: a symlink; refusing to use the run as a baseline")
            if path.is_dir():
                continue
            entry = files.get(rel)
            if not isinstance(entry, dict) or sha256_file(path)[0] != entry.get("sha256"):
                raise BaselineError(
                    f"{rel} does not match the manifest of {run_dir}; refusing to use it as a baseline",
                    hint="see `diffy verify`",
                )


def _choose_hosts(manifest: dict[str, Any], wanted: list[str] | None) -> list[str]:
    entries = {h: e for h, e in manifest["hosts"].items() if isinstance(e, dict)}
    if wanted:
        chosen = []
        for want in wanted:
            match = [h for h, e in entries.items() if want in (h, e.get("host"))]
            if not match:
                raise BaselineError(f"host {want!r} is not in the run")
            if entries[match[0]].get("status") not in ("ok", "partial"):
                raise BaselineError(f"host {want!r} was not collected ({entries[match[0]].get('status')})")
            chosen.append(match[0])
        return sorted(set(chosen))
    chosen = sorted(h for h, e in entries.items() if e.get("status") in ("ok", "partial"))
    if not chosen:
        raise BaselineError("the run has no collected host to make a baseline of")
    return chosen
