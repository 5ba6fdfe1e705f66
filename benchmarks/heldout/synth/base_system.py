"""Configuration-like state of a clean app server: accounts, keys, sudo, cron, hosts, packages, files.

Row shapes follow osquery's own table code (e.g. crontab's ``command`` keeps the user field of
/etc/crontab lines and joins fields with single spaces; sudoers splits a line into ``header`` and
``rule_details``; suid_bin walks /bin and /usr/bin separately, so merged-/usr systems list both).
"""

from __future__ import annotations

from typing import Any

from .host import Host, Row, digest
from .packages import APP_RELEASE_DEPS, BASE_PACKAGES, BINARIES, SECURITY_UPDATES

NOLOGIN = "/usr/sbin/nologin"

USERS: list[tuple[int, int, str, str, str, str]] = [
    (0, 0, "root", "root", "/root", "/bin/bash"),
    (1, 1, "daemon", "daemon", "/usr/sbin", NOLOGIN),
    (2, 2, "bin", "bin", "/bin", NOLOGIN),
    (3, 3, "sys", "sys", "/dev", NOLOGIN),
    (4, 65534, "sync", "sync", "/bin", "/bin/sync"),
    (5, 60, "games", "games", "/usr/games", NOLOGIN),
    (6, 12, "man", "man", "/var/cache/man", NOLOGIN),
    (7, 7, "lp", "lp", "/var/spool/lpd", NOLOGIN),
    (8, 8, "mail", "mail", "/var/mail", NOLOGIN),
    (9, 9, "news", "news", "/var/spool/news", NOLOGIN),
    (10, 10, "uucp", "uucp", "/var/spool/uucp", NOLOGIN),
    (13, 13, "proxy", "proxy", "/bin", NOLOGIN),
    (33, 33, "www-data", "www-data", "/var/www", NOLOGIN),
    (34, 34, "backup", "backup", "/var/backups", NOLOGIN),
    (38, 38, "list", "Mailing List Manager", "/var/list", NOLOGIN),
    (39, 39, "irc", "ircd", "/var/run/ircd", NOLOGIN),
    (41, 41, "gnats", "Gnats Bug-Reporting System (admin)", "/var/lib/gnats", NOLOGIN),
    (65534, 65534, "nobody", "nobody", "/nonexistent", NOLOGIN),
    (100, 102, "systemd-network", "systemd Network Management,,,", "/run/systemd", NOLOGIN),
    (101, 103, "systemd-resolve", "systemd Resolver,,,", "/run/systemd", NOLOGIN),
    (102, 104, "systemd-timesync", "systemd Time Synchronization,,,", "/run/systemd", NOLOGIN),
    (103, 106, "messagebus", "", "/nonexistent", NOLOGIN),
    (104, 110, "syslog", "", "/home/syslog", NOLOGIN),
    (105, 65534, "_apt", "", "/nonexistent", NOLOGIN),
    (106, 111, "tss", "TPM software stack,,,", "/var/lib/tpm", "/bin/false"),
    (107, 112, "uuidd", "", "/run/uuidd", NOLOGIN),
    (108, 113, "tcpdump", "", "/nonexistent", NOLOGIN),
    (109, 65534, "sshd", "", "/run/sshd", NOLOGIN),
    (110, 1, "landscape", "", "/var/lib/landscape", NOLOGIN),
    (111, 1, "pollinate", "", "/var/cache/pollinate", "/bin/false"),
    (112, 65534, "ec2-instance-connect", "", "/nonexistent", NOLOGIN),
    (113, 117, "_chrony", "Chrony daemon,,,", "/var/lib/chrony", NOLOGIN),
    (997, 997, "cwagent", "", "/home/cwagent", "/bin/false"),
    (998, 100, "lxd", "", "/var/snap/lxd/common/lxd", "/bin/false"),
    (999, 999, "systemd-coredump", "systemd Core Dumper", "/", NOLOGIN),
    (1000, 1000, "ubuntu", "Ubuntu", "/home/ubuntu", "/bin/bash"),
    (1001, 1001, "appsvc", "orders-api service account", "/opt/orders-api", NOLOGIN),
]

