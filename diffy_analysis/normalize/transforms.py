"""Value transforms: per-table rewrites of rows before comparison (a plain registry).

Some values are noise by construction but not a whole column: a kernel worker thread's name
(``kworker/u8:3-events_unbound``) carries a slot number and the work queue it happens to serve when
sampled. A transform rewrites such values into a stable form; rules name transforms in
``normalize/defaults.py`` (``transforms``) and the config file can turn them off.

Transforms must be conservative: ``kernel_thread_names`` touches only rows with an empty path and
an empty command line (what osquery reports for kernel threads), so a userland process disguised
as ``kworker/0:1`` - which has a binary path - is never rewritten.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_DIGITS = re.compile(r"\d+")


def kernel_thread_names(row: dict[str, str]) -> dict[str, str]:
    """``kworker/u8:3-events_unbound`` -> ``kworker/uN:N`` for kernel threads only."""
    if row.get("path") or row.get("cmdline"):
        return row
    name = row.get("name")
    if not name or _DIGITS.search(name) is None:
        return row
    stem = name.split("-", 1)[0] if name.startswith("kworker/") else name
    return {**row, "name": _DIGITS.sub("N", stem)}


TRANSFORMS: dict[str, Callable[[dict[str, str]], dict[str, str]]] = {
    "kernel_thread_names": kernel_thread_names,
}
