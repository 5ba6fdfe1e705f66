"""Running system commands for the lab: always bounded by a timeout, failures become LabError."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from diffy_analysis.errors import LabError

# What host processes see: never the controller's PATH (pyenv shims would shadow the system Python).
HOST_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
REQUIRED_TOOLS = ("ip", "unshare", "nsenter", "ssh-keygen", "mount")
SSHD = "/usr/sbin/sshd"
HOST_PYTHON = "/usr/bin/python3"


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError(
            "the lab needs root (it creates network namespaces, veth links and bind mounts)",
            hint="run as root, or collect from this machine with inventory/localhost.yml",
        )


def require_tools() -> None:
    missing = [tool for tool in REQUIRED_TOOLS if not shutil.which(tool, path=HOST_ENV["PATH"])]
    for path in (SSHD, HOST_PYTHON):
        if not Path(path).exists():
            missing.append(path)
    if not Path(sys.executable).with_name("moto_server").exists():
        missing.append("moto_server (pip install 'diffy-analysis[lab]')")
    if missing:
        raise LabError(
            "the lab needs " + ", ".join(missing),
            hint="scripts/setup.sh installs them (apt packages openssh-server iproute2 util-linux)",
        )


def run(cmd: Sequence[str], *, timeout: float = 20, check: bool = True, env: dict | None = None) -> str:
    """Run ``cmd``; return stdout. Raise LabError (with stderr) on failure or timeout."""
    try:
        proc = subprocess.run(
            list(cmd),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env if env is not None else {**os.environ, **HOST_ENV},
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise LabError(f"timed out after {timeout:g}s: {' '.join(cmd)}") from err
    except OSError as err:
        raise LabError(f"cannot run {cmd[0]}: {err}") from err
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise LabError(f"{' '.join(cmd)} failed (rc {proc.returncode}): {detail[-1] if detail else ''}")
    return proc.stdout


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive for our purposes.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def terminate(pids: Sequence[int], *, grace: float = 3.0) -> None:
    """SIGTERM, wait at most ``grace`` seconds, then SIGKILL whatever is left."""
    live = [p for p in pids if pid_alive(p)]
    for pid in live:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while live and time.monotonic() < deadline:
        _reap(live)
        live = [p for p in live if pid_alive(p)]
        if live:
            time.sleep(0.05)
    for pid in live:
        _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while live and time.monotonic() < deadline:
        _reap(live)
        live = [p for p in live if pid_alive(p)]
        if live:
            time.sleep(0.05)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _reap(pids: Sequence[int]) -> None:
    """Collect our own exited children so they do not linger as zombies."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
