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
_NAME_CACHE_LIMIT = 65_536
_stable_names: dict[str | None, str | None] = {}
"""Kernel thread name -> its stable form (None: unchanged); a fleet has a few hundred such names."""


def _stable_name(name: str | None) -> str | None:
    """``kernel_thread_names``' new name for a kernel thread called ``name``; None when unchanged."""
    try:
        return _stable_names[name]
    except KeyError:
        pass
    stable = None
    if name and _DIGITS.search(name) is not None:
        stem = name.split("-", 1)[0] if name.startswith("kworker/") else name
        stable = _DIGITS.sub("N", stem)
    if len(_stable_names) < _NAME_CACHE_LIMIT:  # bounded: hostile data may name every thread anew
        _stable_names[name] = stable
    return stable


def kernel_thread_names_rows(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """``kernel_thread_names`` over a file's rows, with the same result row for row.

    Which rows are kernel threads (no path, no command line) is found with C-level ``map``s, and a
    thread name's stable form is computed once per distinct name (a regex search and a Python call
    per row were a third of interning a processes file; ~70 % of a host's processes are kernel
    threads). Rows that do not change are the very same dicts.
    """
    try:
        has_binary = list(map(any, map(_PATH_AND_CMDLINE, rows)))
    except KeyError:  # rows without both columns: the per-row function decides (``row.get``)
        return list(map(kernel_thread_names, rows))
    out: list[dict[str, str]] | None = None
    for position in compress(range(len(rows)), map(not_, has_binary)):
        row = rows[position]
        stable = _stable_name(row.get("name"))
        if stable is not None:
            if out is None:
                out = list(rows)
            out[position] = {**row, "name": stable}
    return rows if out is None else out


TRANSFORMS: dict[str, Callable[[dict[str, str]], dict[str, str]]] = {
    "kernel_thread_names": kernel_thread_names,
}
"""Per-row transforms by name (the names rules and the config file may use)."""

ROWS_TRANSFORMS: dict[str, Callable[[list[dict[str, str]]], list[dict[str, str]]]] = {
    "kernel_thread_names": kernel_thread_names_rows,
}
"""Whole-file versions of transforms, equal to mapping the per-row one over the rows (faster)."""