GROUPS: list[tuple[int, str]] = [
    (0, "root"),
    (1, "daemon"),
    (2, "bin"),
    (3, "sys"),
    (4, "adm"),
    (5, "tty"),
    (6, "disk"),
    (7, "lp"),
    (8, "mail"),
    (9, "news"),
    (10, "uucp"),
    (12, "man"),
    (13, "proxy"),
    (20, "dialout"),
    (21, "fax"),
    (22, "voice"),
    (24, "cdrom"),
    (25, "floppy"),
    (26, "tape"),
    (27, "sudo"),
    (29, "audio"),
    (30, "dip"),
    (33, "www-data"),
    (34, "backup"),
    (37, "operator"),
    (38, "list"),
    (39, "irc"),
    (40, "src"),
    (41, "gnats"),
    (42, "shadow"),
    (43, "utmp"),
    (44, "video"),
    (45, "sasl"),
    (46, "plugdev"),
    (50, "staff"),
    (60, "games"),
    (100, "users"),
    (65534, "nogroup"),
    (101, "systemd-journal"),
    (102, "systemd-network"),
    (103, "systemd-resolve"),
    (104, "systemd-timesync"),
    (105, "crontab"),
    (106, "messagebus"),
    (107, "input"),
    (108, "kvm"),
    (109, "render"),
    (110, "syslog"),
    (111, "tss"),
    (112, "uuidd"),
    (113, "tcpdump"),
    (114, "ssh"),
    (115, "landscape"),
    (116, "admin"),
    (117, "_chrony"),
    (118, "netdev"),
    (119, "docker"),
    (997, "cwagent"),
    (999, "systemd-coredump"),
    (1000, "ubuntu"),
    (1001, "appsvc"),
    (998, "lxd"),
]


def user_row(u: tuple[int, int, str, str, str, str]) -> Row:
    uid, gid, name, desc, home, shell = u
    return {
        "uid": str(uid),
        "gid": str(gid),
        "username": name,
        "description": desc,
        "directory": home,
        "shell": shell,
    }


def build_accounts(host: Host, fleet: dict[str, Any]) -> None:
    host.tables["users"] = [user_row(u) for u in USERS]
    host.tables["groups"] = [{"gid": str(g), "groupname": n} for g, n in GROUPS]
    host.tables["authorized_keys"] = [
        {
            "username": "ubuntu",
            "uid": "1000",
            "algorithm": "ssh-rsa",
            "key": fleet["deploy_key"],
            "options": "",
            "comment": fleet["deploy_key_name"],
            "key_file": "/home/ubuntu/.ssh/authorized_keys",
        }
    ]


def sudo_row(source: str, header: str, rule: str) -> Row:
    return {"source": source, "header": header, "rule_details": rule}


def build_sudoers(host: Host) -> None:
    main = "/etc/sudoers"
    host.tables["sudoers"] = [
        sudo_row(main, "Defaults", "env_reset"),
        sudo_row(main, "Defaults", "mail_badpass"),
        sudo_row(
            main,
            "Defaults",
            'secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/snap/bin"',
        ),
        sudo_row(main, "root", "ALL=(ALL:ALL) ALL"),
        sudo_row(main, "%admin", "ALL=(ALL) ALL"),
        sudo_row(main, "%sudo", "ALL=(ALL:ALL) ALL"),
        sudo_row(main, "#includedir", "/etc/sudoers.d"),
        sudo_row("/etc/sudoers.d/90-cloud-init-users", "ubuntu", "ALL=(ALL) NOPASSWD:ALL"),
        sudo_row(
            "/etc/sudoers.d/orders-api",
            "appsvc",
            "ALL=(root) NOPASSWD: /usr/bin/systemctl restart orders-api",
        ),
    ]


def cron_row(path: str, sched: str, command: str) -> Row:
    parts = sched.split()
    if parts[0].startswith("@"):
        return {
            "event": parts[0],
            "minute": "",
            "hour": "",
            "day_of_month": "",
            "month": "",
            "day_of_week": "",
            "command": command,
            "path": path,
        }
    m, h, dom, mon, dow = parts
    return {
        "event": "",
        "minute": m,
        "hour": h,
        "day_of_month": dom,
        "month": mon,
        "day_of_week": dow,
        "command": command,
        "path": path,
    }


