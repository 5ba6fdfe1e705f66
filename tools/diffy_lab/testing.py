"""Helpers for tests that need the lab (marker ``lab``): used by tests/test_lab.py, test_e2e.py and
any other test that collects from real namespaced hosts.

In CI the lab tests must run, never skip: without root they FAIL with a clear message, unless
DIFFY_ALLOW_LAB_SKIP=1 says that skipping is fine on this machine (a developer laptop).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from diffy_analysis.errors import LabError
from diffy_lab.fleet import Lab, LabConfig
from diffy_lab.system import require_root, require_tools

SKIP_VARIABLE = "DIFFY_ALLOW_LAB_SKIP"


def lab_unavailable_reason() -> str | None:
    try:
        require_root()
        require_tools()
    except LabError as err:
        return str(err)
    return None


def require_lab() -> None:
    """Skip (when DIFFY_ALLOW_LAB_SKIP=1) or fail the calling test if the lab cannot run here."""
    import pytest  # noqa: PLC0415 - test-time only

    reason = lab_unavailable_reason()
    if reason is None:
        return
    if os.environ.get(SKIP_VARIABLE) == "1":
        pytest.skip(f"lab unavailable ({SKIP_VARIABLE}=1): {reason}")
    pytest.fail(f"the lab tests must run here but cannot: {reason}. Set {SKIP_VARIABLE}=1 to skip them.")


@contextmanager
def running_lab(config: LabConfig, *, timeout: float = 60) -> Iterator[Lab]:
    """A lab that is brought up for the block and always torn down after it."""
    require_lab()
    lab = Lab(config)
    try:
        lab.up(timeout=timeout)
        yield lab
    finally:
        lab.down()


def unique_name(prefix: str) -> str:
    """A lab name unique to this process (labs of concurrent test runs never collide)."""
    return f"{prefix}{os.getpid() % 100000}"
