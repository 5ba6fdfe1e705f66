"""Helpers for the collection-plane tests (inventory, osquery role, collect role, native collector).

Everything here runs the real tools: ansible-playbook, ansible-inventory, dpkg-deb, moto_server.
The only stand-in is tests/standin/osqueryi_standin.py (no osqueryi binary exists on this machine),
built here into a zipapp, a .deb and a tarball, each named as a stand-in.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import zipapp
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
ROLE_DIR = REPO / "roles" / "diffy_collect"
MODULE_UTILS = REPO / "plugins" / "module_utils"
MODULES = REPO / "plugins" / "modules"
STANDIN_SRC = REPO / "tests" / "standin" / "osqueryi_standin.py"
STANDIN_DEB_NAME = "diffy-osqueryi-standin"
STANDIN_DEB_VERSION = "0.0.0-1"
SYSTEM_PYTHON = "/usr/bin/python3"


def ansible_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for ansible-* commands: the venv first on PATH, the repo's roles and config."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    env["ANSIBLE_ROLES_PATH"] = str(REPO / "roles")
    env["ANSIBLE_DEPRECATION_WARNINGS"] = "False"
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_RETRY_FILES_ENABLED"] = "False"
    env["ANSIBLE_LOCAL_TEMP"] = env.get("ANSIBLE_LOCAL_TEMP", "/tmp/.ansible-diffy-tests")
    env.update(extra or {})
    return env


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str
    stats: dict = field(default_factory=dict)

    def recap(self, host: str = "localhost") -> dict[str, int]:
        """ok/changed/unreachable/failed/... counts of the PLAY RECAP line for `host`."""
        for line in self.stdout.splitlines():
            if line.startswith(host + " ") and "ok=" in line:
                return {k: int(v) for k, v in (p.split("=") for p in line.split(":", 1)[1].split())}
        raise AssertionError(f"no recap for {host} in output:\n{self.stdout[-3000:]}")


def run_playbook(
    playbook: str | Path,
    *,
    inventory: str | Path,
    extra_vars: dict | None = None,
    limit: str | None = None,
    check: bool = False,
    env: dict[str, str] | None = None,
    timeout: int = 300,
    cwd: Path | None = None,
) -> PlaybookRun:
    cmd = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(playbook)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if limit:
        cmd += ["-l", limit]
    if check:
        cmd.append("--check")
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=ansible_env(env),
        timeout=timeout,
        cwd=cwd or REPO,
        check=False,
    )
    return PlaybookRun(proc.returncode, proc.stdout, proc.stderr)


def run_dirs(results_root: Path) -> list[Path]:
    return sorted(p for p in results_root.iterdir() if p.is_dir() and (p / "manifest.json").exists())


# --- the stand-in osqueryi -------------------------------------------------------------------------


def build_standin_zipapp(dest: Path) -> Path:
    """A single-file executable stand-in osqueryi: stand-in script + the native collector's tables."""
    staging = dest.parent / (dest.name + ".src")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    shutil.copy(STANDIN_SRC, staging / "__main__.py")
    for path in sorted(MODULE_UTILS.glob("diffy_native_*.py")):
        shutil.copy(path, staging / path.name)
    zipapp.create_archive(staging, dest, interpreter=SYSTEM_PYTHON)
    shutil.rmtree(staging)
    dest.chmod(0o755)
    return dest


def build_standin_deb(workdir: Path) -> Path:
    """A real .deb (dpkg-deb --build) installing the stand-in as /usr/bin/osqueryi."""
    root = workdir / "deb-root"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "usr" / "bin").mkdir(parents=True)
    build_standin_zipapp(root / "usr" / "bin" / "osqueryi")
    (root / "DEBIAN" / "control").write_text(
        f"Package: {STANDIN_DEB_NAME}\n"
        f"Version: {STANDIN_DEB_VERSION}\n"
        "Architecture: all\n"
        "Maintainer: Diffy tests <tests@diffy.invalid>\n"
        "Depends: python3\n"
        "Section: misc\n"
        "Priority: optional\n"
        "Description: STAND-IN for osqueryi used by Diffy's tests (NOT osquery)\n"
        " Answers `osqueryi --json SQL` and `--version` with Diffy's native collector tables.\n"
    )
    deb = workdir / f"{STANDIN_DEB_NAME}_{STANDIN_DEB_VERSION}_all.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)], check=True, capture_output=True
    )
    return deb


def build_standin_tarball(workdir: Path) -> Path:
    """A tarball laid out like osquery's (opt/osquery/bin/osqueryd) holding the stand-in."""
    binary = build_standin_zipapp(workdir / "osqueryd-standin")
    tarball = workdir / "osquery-standin-diffy.linux.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(binary, arcname="opt/osquery/bin/osqueryd")
    return tarball


def dpkg_installed(package: str) -> bool:
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
    )
    return proc.returncode == 0 and "install ok installed" in proc.stdout


def dpkg_purge(package: str) -> None:
    subprocess.run(["dpkg", "--purge", package], capture_output=True, check=False)


# --- moto ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto(port: int, log: Path) -> subprocess.Popen:
    """moto_server on loopback; returns once it answers (bounded wait)."""
    handle = log.open("w")
    proc = subprocess.Popen(
        [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"moto_server exited: {log.read_text()[-2000:]}") from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto_server did not start within 20 s")