def build_crontab(host: Host) -> None:
    etc = "/etc/crontab"
    host.tables["crontab"] = [
        cron_row(etc, "17 * * * *", "root cd / && run-parts --report /etc/cron.hourly"),
        cron_row(
            etc,
            "25 6 * * *",
            "root test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )",
        ),
        cron_row(
            etc,
            "47 6 * * 7",
            "root test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.weekly )",
        ),
        cron_row(
            etc,
            "52 6 1 * *",
            "root test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.monthly )",
        ),
        cron_row(
            "/etc/cron.d/e2scrub_all",
            "30 3 * * 0",
            "root test -e /run/systemd/system || "
            "SERVICE_MODE=1 /usr/lib/x86_64-linux-gnu/e2fsprogs/e2scrub_all_cron",
        ),
        cron_row(
            "/etc/cron.d/e2scrub_all",
            "10 3 * * *",
            "root test -e /run/systemd/system || SERVICE_MODE=1 /sbin/e2scrub_all -A -r",
        ),
        cron_row(
            "/etc/cron.d/sysstat",
            "5-55/10 * * * *",
            "root command -v debian-sa1 > /dev/null && debian-sa1 1 1",
        ),
        cron_row(
            "/etc/cron.d/sysstat", "59 23 * * *", "root command -v debian-sa1 > /dev/null && debian-sa1 60 2"
        ),
        cron_row(
            "/etc/cron.d/orders-api",
            "15 2 * * *",
            "appsvc find /var/lib/orders-api/tmp -type f -mtime +2 -delete",
        ),
        cron_row(
            "/var/spool/cron/crontabs/appsvc",
            "*/5 * * * *",
            "/opt/orders-api/bin/healthcheck.sh >/dev/null 2>&1",
        ),
    ]


def build_etc_hosts(host: Host) -> None:
    # cloud-init's manage_etc_hosts writes the instance's own name on 127.0.1.1 at every boot.
    host.tables["etc_hosts"] = [
        {"address": "127.0.1.1", "hostnames": f"{host.hostname}.ec2.internal {host.hostname}"},
        {"address": "127.0.0.1", "hostnames": "localhost"},
        {"address": "::1", "hostnames": "ip6-localhost ip6-loopback"},
        {"address": "fe00::0", "hostnames": "ip6-localnet"},
        {"address": "ff00::0", "hostnames": "ip6-mcastprefix"},
        {"address": "ff02::1", "hostnames": "ip6-allnodes"},
        {"address": "ff02::2", "hostnames": "ip6-allrouters"},
        {"address": "ff02::3", "hostnames": "ip6-allhosts"},
    ]


def package_versions(host: Host) -> dict[str, tuple[str, str, str]]:
    pkgs = dict(BASE_PACKAGES)
    pkgs["orders-api"] = (f"{host.app_version}-1", "all", "")
    pkgs.update(APP_RELEASE_DEPS.get(host.app_version, {}))
    for usn in sorted(host.patched):
        for name, version in SECURITY_UPDATES.get(usn, {}).items():
            _, arch, source = pkgs[name]
            pkgs[name] = (version, arch, source)
    return pkgs


def build_packages(host: Host) -> None:
    pkgs = package_versions(host)
    host.tables["deb_packages"] = [
        {"name": n, "version": v, "arch": a, "source": s, "status": "install ok installed"}
        for n, (v, a, s) in sorted(pkgs.items())
    ]
    # osquery's rpm_packages answers with no rows on a Debian host (no rpm database).
    host.tables["rpm_packages"] = []


