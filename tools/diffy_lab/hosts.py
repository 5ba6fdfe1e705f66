"""One lab host: its own /etc, /root, /home, /tmp (bind-mounted inside its mount namespace), sshd
as PID 1 of its PID namespace, "the app" (a small HTTP server), and injected attacker artifacts.

In "bind" isolation (the default) the root filesystem is shared between hosts; everything a host may
change lives in its own directory under the lab dir and is bind-mounted over the shared path inside
that host's mount namespace only. In "overlay" isolation (``diffy validate``: attack procedures run
as root inside the host) the whole root is a per-host overlay as well; see ``rootfs``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from diffy_analysis.errors import LabError
from diffy_lab import rootfs, spec
from diffy_lab.system import HOST_ENV, HOST_PYTHON, SSHD, pid_alive, run, terminate

# Shared path -> per-host directory name. /srv holds "the app"'s document root.
# The one mount that covers the lab dir itself (/run for the default /run/diffy-lab) is done last:
# after it, the per-host source directories are out of the host's view.
BIND_MOUNTS = {
    "/etc": "etc",
    "/root": "root",
    "/home": "home",
    "/tmp": "tmp",
    "/var/tmp": "var-tmp",
    "/run": "run",
}
OPTIONAL_BIND_MOUNTS = {"/srv": "srv"}

SSHD_CONFIG = """\
# Lab host: written by `diffy lab up`. Key-only root login with the lab's generated key.
# (The same on every host, like instances of one image: no host name in it.)
Port 22
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile .ssh/authorized_keys
UsePAM no
StrictModes no
UseDNS no
PidFile none
LogLevel ERROR
Subsystem sftp internal-sftp
"""

BASE_CRONTAB = """\
# /etc/crontab: system-wide crontab (lab image)
SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin

17 *\t* * *\troot\tcd / && run-parts --report /etc/cron.hourly
25 6\t* * *\troot\ttest -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )
"""
APP_CRON = "# app_x log rotation (lab image)\n30 3 * * * root /usr/bin/find /srv/app/logs -mtime +7 -delete\n"


def host_dir(lab_dir: Path, host: spec.LabHost) -> Path:
    return lab_dir / "hosts" / host.name


def prepare(lab_dir: Path, host: spec.LabHost, client_pubkey: str) -> None:
    """Create the host's private state: a copy of /etc, its sshd config and host key, root's key."""
    base = host_dir(lab_dir, host)
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True, mode=0o700)
    run(["cp", "-a", "/etc", str(base / "etc")], timeout=60)
    for name in BIND_MOUNTS.values():
        (base / name).mkdir(exist_ok=True)
    (base / "tmp").chmod(0o1777)
    (base / "var-tmp").chmod(0o1777)
    (base / "run" / "sshd").mkdir(mode=0o755)  # sshd's privilege-separation directory
    (base / "run" / "utmp").touch()  # who is logged in, per host
    etc = base / "etc"
    (etc / "hostname").write_text(host.name + "\n")
    (etc / "hosts").write_text(f"127.0.0.1\tlocalhost\n{host.address}\t{host.name}\n")
    # The lab "image": every host gets the same crontab and app cron job, like instances of one AMI.
    (etc / "crontab").write_text(BASE_CRONTAB)
    (etc / "cron.d").mkdir(exist_ok=True)
    (etc / "cron.d" / "app-logrotate").write_text(APP_CRON)
    ssh_dir = etc / "ssh"
    ssh_dir.mkdir(exist_ok=True)
    for old in ssh_dir.glob("ssh_host_*"):
        old.unlink()
    (ssh_dir / "sshd_config").write_text(SSHD_CONFIG)
    run(
        [
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            f"root@{host.name}",
            "-f",
            str(ssh_dir / "ssh_host_ed25519_key"),
        ]
    )
    root_ssh = base / "root" / ".ssh"
    root_ssh.mkdir(mode=0o700)
    (root_ssh / "authorized_keys").write_text(client_pubkey.strip() + "\n")
    (root_ssh / "authorized_keys").chmod(0o600)
    app = base / "srv" / "app"
    (app / "logs").mkdir(parents=True)
    (app / "index.html").write_text("<h1>app</h1>\n")


def start(lab_dir: Path, host: spec.LabHost) -> int:
    """Start the host's namespaces with sshd as PID 1; return the PID of the holding `unshare`."""
    base = host_dir(lab_dir, host)
    optional = [(dst, src) for dst, src in OPTIONAL_BIND_MOUNTS.items() if Path(dst).is_dir()]
    if host.isolation == "overlay":
        binds = [(dst, str(base / src)) for dst, src in [*BIND_MOUNTS.items(), *optional]]
        filesystem = rootfs.overlay_script(base, binds)
    elif host.isolation == "bind":
        filesystem = _bind_script(base, optional)
    else:
        raise LabError(f"unknown lab isolation {host.isolation!r}; known: {', '.join(rootfs.ISOLATIONS)}")
    script = " && ".join(
        [
            "set -e",
            f"hostname {host.name}",
            *filesystem,
            "cd /srv/app" if Path("/srv").is_dir() else "cd /tmp",
            f"{{ {HOST_PYTHON} -m http.server {spec.APP_PORT} >/dev/null 2>&1 & }}",
            "cd /",
            f"exec {SSHD} -D -e",
        ]
    )
    log = open(base / "host.log", "ab")  # noqa: SIM115 - handed to the child, closed below
    try:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", host.netns, "unshare", "--pid", "--fork", "--kill-child",
             "--mount", "--uts", "--mount-proc", "--propagation", "private", "/bin/sh", "-c", script],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=HOST_ENV, start_new_session=True,
        )  # fmt: skip
    finally:
        log.close()
    return proc.pid


