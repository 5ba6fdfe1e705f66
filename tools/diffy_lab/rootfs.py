"""Full filesystem isolation for a lab host: an overlay over the machine's whole root, then
``pivot_root`` into it, inside the host's own mount namespace.

Why: attack procedures (Atomic Red Team tests run by ``diffy validate``) write as root wherever they
like: /usr/local/bin, /var/spool/cron, /opt, /lib/systemd/system, /dev/shm... The per-host bind
mounts of ``hosts.BIND_MOUNTS`` only cover /etc, /root, /home, /tmp, /var/tmp and /run; every other
path is the machine's own. In "overlay" isolation, the host's root is an overlayfs whose lower layer is
the machine's root (read-only through the overlay) and whose upper layer lives on a tmpfs mounted in
the host's mount namespace only, so it disappears with the host. /dev is a fresh tmpfs holding bind
mounts of a few harmless device nodes, with its own /dev/shm and /dev/pts; /proc and /sys are fresh.
After ``pivot_root`` the old root is detached: nothing inside the host can reach the machine's files
except through the read-only lower layer.

The per-host directories of ``hosts.BIND_MOUNTS`` (the host's /etc copy, /root, /home ...) are still
bind-mounted on top, so the rest of the lab (inject, ``Lab.host_dir``) works the same in both modes.
The upper layer is readable from outside at ``/proc/<host PID 1>/root/...`` (see ``upper_view``).
"""

from __future__ import annotations

import shlex
from pathlib import Path

ISOLATIONS = ("bind", "overlay")
# Device nodes a Linux userland expects; bind-mounted from the machine's /dev (they hold no state).
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
             "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"}  # fmt: skip
# Cap on what one host may write outside its bind-mounted directories (tmpfs: memory, not disk).
UPPER_SIZE = "1g"
SHM_SIZE = "256m"
FS_DIR = "fs"  # under the host dir; the mount point of the per-host tmpfs (empty from outside)
OLD_ROOT = ".diffy-oldroot"


def overlay_script(base: Path, binds: list[tuple[str, str]]) -> list[str]:
    """Shell commands (run as PID 1 of the host's new PID and mount namespaces, propagation private)
    that build the isolated root and pivot into it. ``binds`` are (path in host, per-host source)."""
    fs = base / FS_DIR
    merged = fs / "merged"
    q = shlex.quote
    cmds = [
        f"mkdir -p {q(str(fs))}",
        f"mount -t tmpfs -o size={UPPER_SIZE},mode=0700 diffy-host-fs {q(str(fs))}",
        f"mkdir {q(str(fs / 'upper'))} {q(str(fs / 'work'))} {q(str(merged))}",
        f"mount -t overlay diffy-host-root -o lowerdir=/,upperdir={q(str(fs / 'upper'))},"
        f"workdir={q(str(fs / 'work'))} {q(str(merged))}",
    ]
    for dst, src in binds:
        cmds += [f"mkdir -p {q(str(merged) + dst)}", f"mount --bind {q(src)} {q(str(merged) + dst)}"]
    dev = f"{merged}/dev"
    cmds.append(f"mount -t tmpfs -o mode=0755,size=1m diffy-host-dev {q(dev)}")
    for node in DEVICES:
        cmds += [f"touch {q(dev + '/' + node)}", f"mount --bind /dev/{node} {q(dev + '/' + node)}"]
    cmds += [
        f"mkdir {q(dev + '/pts')} {q(dev + '/shm')}",
        f"mount -t tmpfs -o mode=1777,size={SHM_SIZE} diffy-host-shm {q(dev + '/shm')}",
        # A private devpts: pty numbers count per host, like separate machines.
        f"mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts {q(dev + '/pts')}",
        *[f"ln -s {target} {q(dev + '/' + name)}" for name, target in DEV_LINKS.items()],
        f"mount -t proc proc {q(str(merged) + '/proc')}",
        f"mount -t sysfs sysfs {q(str(merged) + '/sys')}",
        f"cd {q(str(merged))}",
        f"mkdir {OLD_ROOT}",
        f"pivot_root . {OLD_ROOT}",
        "cd /",
        # Detach the machine's root: from here the host sees only its overlay.
        f"umount -l /{OLD_ROOT}",
        f"rmdir /{OLD_ROOT}",
    ]
    return cmds


def upper_view(init_pid: int, path: str) -> Path:
    """A path as the host sees it, reachable from outside while the host runs."""
    return Path(f"/proc/{init_pid}/root") / path.lstrip("/")
