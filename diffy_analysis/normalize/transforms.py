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
from itertools import compress
from operator import itemgetter, not_

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


_PATH_AND_CMDLINE = itemgetter("path", "cmdline")


def kernel_thread_names_rows(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """``kernel_thread_names`` over a file's rows, with the same result row for row.

    Most process rows have a path or a command line and are returned as they are: which rows are
    candidates is found with C-level ``map``s (a Python call per row was a third of interning a
    processes file); only kernel threads (a few dozen a host) go through the per-row function.
    """
    try:
        has_binary = list(map(any, map(_PATH_AND_CMDLINE, rows)))
    except KeyError:  # rows without both columns: the per-row function decides (``row.get``)
        return list(map(kernel_thread_names, rows))
    candidates = list(compress(range(len(rows)), map(not_, has_binary)))
    if not candidates:
        return rows
    out = list(rows)
    for position in candidates:
        out[position] = kernel_thread_names(rows[position])
    return out


TRANSFORMS: dict[str, Callable[[dict[str, str]], dict[str, str]]] = {
    "kernel_thread_names": kernel_thread_names,
}
"""Per-row transforms by name (the names rules and the config file may use)."""

ROWS_TRANSFORMS: dict[str, Callable[[list[dict[str, str]]], list[dict[str, str]]]] = {
    "kernel_thread_names": kernel_thread_names_rows,
}
"""Whole-file versions of transforms, equal to mapping the per-row one over the rows (faster)."""
