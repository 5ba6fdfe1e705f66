# Diffy native collector: what every table builder shares (Context, file reading, osquery's string
# helpers re-implemented, running system tools).
#
# Standard library only, Python 3.6+ (runs on the target host).  Every helper that mirrors an osquery
# helper names it: the tables must print what osquery 5.x prints (see docs/native-fidelity.md).

import glob
import os
import shutil
import subprocess
import time

# The bytes std::isspace() accepts in the "C" locale: boost::trim() and std::stol() skip these.
C_SPACE = " \t\n\v\f\r"


class TableUnavailable(Exception):
    """The table cannot be built on this host (e.g. a tool it needs is missing) - an error, not 0 rows."""


class Context:
    """What a table builder may know: the query's path constraints, its deadline and the filesystem
    root the host's files are read under ("/" on a real host; a fixture tree in conformance tests)."""

    def __init__(
        self,
        *,
        paths=None,
        directories=None,
        deadline=None,
        root="/",
        path_patterns=None,
        directory_patterns=None,
    ):
        self.paths = list(paths or [])
        self.directories = list(directories or [])
        self.path_patterns = list(path_patterns or [])
        self.directory_patterns = list(directory_patterns or [])
        self.deadline = deadline
        self.root = root or "/"

    def check_deadline(self):
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TimeoutError("query timed out while building a table")

    def host(self, path):
        """The real location of the host path `path` (absolute, as osquery would open it)."""
        if self.root == "/":
            return path
        return os.path.join(self.root, path.lstrip("/"))

    def visible(self, real):
        """The host path osquery would print for a real location under the root."""
        if self.root == "/":
            return real
        rel = os.path.relpath(real, self.root)
        return "/" if rel == "." else "/" + rel


def read_text(ctx, path):
    """osquery readFile(): the whole file, or None when it cannot be read."""
    try:
        with open(ctx.host(path), "rb") as handle:
            return handle.read().decode("utf-8", "surrogateescape")
    except OSError:
        return None


def read_bytes(ctx, path):
    try:
        with open(ctx.host(path), "rb") as handle:
            return handle.read()
    except OSError:
        return None


def c_trim(text):
    """boost::trim() in the "C" locale."""
    return text.strip(C_SPACE)


def osq_split(text, delims="\t "):
    """osquery::split(s, delims) (osquery/utils/conversions/split.cpp:16-28): split on ANY of the
    delimiter characters, drop empty pieces, then boost::trim every piece (a piece made only of other
    whitespace becomes "" and is kept)."""
    pieces, current = [], []
    for char in text:
        if char in delims:
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
    pieces.append("".join(current))
    return [c_trim(p) for p in pieces if p]


def osq_split_n(text, delim, occurrences):
    """osquery::split(s, char, n) (split.cpp:30-51): the first n pieces, then the rest re-joined."""
    pieces = osq_split(text, delim)
    if len(pieces) <= occurrences:
        return pieces
    return [*pieces[:occurrences], delim.join(pieces[occurrences:])]


def osq_split_once(text, delim):
    return osq_split_n(text, delim, 1)


def c_strtol(text, bits=64):
    """std::stol/stoll(text, &pos, 0) as osquery's tryTo<long>(value, 0) calls it
    (osquery/utils/conversions/tryto.h:62-126): leading C whitespace skipped, a sign, base 0 (0x hex,
    leading 0 octal), parsing stops at the first invalid character (pos is never checked).  None when
    no digit converts (std::invalid_argument) or the value overflows `bits` (std::out_of_range)."""
    i, n = 0, len(text)
    while i < n and text[i] in C_SPACE:
        i += 1
    sign = 1
    if i < n and text[i] in "+-":
        sign = -1 if text[i] == "-" else 1
        i += 1
    base, digits = 10, "0123456789"
    if text[i : i + 2] in ("0x", "0X") and i + 2 < n and text[i + 2] in "0123456789abcdefABCDEF":
        base, digits, i = 16, "0123456789abcdefABCDEF", i + 2
    elif text[i : i + 1] == "0":
        base, digits = 8, "01234567"
    start, value = i, 0
    while i < n and text[i] in digits:
        value = value * base + int(text[i], 16)
        i += 1
    if i == start:
        return None
    value *= sign
    if not -(1 << (bits - 1)) <= value < (1 << (bits - 1)):
        return None
    return value


def glob_files(ctx, directory):
    """osquery listFilesInDirectory(dir) (osquery/filesystem/filesystem.cpp:478-483, 364-406):
    glob(3) of dir/* with GLOB_MARK, sorted, no dot files, directories (and links to them) dropped."""
    real = ctx.host(directory.rstrip("/") or "/")
    if not os.path.isdir(real):
        return []
    found = []
    for entry in sorted(glob.glob(glob.escape(real) + "/*")):
        if not os.path.isdir(entry):
            found.append(ctx.visible(entry))
    return found


def run_tool(argv, ctx, check=True):
    """Run a system tool within the query deadline; its stdout, or TableUnavailable."""
    timeout = None
    if ctx.deadline is not None:
        timeout = max(1.0, ctx.deadline - time.monotonic())
    try:
        proc = subprocess.run(
            argv,
            check=False,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            text=True,
            errors="replace",
        )
    except subprocess.TimeoutExpired:
        raise TimeoutError("%s timed out" % argv[0]) from None
    except OSError as exc:
        raise TableUnavailable("%s cannot run: %s" % (argv[0], exc)) from None
    if check and proc.returncode != 0:
        raise TableUnavailable("%s exited %d: %s" % (argv[0], proc.returncode, proc.stderr.strip()[:300]))
    return proc.stdout


def which(name):
    found = shutil.which(name)
    if found:
        return found
    for directory in ("/usr/sbin", "/sbin", "/usr/bin", "/bin"):
        candidate = os.path.join(directory, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None