def build_files(host: Host) -> None:
    pkgs = {r["name"]: r["version"] for r in host.rows("deb_packages")}
    # /bin is a symlink to /usr/bin on focal, so the pack's /bin/* and /usr/bin/* paths both exist.
    wanted = [
        "/bin/bash",
        "/bin/sh",
        "/bin/ls",
        "/bin/ps",
        "/bin/login",
        "/bin/su",
        "/usr/bin/sudo",
        "/usr/bin/ssh",
        "/usr/sbin/sshd",
        "/usr/bin/passwd",
        "/usr/bin/crontab",
        "/usr/bin/find",
        "/usr/bin/top",
        "/usr/bin/ss",
        "/usr/bin/lsof",
        "/usr/bin/curl",
        "/usr/bin/wget",
        "/usr/bin/python3",
        "/usr/bin/ls",
        "/usr/bin/ps",
        "/usr/bin/bash",
        "/usr/bin/su",
        "/usr/bin/login",
    ]
    rows = []
    for path in wanted:
        real = {"/bin/sh": "/usr/bin/dash", "/usr/bin/python3": "/usr/bin/python3.8"}.get(path)
        if real:
            target = real
        elif path.startswith("/bin/"):
            target = "/usr" + path
        else:
            target = path
        pkg, size, mode = BINARIES[target]
        gid = "105" if target == "/usr/bin/crontab" else "0"
        if real:  # a symlink: file reports the link, hash reads through it
            size, mode = len(real.rsplit("/", 1)[1]), "0777"
        rows.append(
            {
                "path": path,
                "size": str(size),
                "mode": mode,
                "uid": "0",
                "gid": gid,
                "sha256": digest(pkg, pkgs[pkg], target),
            }
        )
    host.tables["system_binaries"] = rows
    host.tables["ld_preload"] = []  # /etc/ld.so.preload does not exist on a clean image


SUID = [
    ("chfn", "S"),
    ("chsh", "S"),
    ("gpasswd", "S"),
    ("mount", "S"),
    ("newgrp", "S"),
    ("passwd", "S"),
    ("su", "S"),
    ("sudo", "S"),
    ("umount", "S"),
    ("fusermount", "S"),
    ("at", "SG"),
    ("pkexec", "S"),
    ("chage", "G"),
    ("expiry", "G"),
    ("crontab", "G"),
    ("ssh-agent", "G"),
    ("wall", "G"),
    ("bsd-write", "G"),
]
SUID_GROUPS = {
    "chage": "shadow",
    "expiry": "shadow",
    "crontab": "crontab",
    "ssh-agent": "ssh",
    "wall": "tty",
    "bsd-write": "tty",
    "at": "daemon",
}


def build_suid(host: Host) -> None:
    rows = []
    for prefix in ("/bin", "/usr/bin"):
        for name, perm in SUID:
            group = SUID_GROUPS.get(name, "root")
            user = "daemon" if name == "at" else "root"
            rows.append(
                {"path": f"{prefix}/{name}", "username": user, "groupname": group, "permissions": perm}
            )
    for prefix in ("/sbin", "/usr/sbin"):
        rows.append(
            {"path": f"{prefix}/unix_chkpwd", "username": "root", "groupname": "shadow", "permissions": "G"}
        )
        rows.append(
            {
                "path": f"{prefix}/pam_extrausers_chkpwd",
                "username": "root",
                "groupname": "shadow",
                "permissions": "G",
            }
        )
    host.tables["suid_bin"] = rows


def build_os(host: Host, kernel: str) -> None:
    host.tables["os_version"] = [
        {
            "name": "Ubuntu",
            "version": "20.04.6 LTS (Focal Fossa)",
            "major": "20",
            "minor": "4",
            "patch": "0",
            "codename": "focal",
            "platform": "ubuntu",
            "arch": "x86_64",
        }
    ]
    host.tables["kernel_info"] = [
        {
            "version": kernel,
            "arguments": "BOOT_IMAGE=/boot/vmlinuz-" + kernel + " root=PARTUUID=5c3b9a02-8e5c-4c2d-"
            "b3f1-0f6a1d1e7c42 ro console=tty1 console=ttyS0 nvme_core.io_timeout="
            "4294967295 panic=-1",
            "path": "/boot/vmlinuz-" + kernel,
        }
    ]


def build_system(host: Host, fleet: dict[str, Any]) -> None:
    build_accounts(host, fleet)
    build_sudoers(host)
    build_crontab(host)
    build_etc_hosts(host)
    build_packages(host)
    build_files(host)
    build_suid(host)
    build_os(host, fleet["kernel"])
