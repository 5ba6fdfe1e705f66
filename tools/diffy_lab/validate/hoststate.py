"""What a lab host holds that an atomic test could leave behind, measured by the lab itself (not by
Diffy's pack): whether a test left any **durable change** at all.

Issue 13's denominator is "the tests that leave durable state". Which tests those are is not read
from their commands (that would be our own reading deciding what counts): each host's state is
snapshotted before the test's prerequisites and after its command, and compared. A test whose host
ends as it began, apart from what the batch's clean hosts also changed in the same minutes, left
nothing any differencing engine could see; ``coverage`` then counts it as not exercised, with that
reason, instead of as a miss.

The state is: every file, directory and link under ``ROOTS`` as seen inside the host (type, mode,
owner, size, the mtime of non-directories, the link target; not contents: a rewrite changes the
mtime), the command lines of the host's processes (a daemon left running), its firewall rules, its
mounts and its hostname. Directory mtimes are left out on purpose: a test that creates a file and
removes it again leaves only those. Places outside ``ROOTS`` (documentation, headers, the machine's
/work beyond the atomics checkout) are not looked at; a change there counts as none, so a test
detected with no durable change recorded is a gap here, and the summary counts those.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# Inside the host; /usr/share and /usr/include (docs, locales, headers: ~60k entries) are left out
# for speed, /proc, /sys and the rest of /dev are the kernel's.
ROOTS = ("/etc", "/root", "/home", "/tmp", "/var", "/run", "/srv", "/opt", "/mnt", "/media", "/boot",
         "/dev/shm", "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib64", "/usr/libexec", "/usr/local",
         "/usr/games", "/usr/src")  # fmt: skip
# Bound on one snapshot: a test that fills a tree with millions of files still ends in bounded time.
MAX_ENTRIES = 400_000
SAMPLE = 12


@dataclass
class Snapshot:
    files: dict[str, int] = field(default_factory=dict)
    """Path inside the host -> hash of its (type, mode, uid, gid, size, mtime, link target)."""
    processes: Counter = field(default_factory=Counter)
    """Command lines of the host's processes (kernel threads have none)."""
    other: dict[str, str] = field(default_factory=dict)
    """"firewall", "mounts", "hostname": their text."""
    truncated: bool = False
    """MAX_ENTRIES was reached: the snapshot is partial, so no "no change" may be concluded from it."""


def _fingerprint(st: os.stat_result, path: str) -> int:
    """``st``: the lstat of ``path``. A directory's size and mtime are left out (see the module)."""
    kind = stat.S_IFMT(st.st_mode)
    target = str(Path(path).readlink()) if kind == stat.S_IFLNK else ""
    mtime = 0 if kind == stat.S_IFDIR else st.st_mtime_ns
    size = 0 if kind == stat.S_IFDIR else st.st_size
    return hash((st.st_mode, st.st_uid, st.st_gid, size, mtime, target))


def walk_files(
    top: Path, roots: Iterable[str], extra: Iterable[str] = (), limit: int = MAX_ENTRIES
) -> tuple[dict[str, int], bool]:
    """Fingerprints of everything under ``roots`` (paths inside the host) below ``top`` (the host's
    root as seen from outside); ``extra``: more roots (the atomics checkout). Symlinks are not
    followed. Returns (fingerprints, truncated)."""
    out: dict[str, int] = {}
    stack = [r.rstrip("/") or "/" for r in (*roots, *extra)]
    prefix = str(top).rstrip("/")
    for root in list(stack):  # the roots themselves: a `chmod 777 /tmp` is a change too
        try:
            st = os.lstat(prefix + root)
        except OSError:
            continue
        if stat.S_ISLNK(st.st_mode):
            # Never walked: an absolute link under /proc/<pid>/root resolves against the machine's
            # root, not the host's (a /tmp replaced by a link to / would walk the machine).
            stack.remove(root)
        try:
            out[root] = _fingerprint(st, prefix + root)
        except OSError:
            out[root] = -1
    while stack:
        inside = stack.pop()
        outside = prefix + inside
        try:
            with os.scandir(outside) as entries:
                for entry in entries:
                    if len(out) >= limit:
                        return out, True
                    rel = f"{inside}/{entry.name}"
                    try:
                        out[rel] = _fingerprint(entry.stat(follow_symlinks=False), entry.path)
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(rel)
                    except OSError:
                        out[rel] = -1  # vanished or unreadable between listing and stat
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError:
            out[inside] = -2  # an unreadable directory is state too
    return out, False


