"""Run commands inside one lab host (its mount, PID, network and UTS namespaces), after proving that
the host's per-host bind mounts are in place, so a procedure never writes the machine's own files."""

from __future__ import annotations

import shlex
from pathlib import Path

from diffy_analysis.errors import LabError
from diffy_lab import Lab, LabHost
from diffy_lab import hosts as lab_hosts

# The only paths a procedure may write: bind-mounted per host by the lab (docs/lab.md).
PER_HOST = {
    "/etc": "etc",
    "/root": "root",
    "/home": "home",
    "/tmp": "tmp",
    "/var/tmp": "var-tmp",
    "/run": "run",
    "/srv": "srv",
}


def check_isolated(lab: Lab, host: LabHost) -> None:
    """Every per-host path seen inside the host must be the host's own directory (same device and
    inode as ``lab.host_dir(host)/<dir>`` seen from outside), never the machine's."""
    paths = list(PER_HOST)
    inside = lab_hosts.nsenter(host, ["stat", "-c", "%d:%i", *paths]).split()
    base = lab.host_dir(host.name)
    for path, seen in zip(paths, inside, strict=True):
        info = (base / PER_HOST[path]).stat()
        if seen != f"{info.st_dev}:{info.st_ino}":
            raise LabError(f"{host.name}: {path} is not the host's own copy; refusing to write there")


def sh(host: LabHost, script: str, *, timeout: float = 30) -> str:
    """Run a shell script as root inside the host; its output."""
    return lab_hosts.nsenter(host, ["/bin/sh", "-euc", script], timeout=timeout)


def spawn(host: LabHost, command: str, *, cwd: str = "/", log: str = "/dev/null") -> None:
    """Start a long-running process inside the host, detached (reparented to the host's PID 1, dies
    with the host)."""
    sh(host, f"cd {shlex.quote(cwd)} && nohup {command} </dev/null >>{shlex.quote(log)} 2>&1 &")


def host_pids(host: LabHost) -> list[int]:
    """PIDs (root-namespace view) of every process inside the host's PID namespace."""
    init = lab_hosts.init_pid(host)
    if init is None:
        raise LabError(f"lab host {host.name} is not running")
    target = str(Path(f"/proc/{init}/ns/pid").readlink())
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str((entry / "ns" / "pid").readlink()) == target:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").replace(b"\0", b" ").decode()
    except OSError:
        return ""
