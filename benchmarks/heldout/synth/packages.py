"""Installed Debian packages of the app-server image (Ubuntu 20.04 "focal" on EC2, Java app behind nginx).

Versions follow Ubuntu's real focal-updates/focal-security numbering; ``SECURITY_UPDATES`` are the
newer releases that unattended-upgrades installs on the hosts whose apt-daily-upgrade timer has fired
since the release (see noise kind ``unattended_upgrade_cohort``).
"""

from __future__ import annotations

# name -> (version, arch, source)
BASE_PACKAGES: dict[str, tuple[str, str, str]] = {
    "adduser": ("3.118ubuntu2", "all", ""),
    "amazon-cloudwatch-agent": ("1.300032.2b361-1", "amd64", ""),
    "apparmor": ("2.13.3-7ubuntu5.3", "amd64", ""),
    "apt": ("2.0.10", "amd64", ""),
    "apt-utils": ("2.0.10", "amd64", "apt"),
    "auditd": ("1:2.8.5-2ubuntu6", "amd64", "audit"),
    "base-files": ("11ubuntu5.8", "amd64", ""),
    "bash": ("5.0-6ubuntu1.2", "amd64", ""),
    "bsdutils": ("1:2.34-0.1ubuntu9.4", "amd64", "util-linux (2.34-0.1ubuntu9.4)"),
    "ca-certificates": ("20230311ubuntu0.20.04.1", "all", ""),
    "chrony": ("3.5-6ubuntu6.2", "amd64", ""),
    "cloud-guest-utils": ("0.31-7-gd99b2d76-0ubuntu1", "all", "cloud-utils"),
    "cloud-init": ("23.3.3-0ubuntu0~20.04.1", "all", ""),
    "containerd": ("1.7.2-0ubuntu1~20.04.1", "amd64", ""),
    "coreutils": ("8.30-3ubuntu2", "amd64", ""),
    "cron": ("3.0pl1-136ubuntu1", "amd64", ""),
    "curl": ("7.68.0-1ubuntu2.20", "amd64", ""),
    "dash": ("0.5.10.2-6", "amd64", ""),
    "dbus": ("1.12.16-2ubuntu2.3", "amd64", ""),
    "debconf": ("1.5.73", "all", ""),
    "docker.io": ("24.0.5-0ubuntu1~20.04.1", "amd64", ""),
    "dpkg": ("1.19.7ubuntu3.2", "amd64", ""),
    "e2fsprogs": ("1.45.5-2ubuntu1.1", "amd64", ""),
    "ec2-instance-connect": ("1.1.12+dfsg1-0ubuntu3.20.04.1", "all", ""),
    "findutils": ("4.7.0-1ubuntu1", "amd64", ""),
    "gpg": ("2.2.19-3ubuntu2.2", "amd64", "gnupg2"),
    "grep": ("3.4-1", "amd64", ""),
    "grub-efi-amd64-bin": ("2.06-2ubuntu14.4", "amd64", "grub2-unsigned"),
    "gzip": ("1.10-0ubuntu4.1", "amd64", ""),
    "iproute2": ("5.5.0-1ubuntu1", "amd64", ""),
    "iptables": ("1.8.4-3ubuntu2.1", "amd64", ""),
    "irqbalance": ("1.6.0-3ubuntu1", "amd64", ""),
    "libc6": ("2.31-0ubuntu9.14", "amd64", "glibc"),
    "libcurl4": ("7.68.0-1ubuntu2.20", "amd64", "curl"),
    "libpam-modules": ("1.3.1-5ubuntu4.7", "amd64", "pam"),
    "libssl1.1": ("1.1.1f-1ubuntu2.20", "amd64", "openssl"),
    "libsystemd0": ("245.4-4ubuntu3.23", "amd64", "systemd"),
    "linux-aws": ("5.15.0.1051.56~20.04.39", "amd64", "linux-meta-aws-5.15"),
    "linux-image-5.15.0-1051-aws": ("5.15.0-1051.56~20.04.1", "amd64", "linux-signed-aws-5.15"),
    "linux-modules-5.15.0-1051-aws": ("5.15.0-1051.56~20.04.1", "amd64", "linux-aws-5.15"),
    "login": ("1:4.8.1-1ubuntu5.20.04.5", "amd64", "shadow"),
    "logrotate": ("3.14.0-4ubuntu3", "amd64", ""),
    "lsof": ("4.93.2+dfsg-1ubuntu0.20.04.1", "amd64", ""),
    "man-db": ("2.9.1-1", "amd64", ""),
    "mount": ("2.34-0.1ubuntu9.4", "amd64", "util-linux"),
    "multipath-tools": ("0.8.3-1ubuntu2.2", "amd64", ""),
    "netplan.io": ("0.106-0ubuntu3~20.04.1", "amd64", ""),
    "networkd-dispatcher": ("2.1-2~ubuntu20.04.3", "all", ""),
    "nginx": ("1.18.0-0ubuntu1.4", "all", ""),
    "nginx-core": ("1.18.0-0ubuntu1.4", "amd64", "nginx"),
    "openjdk-17-jre-headless": ("17.0.9+9-1~20.04", "amd64", "openjdk-17"),
    "openssh-client": ("1:8.2p1-4ubuntu0.9", "amd64", "openssh"),
    "openssh-server": ("1:8.2p1-4ubuntu0.9", "amd64", "openssh"),
    "openssh-sftp-server": ("1:8.2p1-4ubuntu0.9", "amd64", "openssh"),
    "openssl": ("1.1.1f-1ubuntu2.20", "amd64", ""),
    "orders-api": ("2.4.0-1", "all", ""),
    "passwd": ("1:4.8.1-1ubuntu5.20.04.5", "amd64", "shadow"),
    "policykit-1": ("0.105-26ubuntu1.3", "amd64", ""),
    "procps": ("2:3.3.16-1ubuntu2.4", "amd64", ""),
    "python3": ("3.8.2-0ubuntu2", "amd64", "python3-defaults"),
    "python3.8": ("3.8.10-0ubuntu1~20.04.9", "amd64", ""),
    "rsyslog": ("8.2001.0-1ubuntu1.3", "amd64", ""),
    "snapd": ("2.58+20.04.1", "amd64", ""),
    "sudo": ("1.8.31-1ubuntu1.5", "amd64", ""),
    "systemd": ("245.4-4ubuntu3.23", "amd64", ""),
    "systemd-sysv": ("245.4-4ubuntu3.23", "amd64", "systemd"),
    "sysstat": ("12.2.0-2ubuntu0.3", "amd64", ""),
    "tar": ("1.30+dfsg-7ubuntu0.20.04.4", "amd64", ""),
    "tzdata": ("2023c-0ubuntu0.20.04.2", "all", ""),
    "ubuntu-advantage-tools": ("30~20.04", "amd64", ""),
    "udev": ("245.4-4ubuntu3.23", "amd64", "systemd"),
    "unattended-upgrades": ("2.3ubuntu0.3", "all", ""),
    "util-linux": ("2.34-0.1ubuntu9.4", "amd64", ""),
    "vim-tiny": ("2:8.1.2269-1ubuntu5.21", "amd64", "vim"),
    "wget": ("1.20.3-1ubuntu2", "amd64", ""),
}