def _processes(top: Path) -> Counter:
    """The host's own /proc (a fresh proc mount of its PID namespace), read from outside."""
    found: Counter = Counter()
    proc = top / "proc"
    try:
        pids = [p.name for p in proc.iterdir() if p.name.isdigit()]
    except OSError:
        return found
    for pid in pids:
        try:
            cmdline = (proc / pid / "cmdline").read_bytes()
        except OSError:
            continue
        if cmdline:
            found[cmdline.replace(b"\0", b" ").strip().decode(errors="replace")] += 1
    return found


def _in_netns(init_pid: int, argv: list[str]) -> str:
    """A firewall listing of the host's network namespace ('' when the tool is absent)."""
    try:
        proc = subprocess.run(["nsenter", "-t", str(init_pid), "-n", "--", *argv], capture_output=True,
                              text=True, timeout=20, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return f"[{argv[0]} failed]"
    # iptables-save's "# Generated ... on <date>" lines change every time
    return "\n".join(line for line in proc.stdout.splitlines() if not line.startswith("#"))


def _mounts(init_pid: int) -> str:
    """Mount points, types, sources and options (not mount ids, which differ between reads)."""
    try:
        lines = Path(f"/proc/{init_pid}/mountinfo").read_text().splitlines()
    except OSError:
        return "[unreadable]"
    out = []
    for line in lines:
        fields = line.split()
        if " - " in line and len(fields) > 5:
            tail = line.split(" - ", 1)[1]
            out.append(f"{fields[4]} {fields[5]} {tail}")
    return "\n".join(sorted(out))


def snapshot(init_pid: int, extra_roots: Iterable[str] = ()) -> Snapshot:
    """The state of the host whose PID 1 is ``init_pid`` (root namespace PID)."""
    top = Path(f"/proc/{init_pid}/root")
    files, truncated = walk_files(top, ROOTS, extra_roots)
    try:
        hostname = (top / "proc/sys/kernel/hostname").read_text().strip()
    except OSError:
        hostname = "[unreadable]"
    firewall = [_in_netns(init_pid, argv) for argv in (["iptables-save"], ["nft", "list", "ruleset"])]
    other = {
        "firewall": "\n".join(firewall),
        "mounts": _mounts(init_pid),
        "hostname": hostname,
    }
    return Snapshot(files, _processes(top), other, truncated)


def changes(before: Snapshot, after: Snapshot) -> set[str]:
    """What differs: file paths (added, removed or changed), "process: <cmdline>" for a process
    started or ended, "firewall" / "mounts" / "hostname"."""
    out = {p for p in before.files.keys() | after.files.keys() if before.files.get(p) != after.files.get(p)}
    moved = (before.processes - after.processes) + (after.processes - before.processes)
    out |= {f"process: {c}" for c in moved}
    out |= {k for k in before.other.keys() | after.other.keys() if before.other.get(k) != after.other.get(k)}
    return out


@dataclass(frozen=True)
class Durable:
    """A test host's durable changes: its own changes minus what the clean hosts also changed."""

    count: int | None
    """None: not measured (a snapshot failed or was truncated), so nothing may be concluded."""
    sample: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"durable_changes": self.count, "durable_sample": list(self.sample)}


def durable(mine: set[str] | None, ambient: set[str]) -> Durable:
    if mine is None:
        return Durable(None)
    left = sorted(mine - ambient)
    return Durable(len(left), tuple(left[:SAMPLE]))
