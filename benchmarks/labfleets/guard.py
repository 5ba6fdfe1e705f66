"""Proof that building a fleet leaves the machine itself untouched: hash the machine's own copies of
the files the attack procedures write inside the lab hosts, before and after."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

WATCHED = (
    "/etc/passwd",
    "/etc/shadow",
    "/etc/group",
    "/etc/crontab",
    "/etc/cron.d",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/ld.so.preload",
    "/etc/systemd/system",
    "/root/.ssh",
    "/var/log/wtmp",
    "/var/log/lastlog",
    "/srv",
)


def snapshot(paths: tuple[str, ...] = WATCHED) -> dict[str, str]:
    """path -> sha256 of (mode, content or link target) for every file under each watched path;
    a missing path is recorded as missing."""
    out: dict[str, str] = {}
    for top in paths:
        root = Path(top)
        if not root.exists() and not root.is_symlink():
            out[top] = "missing"
            continue
        items = [root] if not root.is_dir() or root.is_symlink() else sorted(root.rglob("*"))
        for item in items:
            digest = hashlib.sha256()
            info = os.lstat(item)
            digest.update(f"{info.st_mode:o}".encode())
            if item.is_symlink():
                digest.update(str(item.readlink()).encode())
            elif item.is_file():
                digest.update(item.read_bytes())
            out[str(item)] = digest.hexdigest()
    return out


def changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