# Newer security releases, grouped the way Ubuntu publishes them (one USN updates several binaries).
SECURITY_UPDATES: dict[str, dict[str, str]] = {
    "usn-openssl": {"openssl": "1.1.1f-1ubuntu2.21", "libssl1.1": "1.1.1f-1ubuntu2.21"},
    "usn-curl": {"curl": "7.68.0-1ubuntu2.21", "libcurl4": "7.68.0-1ubuntu2.21"},
    "usn-openssh": {
        "openssh-client": "1:8.2p1-4ubuntu0.10",
        "openssh-server": "1:8.2p1-4ubuntu0.10",
        "openssh-sftp-server": "1:8.2p1-4ubuntu0.10",
    },
    "usn-sudo": {"sudo": "1.8.31-1ubuntu1.6"},
    "tzdata": {"tzdata": "2024a-0ubuntu0.20.04"},
}

# A kernel security update installs a new kernel side by side; it runs only after a reboot.
KERNEL_UPDATE: dict[str, tuple[str, str, str]] = {
    "linux-image-5.15.0-1052-aws": ("5.15.0-1052.57~20.04.1", "amd64", "linux-signed-aws-5.15"),
    "linux-modules-5.15.0-1052-aws": ("5.15.0-1052.57~20.04.1", "amd64", "linux-aws-5.15"),
}
KERNEL_META_UPDATE = ("linux-aws", "5.15.0.1052.57~20.04.40")

# Extra packages a newer app release depends on (rolling-deploy population difference).
APP_RELEASE_DEPS: dict[str, dict[str, tuple[str, str, str]]] = {
    "2.5.0": {"libjemalloc2": ("5.2.1-1ubuntu1", "amd64", "jemalloc")},
    "2.6.0-rc1": {"libjemalloc2": ("5.2.1-1ubuntu1", "amd64", "jemalloc")},
}

# Binaries the pack hashes -> (owning package, size in bytes, mode, symlink?)
BINARIES: dict[str, tuple[str, int, str]] = {
    "/usr/bin/bash": ("bash", 1183448, "0755"),
    "/usr/bin/dash": ("dash", 129816, "0755"),
    "/usr/bin/ls": ("coreutils", 142144, "0755"),
    "/usr/bin/ps": ("procps", 137688, "0755"),
    "/usr/bin/login": ("login", 53040, "0755"),
    "/usr/bin/su": ("util-linux", 55528, "4755"),
    "/usr/bin/sudo": ("sudo", 166056, "4755"),
    "/usr/bin/ssh": ("openssh-client", 789840, "0755"),
    "/usr/sbin/sshd": ("openssh-server", 888904, "0755"),
    "/usr/bin/passwd": ("passwd", 68208, "4755"),
    "/usr/bin/crontab": ("cron", 43720, "2755"),
    "/usr/bin/find": ("findutils", 320160, "0755"),
    "/usr/bin/top": ("procps", 129072, "0755"),
    "/usr/bin/ss": ("iproute2", 195504, "0755"),
    "/usr/bin/lsof": ("lsof", 167864, "0755"),
    "/usr/bin/curl": ("curl", 239848, "0755"),
    "/usr/bin/wget": ("wget", 502944, "0755"),
    "/usr/bin/python3.8": ("python3.8", 5490488, "0755"),
}
