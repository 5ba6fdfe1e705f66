"""Running controller code (ansible-runner, boto3) inside the lab's network namespace from Python.

A network namespace belongs to a thread, not to a process: a worker thread that calls setns(2)
moves alone, and every process it starts (ansible-playbook via ansible-runner, ssh) is born inside
the lab.  The calling thread and the rest of the process stay where they were.  This is what
`ip netns exec` does for a whole command; here it is for a Python callable.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable
from typing import TypeVar

from diffy_analysis.errors import LabError

T = TypeVar("T")
CLONE_NEWNET = 0x40000000


def _setns(path: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise LabError(f"cannot enter network namespace {path}: {os.strerror(err)}")
    finally:
        os.close(fd)


def call_in_netns(netns: str, func: Callable[..., T], *args, timeout: float = 1800, **kwargs) -> T:
    """Call ``func(*args, **kwargs)`` in a thread inside network namespace ``netns``; wait at most
    ``timeout`` seconds for it (then raise LabError; the thread is left to finish on its own)."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            _setns(f"/run/netns/{netns}")
            outcome["value"] = func(*args, **kwargs)
        except BaseException as err:  # handed back to the caller's thread
            outcome["error"] = err

    worker = threading.Thread(target=target, name=f"netns-{netns}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise LabError(f"{getattr(func, '__name__', 'call')} in {netns} did not finish within {timeout:g}s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
