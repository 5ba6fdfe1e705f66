# Diffy native collector: `diffy_systemd_exec`, Diffy's own table (not an osquery table: osquery's
# systemd_units reads units over D-Bus and has no column for what a unit runs), answered by this
# engine under every collector.  One row per Exec*= line of every service unit file (and drop-in)
# on disk, with the sha256 of the program it runs: a trojaned binary behind an existing, unchanged
# unit (T1543.002, T1574) shows as that unit's target hash changing.  The unit *files* are on disk
# whether or not systemd runs (lab hosts have no systemd as PID 1), so no bus is needed.
#
# Bounded: unit directories are read one level deep plus `<unit>.d/*.conf` drop-ins, at most
# MAX_ROWS rows (then one row with status `capped`); a target larger than MAX_HASH_BYTES is not
# hashed (status `too large`).  Every target is hashed once per collection.
#
# Command line syntax: systemd.service(5), "COMMAND LINES": the executable may be prefixed by any of
# "@", "-", ":", "+", "!", "!!"; the first word is the program, quoted or not.
#
# Standard library only, Python 3.6+ (runs on the TARGET host inside diffy_run_pack).
from __future__ import absolute_import, division, print_function

import hashlib
import os
import shlex

__metaclass__ = type

MAX_ROWS = 4000
MAX_HASH_BYTES = 64 * 1024 * 1024
# /lib is a link to /usr/lib on merged-/usr systems: directories are de-duplicated by real path and
# shown by the first name listed here.
UNIT_DIRS = (
    "/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system", "/lib/systemd/system", "/etc/systemd/user", "/usr/lib/systemd/user",
)  # fmt: skip
USER_UNIT_DIR = ".config/systemd/user"
DIRECTIVES = ("ExecStart", "ExecStartPre", "ExecStartPost", "ExecReload", "ExecStop", "ExecStopPost")
COLUMNS = ("unit", "directive", "target", "sha256", "status")
_PREFIX_CHARS = "@-:+!"


def program(value):
    """The program an Exec*= value runs ('' for an empty value, which resets the list)."""
    text = value.strip().lstrip(_PREFIX_CHARS)
    try:
        words = shlex.split(text)
    except ValueError:  # unbalanced quotes: systemd rejects the line, show the raw first word
        words = text.split()
    return words[0] if words else ""


def _unit_dirs(ctx):
    try:
        homes = sorted("/home/%s/%s" % (n, USER_UNIT_DIR) for n in os.listdir(ctx.host("/home")))
    except OSError:
        homes = []
    dirs = list(UNIT_DIRS)
    dirs.append("/root/" + USER_UNIT_DIR)
    dirs.extend(homes)
    return dirs


def _unit_files(ctx):
    """(shown path, real path) of every .service file and drop-in, each real directory once; an
    alias (a link to a unit file in another unit directory, which is listed there) is skipped."""
    seen = set()
    real_dirs = {os.path.realpath(ctx.host(d)) for d in UNIT_DIRS}
    for shown_dir in _unit_dirs(ctx):
        real_dir = os.path.realpath(ctx.host(shown_dir))
        if real_dir in seen or not os.path.isdir(real_dir):
            continue
        seen.add(real_dir)
        try:
            names = sorted(os.listdir(real_dir))
        except OSError:
            continue
        for name in names:
            real = os.path.join(real_dir, name)
            if os.path.islink(real) and os.path.dirname(os.path.realpath(real)) in real_dirs - {real_dir}:
                continue
            if name.endswith(".service") and os.path.isfile(real):
                yield shown_dir + "/" + name, real
            elif name.endswith(".service.d") and os.path.isdir(real):
                try:
                    drop_ins = sorted(n for n in os.listdir(real) if n.endswith(".conf"))
                except OSError:
                    continue
                for conf in drop_ins:
                    yield "%s/%s/%s" % (shown_dir, name, conf), os.path.join(real, conf)


def _exec_lines(real):
    try:
        with open(real, "rb") as handle:
            text = handle.read(1024 * 1024).decode("utf-8", "surrogateescape")
    except (IOError, OSError):
        return
    for line in text.replace("\\\n", " ").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.strip() in DIRECTIVES:
            yield key.strip(), value


def _sha256(ctx, target, cache):
    if target not in cache:
        real = ctx.host(target)
        try:
            if os.path.getsize(real) > MAX_HASH_BYTES:
                cache[target] = ("", "too large")
            else:
                digest = hashlib.sha256()
                with open(real, "rb") as handle:
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(block)
                cache[target] = (digest.hexdigest(), "")
        except (IOError, OSError):
            cache[target] = ("", "missing")
    return cache[target]


def table_diffy_systemd_exec(ctx):
    rows, cache = [], {}
    for unit, real in _unit_files(ctx):
        ctx.check_deadline()
        for directive, value in _exec_lines(real):
            target = program(value)
            if not target:
                continue
            if len(rows) >= MAX_ROWS:
                rows.append({"unit": "", "directive": "", "target": "", "sha256": "", "status": "capped"})
                return rows
            if target.startswith("/"):
                sha256, status = _sha256(ctx, target, cache)
            else:  # systemd looks a bare name up in its fixed search path; not resolved here
                sha256, status = "", "not absolute"
            rows.append(
                {"unit": unit, "directive": directive, "target": target, "sha256": sha256, "status": status}
            )
    return rows
