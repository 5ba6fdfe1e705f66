# Diffy: the private temp dirs a collection leaves on a host, and how every path removes them.
# Standard library only: this runs on the target's Python 3 (imported by diffy_run_pack and
# diffy_cleanup).  Each dir is named diffy-run-<run id>-<host id>-<random> and holds an owner file with the
# collector's PID, so that
#   - the role's cleanup (always, even after a task timeout that left the collector stuck) finds the
#     dirs of ITS run without knowing their random names, kills what still runs there, removes them;
#   - the next run removes left-overs of earlier runs whose collector is gone (Ctrl-C, lost SSH) and
#     that are older than STALE_AFTER_S: a finished collector's dir legitimately waits for the
#     controller's fetch, which may be delayed by a stuck host of its own run.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import shutil
import stat
import tempfile
import time

try:
    from ansible.module_utils.diffy_proc import alive, kill_tree, start_time
except ImportError:  # the role used from the diffy.diffy collection
    try:
        from ansible_collections.diffy.diffy.plugins.module_utils.diffy_proc import (
            alive,
            kill_tree,
            start_time,
        )
    except ImportError:  # imported directly (tests)
        from diffy_proc import alive, kill_tree, start_time

PREFIX = "diffy-run-"
OWNER = ".diffy-owner"
_SAFE = re.compile(r"[^A-Za-z0-9._-]")
STALE_AFTER_S = 3600
"""A dir whose collector is gone is a left-over once older than this (longer than any fetch wait:
the role's pack timeout 900 s + fetch timeout 300 s by default)."""


def _prefix(run_id, host_id):
    # the host id too: two inventory names for one machine (or local test hosts) share its /tmp,
    # and one host's cleanup must never touch the other's collection
    return "%s%s-%s-" % (
        PREFIX,
        _SAFE.sub("_", run_id or "norun")[:80],
        _SAFE.sub("_", host_id or "host")[:80],
    )


def make_private_dir(parent, run_id, host_id=""):
    """A fresh 0700 dir for this run's results, with the owner file naming this process."""
    path = tempfile.mkdtemp(prefix=_prefix(run_id, host_id), dir=parent or None)
    fd = os.open(os.path.join(path, OWNER), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    owner = {"pid": os.getpid(), "started": start_time(os.getpid()), "run_id": run_id, "host_id": host_id}
    with os.fdopen(fd, "w") as handle:
        json.dump(owner, handle)
    return path


def _owner(path):
    try:
        with open(os.path.join(path, OWNER)) as handle:
            doc = json.load(handle)
        pid, started = int(doc.get("pid") or 0), doc.get("started")
        # a reused PID is not our collector: treat it as gone
        return (pid if pid > 1 and alive(pid, started) else 0), (doc.get("run_id"), doc.get("host_id"))
    except (IOError, OSError, ValueError, TypeError, AttributeError):
        return 0, (None, None)


def remove_private_dir(path):
    """Kill whatever still works in ``path`` (a stuck or stopped collector, an escaped query
    child), then remove it.  Returns the PIDs killed."""
    pid, _dummy = _owner(path)  # 0 when gone: then only processes holding files below path are killed
    killed = kill_tree(pid, under=path)
    shutil.rmtree(path, ignore_errors=True)
    return sorted(p for p in killed if p)


def _ours(path):
    """A real directory (never a symlink) owned by us: only those are ever touched."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()


def _age(path):
    try:
        return time.time() - os.lstat(os.path.join(path, OWNER)).st_mtime
    except OSError:
        return time.time() - os.lstat(path).st_mtime


def clean_leftovers(parent, run_id, host_id="", keep=None, stale_after=STALE_AFTER_S):
    """Remove every dir of run ``run_id`` for ``host_id`` (but ``keep``) and every dir whose
    collector is gone.  A dir whose collector still runs (another run, another host id) is left alone.
    Returns {"removed": [paths], "killed": [pids]}."""
    parent = parent or tempfile.gettempdir()
    removed, killed = [], []
    try:
        names = sorted(os.listdir(parent))
    except OSError:
        return {"removed": removed, "killed": killed}
    for name in names:
        path = os.path.join(parent, name)
        if not name.startswith(PREFIX) or path == keep or not _ours(path):
            continue
        pid, owner = _owner(path)
        mine = name.startswith(_prefix(run_id, host_id)) or owner == (run_id, host_id)
        same_run = owner[0] == run_id  # another host id of this run on the same machine: its own business
        if mine or (not same_run and not pid and _age(path) > stale_after):
            killed.extend(remove_private_dir(path))
            removed.append(path)
    return {"removed": removed, "killed": killed}
