"""Run one selected atomic test inside one lab host, as Atomic Red Team's own runner would: check
each prerequisite, try to satisfy the unmet ones (offline: the lab has no uplink, so a download
fails and is recorded), then run the test's command with its executor as root.

Only ever on hosts with "overlay" isolation (lab/rootfs.py): the command may write anywhere.
Output goes to a log file outside the host (never into the host, where it would be collected), and
processes the command leaves in the background stay in the host until the host is torn down.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from diffy_analysis.errors import LabError
from diffy_analysis.validate.atomics import Atomic
from diffy_lab import hosts, spec
from diffy_lab.validate.hoststate import Durable

# The host's root is an overlay, but its kernel is the machine's: loading a module (T1547.006, T1014
# rootkits), rebooting or setting the clock would reach the machine. Every step runs without those
# capabilities in its bounding set (sudo inside cannot regain them); the test then fails, recorded.
KERNEL_CAPS_DROPPED = ["setpriv", "--bounding-set", "-sys_module,-sys_boot,-sys_time", "--"]
COMMAND_TIMEOUT = 90.0
PREREQ_TIMEOUT = 45.0
SHELLS = {"sh": "/bin/sh", "bash": "/bin/bash"}
# What the executor sees: root's login environment on a plain Debian host.
ENV = ["HOME=/root", "USER=root", "LOGNAME=root", "SHELL=/bin/bash", "TERM=dumb"]


@dataclass
class Execution:
    """What happened when one atomic ran on one host."""

    host: str
    exit_code: int | None
    """None when the command timed out (it was killed)."""
    seconds: float
    prerequisites: list[str] = field(default_factory=list)
    """One line per prerequisite: met, satisfied, or not met (with the getter's exit code)."""
    prerequisites_met: bool = True
    output_tail: str = ""
    """The end of the log (the command's output comes last): why a failed command failed."""
    durable: Durable = field(default_factory=lambda: Durable(None))
    """What the test left on its host beyond the clean hosts' drift (hoststate; set by the runner)."""

    def to_json(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "durable"}
        return {**out, **self.durable.to_json()}


# A prerequisite check that only sets a shell variable (``which_gpg=`which gpg```): several atomics'
# commands then use ``$which_gpg``, which no runner that starts a fresh shell per step (ours, and
# Atomic Red Team's own) can pass on. Such assignment lines are replayed ahead of the command.
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=(`[^`]*`|\$\([^)]*\))$")


def carried_variables(checks: list[str]) -> str:
    """The variable assignments of the prerequisite checks, one per line ('' when none)."""
    lines = [line.strip() for check in checks for line in check.splitlines()]
    return "".join(line + "\n" for line in lines if _ASSIGNMENT.match(line))


def atomics_path(command: str, root: Path) -> str:
    """Atomic Red Team's ``PathToAtomicsFolder`` (with or without ``$``) -> the checkout's atomics
    directory, which hosts see through their overlay's lower layer."""
    atomics = str(root / "atomics" if (root / "atomics").is_dir() else root)
    return command.replace("$PathToAtomicsFolder", atomics).replace("PathToAtomicsFolder", atomics)


def _run(host: spec.LabHost, shell: str, script: str, log: Path, timeout: float) -> int | None:
    target = hosts.init_pid(host)
    if target is None:
        raise LabError(f"lab host {host.name} is not running")
    argv = ["nsenter", "-t", str(target), "-n", "-m", "-u", "-p", "--wdns=/root",
            "env", "-i", *ENV, f"PATH={hosts.HOST_ENV['PATH']}", *KERNEL_CAPS_DROPPED,
            shell, "-c", script]  # fmt: skip
    with open(log, "ab") as out:
        out.write(f"\n$ ({shell}) {script}\n".encode(errors="replace"))
        out.flush()
        try:
            # stdout is a file, not a pipe: a daemon the command leaves behind cannot hold us up.
            proc = subprocess.run(
                argv, check=False, stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            out.write(f"[diffy validate: killed after {timeout:g}s]\n".encode())
            return None
    return proc.returncode


def execute(atomic: Atomic, host: spec.LabHost, root: Path, log: Path) -> Execution:
    """Prerequisites, then the command; every step logged to ``log``."""
    if host.isolation != "overlay":
        raise LabError(f"refusing to run {atomic.test_id} on {host.name}: its root is not an overlay")
    shell = SHELLS[atomic.executor]
    started = time.monotonic()
    notes: list[str] = []
    met_all = True
    for number, (raw_check, raw_get) in enumerate(atomic.prereqs, start=1):
        check, get = atomics_path(raw_check, root), atomics_path(raw_get, root)
        if not check.strip() or _run(host, shell, check, log, PREREQ_TIMEOUT) == 0:
            notes.append(f"prerequisite {number}: met")
            continue
        got = _run(host, shell, get, log, PREREQ_TIMEOUT) if get.strip() else None
        if _run(host, shell, check, log, PREREQ_TIMEOUT) == 0:
            notes.append(f"prerequisite {number}: satisfied by its getter")
        else:
            met_all = False
            notes.append(f"prerequisite {number}: not met (getter exit {got})")
    carried = carried_variables([atomics_path(check, root) for check, _get in atomic.prereqs])
    code = _run(host, shell, carried + atomics_path(atomic.command, root), log, COMMAND_TIMEOUT)
    tail = log.read_bytes()[-1500:].decode("utf-8", errors="replace") if log.is_file() else ""
    return Execution(host.name, code, round(time.monotonic() - started, 2), notes, met_all, tail)