def _bind_script(base: Path, optional: list[tuple[str, str]]) -> list[str]:
    """Mount commands of "bind" isolation: per-host directories over the shared root."""
    mounts = [f"mount --bind {base / src} {dst}" for dst, src in optional]
    covers_lab = [dst for dst in BIND_MOUNTS if base.resolve().is_relative_to(dst)]
    ordered = sorted(BIND_MOUNTS.items(), key=lambda item: item[0] in covers_lab)
    mounts += [f"mount --bind {base / src} {dst}" for dst, src in ordered]
    return [
        # Forget the controller's mounts a real machine would not have: the netns handles of
        # other lab hosts, and the sysfs `ip netns exec` mounted under this namespace's name.
        "{ umount -l /run/netns 2>/dev/null || true; }",
        "umount -l /sys",
        "mount -t sysfs sysfs /sys",
        *mounts,
        # A private devpts: pty numbers count per host, like separate machines.
        "mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts /dev/pts",
        "mount --bind /dev/pts/ptmx /dev/ptmx",
    ]


def init_pid(host: spec.LabHost) -> int | None:
    """PID (root namespace view) of the host's PID 1, the child of its `unshare`."""
    if not pid_alive(host.pid):
        return None
    try:
        children = Path(f"/proc/{host.pid}/task/{host.pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def stop(host: spec.LabHost) -> None:
    """Stop the host like a crashed instance: every process in its namespaces dies at once."""
    terminate([p for p in [host.pid, *host.extra_pids] if p])
    host.extra_pids = []


def nsenter(host: spec.LabHost, command: list[str], *, timeout: float = 15) -> str:
    target = init_pid(host)
    if target is None:
        raise LabError(f"lab host {host.name} is not running")
    return run(["nsenter", "-t", str(target), "-n", "-m", "-u", "-p", "--", *command], timeout=timeout)


def inject(lab_dir: Path, host: spec.LabHost, artifact: str, attacker_pubkey: str) -> None:
    """Plant one real attacker artifact (see ``spec.INJECTIONS``) on a running host."""
    base = host_dir(lab_dir, host)
    if artifact == "listener":
        nc = shutil.which("nc", path=HOST_ENV["PATH"])
        if nc:
            listener = f"{nc} -lk {spec.LISTENER_PORT}"
        else:
            code = (
                "import socket,time;s=socket.socket();"
                "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);"
                f"s.bind(('0.0.0.0',{spec.LISTENER_PORT}));s.listen();time.sleep(10**8)"
            )
            listener = f'{HOST_PYTHON} -c "{code}"'
        # Detached inside the host: reparented to the host's PID 1 and dies with the host.
        nsenter(host, ["/bin/sh", "-c", f"cd / && nohup {listener} </dev/null >/dev/null 2>&1 &"])
    elif artifact == "cron":
        with open(base / "etc" / "crontab", "a") as handle:
            handle.write(spec.CRON_LINE)
    elif artifact == "user":
        _add_user(base, attacker_pubkey)
    else:
        raise LabError(f"unknown artifact {artifact!r}; known: {', '.join(spec.INJECTIONS)}")
    if artifact not in host.artifacts:
        host.artifacts.append(artifact)


def _add_user(base: Path, attacker_pubkey: str) -> None:
    etc = base / "etc"
    name, uid = spec.ATTACKER_USER, 1337
    if name in (etc / "passwd").read_text():
        return
    with open(etc / "passwd", "a") as handle:
        handle.write(f"{name}:x:{uid}:{uid}:backup service:/home/{name}:/bin/bash\n")
    with open(etc / "group", "a") as handle:
        handle.write(f"{name}:x:{uid}:\n")
    with open(etc / "shadow", "a") as handle:
        handle.write(f"{name}:!:20000:0:99999:7:::\n")
    ssh_dir = base / "home" / name / ".ssh"
    ssh_dir.mkdir(parents=True, mode=0o700)
    (ssh_dir / "authorized_keys").write_text(attacker_pubkey.strip() + "\n")
    for path in (base / "home" / name, ssh_dir, ssh_dir / "authorized_keys"):
        shutil.chown(path, uid, uid)
