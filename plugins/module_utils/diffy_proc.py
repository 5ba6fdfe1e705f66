# Diffy: find and kill a query's whole process tree on the host, without cgroups.
# Standard library only: this runs on the target's Python 3 (imported by diffy_run_pack and
# diffy_cleanup).  A query runs as the leader of its own session; a child that escapes the session
# with setsid() is still found by the descendant walks taken while the query ran, or because it
# holds one of the query's output files open.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import os
import signal


def _stat_fields(pid):
    """Fields of /proc/PID/stat after "(comm)" (state ppid pgrp session ...), or None."""
    try:
        with open("/proc/%s/stat" % pid, "rb") as handle:
            stat = handle.read().decode("ascii", "replace")
    except (IOError, OSError):
        return None
    return stat[stat.rfind(")") + 2 :].split()  # comm may hold spaces and ')'


def _pids():
    return [int(e) for e in os.listdir("/proc") if e.isdigit()]


def session_members(sid):
    """PIDs of every process in session ``sid`` (read from /proc: no cgroup needed)."""
    pids = []
    for pid in _pids():
        fields = _stat_fields(pid)
        if fields and len(fields) > 3 and fields[3] == str(sid):
            pids.append(pid)
    return pids


def descendants(root):
    """PIDs of every live descendant of ``root`` (children that re-parented to init are lost, which
    is why the query also runs in its own session: see kill_tree)."""
    children = {}
    for pid in _pids():
        fields = _stat_fields(pid)
        if fields and len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(pid)
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def holders(paths, under=None):
    """PIDs of processes holding one of ``paths`` (or anything below directory ``under``) open."""
    wanted = {os.path.realpath(p) for p in paths}
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        fd_dir = "/proc/%s/fd" % entry
        try:
            links = [os.readlink(os.path.join(fd_dir, fd)) for fd in os.listdir(fd_dir)]
        except (IOError, OSError):
            continue
        if wanted.intersection(links) or (under and any(link.startswith(under + "/") for link in links)):
            pids.append(int(entry))
    return pids


def _ancestors():
    """This process and every ancestor: never a kill target."""
    found, pid = set(), os.getpid()
    while pid > 1 and pid not in found:
        found.add(pid)
        fields = _stat_fields(pid)
        pid = int(fields[1]) if fields and len(fields) > 1 else 0
    return found


def kill_tree(leader, known=(), files=(), under=None):
    """SIGKILL the query's whole process tree: its session (start_new_session made the query the
    leader of session ``leader``), every descendant still under it, ``known`` PIDs seen earlier and
    any process holding one of the query's output ``files`` (or a file below ``under``).  A child
    that escaped with setsid() left the session; the descendant walks done while the query ran
    (``known``) or the output file it inherited still name it.  SIGKILL also ends SIGSTOPped
    processes.  ``leader`` 0 means none (only ``known`` and the file holders).  PIDs 0 and 1, this
    process and its ancestors are never targets: a walk from PID 0 or 1 would name every process."""
    targets = set(known)
    if leader > 1:
        targets |= set(session_members(leader)) | set(descendants(leader)) | {leader}
    if files or under:
        targets |= set(holders(files, under))
    targets = {p for p in targets if p > 1} - _ancestors()
    for pid in targets:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return targets


def exited(pid):
    """True once child ``pid`` has exited, WITHOUT reaping it: its PID (and so its session and
    its children's parent link) cannot be reused while we kill the rest of its tree."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def start_time(pid):
    """The process's start time (clock ticks since boot), or None: with the PID it names one
    process for good (a PID alone can be reused)."""
    fields = _stat_fields(pid)
    return fields[19] if fields and len(fields) > 19 else None


def alive(pid, started=None):
    """True if ``pid`` exists (a zombie does not count) and, given ``started``, is that process."""
    fields = _stat_fields(pid)
    if not fields or fields[0] == "Z":
        return False
    return started is None or (len(fields) > 19 and fields[19] == started)
