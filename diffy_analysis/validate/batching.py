"""Which selected atomics may share a lab (one batch): never two that write the same place.

Two tests of one batch that change the same file to different contents make that file's row take
several values across the fleet, which the engine rightly reads as churn: each test then "excuses"
the other (T1686-11 and T1686-13 both changed ``/etc/ufw/user.rules`` in one batch and were both
missed). A batch must therefore hold at most one test per written place.

What a test writes is read from its command text, conservatively (a false conflict costs a batch,
a missed one costs a detection): every absolute path it names, except the kernel's pseudo files and
executables it merely runs, and the ``/etc/<tool>`` configuration directory of every program it
invokes when the machine has one (``ufw ...`` writes ``/etc/ufw/user.rules`` without naming it).
A path under ``/etc`` stands for its whole top-level entry (``/etc/ufw/user.rules`` -> ``/etc/ufw``),
the unit a configuration tool owns.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from diffy_analysis.validate.atomics import Atomic

_PATH = re.compile(r"(?<![\w.$}-])(/(?:[\w.+@%-]+/?)+)")
_WORD = re.compile(r"(?:^|[;&|(`]|\$\()\s*([a-z][\w.+-]*)", re.MULTILINE)
# Words that run the next one: ``sudo ufw`` invokes ufw.
_PREFIX = re.compile(r"\b(sudo|then|do|else|exec|nohup|env|time)\s+")
# Read-only or per-process pseudo paths a test names without writing them for good.
_NOT_PLACES = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/stdout",
               "/dev/stderr", "/proc/", "/sys/", "/dev/fd/")  # fmt: skip
_SHARED_DIRS = frozenset({"/", "/tmp", "/var/tmp", "/dev/shm", "/etc", "/usr", "/bin", "/usr/bin",
                          "/usr/local/bin", "/root", "/home", "/var", "/opt"})  # fmt: skip


def _is_program(path: str) -> bool:
    return path.startswith(("/bin/", "/sbin/", "/usr/")) and Path(path).is_file() and os.access(path, os.X_OK)


def places(atomic: Atomic, *, is_program: Callable[[str], bool] = _is_program,
           config_dir: Callable[[str], bool] = os.path.isdir) -> frozenset[str]:  # fmt: skip
    """The places ``atomic``'s command may write (see the module's docstring)."""
    text = atomic.command
    found: set[str] = set()
    for raw in _PATH.findall(text):
        path = raw.rstrip("/") or "/"
        if path in _SHARED_DIRS or path.startswith(_NOT_PLACES) or path in _NOT_PLACES or is_program(path):
            continue
        if path.startswith("/etc/"):
            path = "/etc/" + path.split("/")[2]
        found.add(path)
    for word in _WORD.findall(_PREFIX.sub("; ", text)):
        if config_dir(f"/etc/{word}"):
            found.add(f"/etc/{word}")
    return frozenset(found)


def batches(atomics: Iterable[Atomic], size: int, *,
            places_of: Callable[[Atomic], frozenset[str]] = places) -> list[list[Atomic]]:  # fmt: skip
    """First fit in selection order: each test goes to the first batch with room and no test that
    writes one of its places; selection order is kept within a batch."""
    out: list[tuple[list[Atomic], set[str]]] = []
    for atomic in atomics:
        mine = places_of(atomic)
        for members, taken in out:
            if len(members) < size and not (mine & taken):
                members.append(atomic)
                taken.update(mine)
                break
        else:
            out.append(([atomic], set(mine)))
    return [members for members, _taken in out]
