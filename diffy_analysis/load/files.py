"""Reading the files of a results directory safely: no symlink followed, a size limit, JSON as text.

One place for the byte-level rules every reader of the results contract shares (the loader, the
manifest reader used by ``diffy verify`` and the baselines): files are opened with ``O_NOFOLLOW``
and ``O_NONBLOCK``, refused over a limit, decoded as UTF-8 (invalid bytes replaced and noted), and
result files parsed with every value as text.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from itertools import chain
from pathlib import Path
from typing import Any

from diffy_analysis.errors import HostDataError

_orjson: Any
try:  # 2-3x faster than json on result files; json stays the reference and names every problem
    import orjson as _orjson
except ImportError:  # pragma: no cover - a declared dependency, but the loader works without it
    _orjson = None

MAX_META_BYTES = 8 * 1024 * 1024
"""Largest host.json or pack.json read."""


def _open_nofollow(path: Path | str, name: str, dir_fd: int | None = None) -> int:
    try:
        # O_NONBLOCK: opening a named pipe planted in a results directory must not hang the loader.
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        return os.open(path, flags, dir_fd=dir_fd)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise HostDataError(f"{name} is a symlink (never followed)") from None
        if err.errno == errno.ENOENT:
            raise HostDataError(f"{name} is missing") from None
        raise HostDataError(f"{name} cannot be read: {err.strerror}") from None


def open_dir(path: Path) -> int | None:
    """A descriptor of the directory ``path`` (never through a symlink), for :func:`read_bytes`'s
    ``dir_fd``; None when it cannot be opened. Opening a host's files by name relative to it skips
    building and resolving a path per file (2.1 million files at 100k hosts)."""
    try:
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        return os.open(path, flags)
    except OSError:
        return None


def read_bytes(path: Path | str, *, limit: int, dir_fd: int | None = None) -> bytes:
    """Read a regular file without following symlinks, refusing files over ``limit`` bytes.

    With ``dir_fd`` (from :func:`open_dir`), ``path`` is a file name inside that directory."""
    name = path.name if isinstance(path, Path) else path.rpartition("/")[2]
    fd = _open_nofollow(path, name, dir_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise HostDataError(f"{name} is not a regular file")
        if info.st_size > limit:
            raise HostDataError(f"{name} is {info.st_size} bytes, over the {limit}-byte limit")
        chunks = []
        remaining = limit + 1
        while remaining > 0:
            want = min(remaining, 1 << 22)
            chunk = os.read(fd, want)
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
            if len(chunk) < want:
                break  # a short read of a regular file is its end: no second read to learn it
        data = b"".join(chunks)
        if len(data) > limit:
            raise HostDataError(f"{name} grew over the {limit}-byte limit while read")
        return data
    finally:
        os.close(fd)


def decode(data: bytes, name: str, notes: list[str] | None) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if notes is None:
            raise HostDataError(f"{name} is not valid UTF-8") from None
        notes.append(f"{name}: invalid UTF-8 replaced with U+FFFD")
        return data.decode("utf-8", "replace")


def parse_json(text: str, name: str, *, as_text: bool = False) -> Any:
    """Parse JSON; ``as_text`` keeps numbers as their JSON spelling (result files are read as text)."""
    if _orjson is not None and not as_text:
        try:
            return _orjson.loads(text)
        except _orjson.JSONDecodeError:
            pass  # what orjson refuses (NaN, huge integers, lone surrogates...) json decides
    try:
        if as_text:
            return json.loads(text, parse_int=str, parse_float=str, parse_constant=str)
        return json.loads(text)
    except json.JSONDecodeError as err:
        what = "truncated" if err.pos >= len(text.rstrip()) else "malformed JSON"
        raise HostDataError(f"{name} is {what} (line {err.lineno}, column {err.colno})") from None
    except RecursionError:
        raise HostDataError(f"{name} is nested too deeply") from None
    except ValueError as err:  # e.g. a 100000-digit number (Python's int-to-text limit)
        raise HostDataError(f"{name} cannot be read: {str(err).split(':')[0][:120]}") from None


def parse_json_bytes(data: bytes, name: str) -> Any:
    """``parse_json(decode(data, name, None), name)`` without a decoded copy of ``data`` when orjson
    takes the bytes as they are (it checks UTF-8 itself): a 100k-host manifest is a few hundred MB."""
    if _orjson is not None:
        try:
            return _orjson.loads(data)
        except _orjson.JSONDecodeError:
            pass  # json and decode decide, and name the problem
    return parse_json(decode(data, name, None), name)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _orjson_rows(text: str) -> list[dict[str, str]] | None:
    """Rows parsed by orjson when that is exactly what json with numbers as text gives: an array of
    objects whose values are all strings (osquery's output). None otherwise: json decides."""
    if _orjson is None:
        return None
    try:
        rows = _orjson.loads(text)
    except _orjson.JSONDecodeError:
        return None
    if type(rows) is not list or (rows and set(map(type, rows)) != {dict}):
        return None
    try:  # str.join checks every value is a str in C (faster than collecting their types)
        "".join(chain.from_iterable(map(dict.values, rows)))
    except TypeError:
        return None
    return rows


def parse_rows(text: str, name: str) -> list[dict[str, str]]:
    """Parse one result file's text into rows of str values, checking its structure.

    Fast paths: orjson when every value is a string; otherwise json, and when every value is
    already a string (numbers are parsed as their text), rows are returned as parsed.
    """
    fast = _orjson_rows(text)
    if fast is not None:
        return fast
    rows = parse_json(text, name, as_text=True)
    if not isinstance(rows, list):
        raise HostDataError(f"{name} is a JSON {type(rows).__name__}, not an array of rows")
    if not rows:
        return rows
    if set(map(type, rows)) != {dict}:
        raise HostDataError(f"{name} has a row that is not an object")
    # osquery output is all strings, the common case, checked as cheaply as possible: first on the
    # text (one "[" and one "{" per row and no bare literal means no nested value and no literal;
    # numbers were parsed as their text), then with one C-level pass over every value's type.
    if (
        text.count("{") == len(rows)
        and text.count("[") == 1
        and "null" not in text
        and "true" not in text
        and "false" not in text
    ):
        return rows
    if set(map(type, chain.from_iterable(map(dict.values, rows)))) <= {str}:
        return rows
    out = []
    for row in rows:
        if any(type(v) is not str for v in row.values()):
            row = {k: _as_text(v) for k, v in row.items()}  # noqa: PLW2901 - coerced copy
        out.append(row)
    return out


def is_plain_dir(path: Path) -> bool:
    """A directory, and not a symlink to one (``lstat``)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False
