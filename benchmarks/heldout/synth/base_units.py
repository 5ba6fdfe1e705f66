"""systemd units, mounts, kernel modules and iptables rules of a clean app server.

systemd lists a ``.mount`` unit for every mount point, so per-container overlay mounts show up in
``systemd_units`` too; osquery's ``iptables`` emits one row per rule, copying the chain's policy
and the policy's packet/byte counters onto each rule row (user chains report "0").
"""

from __future__ import annotations

from .host import Host, Row

LIB = "/lib/systemd/system"

# (unit, description, active_state, sub_state); fragment is LIB/<unit> unless noted.
UNITS: list[tuple[str, str, str, str]] = [
    ("accounts-daemon.service", "Accounts Service", "active", "running"),
    ("amazon-cloudwatch-agent.service", "Amazon CloudWatch Agent", "active", "running"),
    ("apparmor.service", "Load AppArmor profiles", "active", "exited"),
    ("apt-daily-upgrade.service", "Daily apt upgrade and clean activities", "inactive", "dead"),
    ("apt-daily-upgrade.timer", "Daily apt upgrade and clean activities", "active", "waiting"),
    ("apt-daily.service", "Daily apt download activities", "inactive", "dead"),
    ("apt-daily.timer", "Daily apt download activities", "active", "waiting"),
    ("atd.service", "Deferred execution scheduler", "active", "running"),
    ("auditd.service", "Security Auditing Service", "active", "running"),
    ("chrony.service", "chrony, an NTP client/server", "active", "running"),
    ("cloud-config.service", "Apply the settings specified in cloud-config", "active", "exited"),
    ("cloud-final.service", "Execute cloud user/final scripts", "active", "exited"),
    ("cloud-init-local.service", "Initial cloud-init job (pre-networking)", "active", "exited"),
    ("cloud-init.service", "Initial cloud-init job (metadata service crawler)", "active", "exited"),
    ("containerd.service", "containerd container runtime", "active", "running"),
    ("cron.service", "Regular background program processing daemon", "active", "running"),
    ("dbus.service", "D-Bus System Message Bus", "active", "running"),
    ("docker.service", "Docker Application Container Engine", "active", "running"),
    ("docker.socket", "Docker Socket for the API", "active", "running"),
    ("e2scrub_all.timer", "Periodic ext4 Online Metadata Check for All Filesystems", "active", "waiting"),
    ("fstrim.service", "Discard unused blocks on filesystems from /etc/fstab", "inactive", "dead"),
    ("fstrim.timer", "Discard unused blocks once a week", "active", "waiting"),
    ("getty@tty1.service", "Getty on tty1", "active", "running"),
    ("irqbalance.service", "irqbalance daemon", "active", "running"),
    ("logrotate.service", "Rotate log files", "inactive", "dead"),
    ("logrotate.timer", "Daily rotation of log files", "active", "waiting"),
    ("man-db.service", "Daily man-db regeneration", "inactive", "dead"),
    ("man-db.timer", "Daily man-db regeneration", "active", "waiting"),
    ("motd-news.timer", "Message of the Day", "active", "waiting"),
    ("multipathd.service", "Device-Mapper Multipath Device Controller", "active", "running"),
    ("networkd-dispatcher.service", "Dispatcher daemon for systemd-networkd", "active", "running"),
    ("nginx.service", "A high performance web server and a reverse proxy server", "active", "running"),
    ("orders-api.service", "orders-api (Spring Boot)", "active", "running"),
    ("polkit.service", "Authorization Manager", "active", "running"),
    ("rsyslog.service", "System Logging Service", "active", "running"),
    ("serial-getty@ttyS0.service", "Serial Getty on ttyS0", "active", "running"),
    (
        "snap.amazon-ssm-agent.amazon-ssm-agent.service",
        "Service for snap application amazon-ssm-agent.amazon-ssm-agent",
        "active",
        "running",
    ),
    ("snapd.service", "Snap Daemon", "active", "running"),
    ("snapd.socket", "Socket activation for snappy daemon", "active", "running"),
    ("ssh.service", "OpenBSD Secure Shell server", "active", "running"),
    ("sysstat.service", "Resets System Activity Logs", "active", "exited"),
    ("systemd-journald.service", "Journal Service", "active", "running"),
    ("systemd-logind.service", "Login Service", "active", "running"),
    ("systemd-networkd.service", "Network Service", "active", "running"),
    ("systemd-resolved.service", "Network Name Resolution", "active", "running"),
    ("systemd-tmpfiles-clean.timer", "Daily Cleanup of Temporary Directories", "active", "waiting"),
    ("systemd-udevd.service", "udev Kernel Device Manager", "active", "running"),
    ("ua-timer.timer", "Ubuntu Advantage Timer for running repeated jobs", "active", "waiting"),
    ("unattended-upgrades.service", "Unattended Upgrades Shutdown", "active", "running"),
    ("user.slice", "User and Session Slice", "active", "active"),
    ("system.slice", "System Slice", "active", "active"),
    ("-.mount", "Root Mount", "active", "mounted"),
    ("boot-efi.mount", "/boot/efi", "active", "mounted"),
    ("dev-hugepages.mount", "Huge Pages File System", "active", "mounted"),
    ("dev-mqueue.mount", "POSIX Message Queue File System", "active", "mounted"),
    ("sys-kernel-debug.mount", "Kernel Debug File System", "active", "mounted"),
    ("sys-kernel-tracing.mount", "Kernel Trace File System", "active", "mounted"),
    ("snap-core20-2015.mount", "Mount unit for core20, revision 2015", "active", "mounted"),
    ("snap-snapd-20290.mount", "Mount unit for snapd, revision 20290", "active", "mounted"),
    ("snap-lxd-24061.mount", "Mount unit for lxd, revision 24061", "active", "mounted"),
    (
        f"snap-amazon\\x2dssm\\x2dagent-{'7628'}.mount",
        "Mount unit for amazon-ssm-agent, revision 7628",
        "active",
        "mounted",
    ),
]


def unit_row(
    uid: str, desc: str, active: str, sub: str, *, fragment: str | None = None, source: str = ""
) -> Row:
    if fragment is None:
        fragment = f"/etc/systemd/system/{uid}" if uid.startswith("snap") else f"{LIB}/{uid}"
        if uid.endswith((".slice",)) or uid in ("-.mount", "boot-efi.mount"):
            fragment = ""
    if uid in ("-.mount", "boot-efi.mount"):
        source = "/etc/fstab"
    return {
        "id": uid,
        "description": desc,
        "load_state": "loaded",
        "active_state": active,
        "sub_state": sub,
        "fragment_path": fragment,
        "source_path": source,
    }


def mount_unit(path: str) -> Row:
    """The transient .mount unit systemd creates for a mount it did not start itself."""
    name = path.strip("/").replace("-", "\\x2d").replace("/", "-") + ".mount"
    return unit_row(name, path, "active", "mounted", fragment="", source="/proc/self/mountinfo")


def build_units(host: Host) -> None:
    host.tables["systemd_units"] = [unit_row(*u) for u in UNITS]


def mount_row(device: str, path: str, fstype: str, flags: str) -> Row:
    return {"device": device, "path": path, "type": fstype, "flags": flags}


def build_mounts(host: Host, containers: list[dict[str, str]]) -> None:
    kib = host.mem_mib * 1024
    run_size = kib // 10  # systemd sizes /run at 10% of RAM
    rows = [
        mount_row("sysfs", "/sys", "sysfs", "rw,nosuid,nodev,noexec,relatime"),
        mount_row("proc", "/proc", "proc", "rw,nosuid,nodev,noexec,relatime"),
        mount_row(
            "udev",
            "/dev",
            "devtmpfs",
            f"rw,nosuid,noexec,relatime,size={kib // 2 - 4096}k,nr_inodes={kib // 8},mode=755",
        ),
        mount_row("devpts", "/dev/pts", "devpts", "rw,nosuid,noexec,relatime,gid=5,mode=620,ptmxmode=000"),
        mount_row("tmpfs", "/run", "tmpfs", f"rw,nosuid,nodev,noexec,relatime,size={run_size}k,mode=755"),
        mount_row("/dev/root", "/", "ext4", "rw,relatime,discard,errors=remount-ro"),
        mount_row("securityfs", "/sys/kernel/security", "securityfs", "rw,nosuid,nodev,noexec,relatime"),
        mount_row("tmpfs", "/dev/shm", "tmpfs", "rw,nosuid,nodev"),
        mount_row("tmpfs", "/run/lock", "tmpfs", "rw,nosuid,nodev,noexec,relatime,size=5120k"),
        mount_row("tmpfs", "/sys/fs/cgroup", "tmpfs", "ro,nosuid,nodev,noexec,mode=755"),
        mount_row(
            "cgroup2", "/sys/fs/cgroup/unified", "cgroup2", "rw,nosuid,nodev,noexec,relatime,nsdelegate"
        ),
        mount_row(
            "cgroup", "/sys/fs/cgroup/systemd", "cgroup", "rw,nosuid,nodev,noexec,relatime,xattr,name=systemd"
        ),
        mount_row("pstore", "/sys/fs/pstore", "pstore", "rw,nosuid,nodev,noexec,relatime"),
        mount_row("none", "/sys/fs/bpf", "bpf", "rw,nosuid,nodev,noexec,relatime,mode=700"),
    ]
    for ctl in (
        "cpu,cpuacct",
        "memory",
        "pids",
        "blkio",
        "devices",
        "freezer",
        "net_cls,net_prio",
        "cpuset",
        "perf_event",
        "hugetlb",
        "rdma",
        "misc",
    ):
        rows.append(
            mount_row("cgroup", f"/sys/fs/cgroup/{ctl}", "cgroup", f"rw,nosuid,nodev,noexec,relatime,{ctl}")
        )
    rows += [
        mount_row(
            "systemd-1",
            "/proc/sys/fs/binfmt_misc",
            "autofs",
            "rw,relatime,fd=29,pgrp=1,timeout=0,minproto=5,maxproto=5,direct,pipe_ino=15233",
        ),
        mount_row("hugetlbfs", "/dev/hugepages", "hugetlbfs", "rw,relatime,pagesize=2M"),
        mount_row("mqueue", "/dev/mqueue", "mqueue", "rw,nosuid,nodev,noexec,relatime"),
        mount_row("debugfs", "/sys/kernel/debug", "debugfs", "rw,nosuid,nodev,noexec,relatime"),
        mount_row("tracefs", "/sys/kernel/tracing", "tracefs", "rw,nosuid,nodev,noexec,relatime"),
        mount_row("fusectl", "/sys/fs/fuse/connections", "fusectl", "rw,nosuid,nodev,noexec,relatime"),
        mount_row("configfs", "/sys/kernel/config", "configfs", "rw,nosuid,nodev,noexec,relatime"),
        mount_row("/dev/loop0", "/snap/core20/2015", "squashfs", "ro,nodev,relatime"),
        mount_row("/dev/loop1", "/snap/amazon-ssm-agent/7628", "squashfs", "ro,nodev,relatime"),
        mount_row("/dev/loop2", "/snap/snapd/20290", "squashfs", "ro,nodev,relatime"),
        mount_row("/dev/loop3", "/snap/lxd/24061", "squashfs", "ro,nodev,relatime"),
        mount_row(
            "/dev/nvme0n1p15",
            "/boot/efi",
            "vfat",
            "rw,relatime,fmask=0077,dmask=0077,"
            "codepage=437,iocharset=iso8859-1,shortname=mixed,errors=remount-ro",
        ),
        mount_row(
            "binfmt_misc", "/proc/sys/fs/binfmt_misc", "binfmt_misc", "rw,nosuid,nodev,noexec,relatime"
        ),
        mount_row(
            "tmpfs", "/run/snapd/ns", "tmpfs", f"rw,nosuid,nodev,noexec,relatime,size={run_size}k,mode=755"
        ),
        mount_row("nsfs", "/run/snapd/ns/lxd.mnt", "nsfs", "rw"),
    ]
    units = host.rows("systemd_units")
    for c in containers:
        merged = f"/var/lib/docker/overlay2/{c['overlay']}/merged"
        base = f"/var/lib/docker/overlay2/{c['overlay']}"
        rows.append(
            mount_row(
                "overlay",
                merged,
                "overlay",
                f"rw,relatime,lowerdir=/var/lib/"
                f"docker/overlay2/l/{c['lower']},upperdir={base}/diff,"
                f"workdir={base}/work",
            )
        )
        shm = f"/var/lib/docker/containers/{c['id']}/mounts/shm"
        rows.append(mount_row("shm", shm, "tmpfs", "rw,nosuid,nodev,noexec,relatime,size=65536k"))
        netns = f"/run/docker/netns/{c['netns']}"
        rows.append(mount_row("nsfs", netns, "nsfs", "rw"))
        units += [mount_unit(merged), mount_unit(shm), mount_unit(netns)]
    host.tables["mounts"] = rows


# (module, size, used_by) in /proc/modules order (most recently loaded first).
MODULES: list[tuple[str, int, str]] = [
    ("veth", 32768, "-"),
    ("xt_conntrack", 16384, "-"),
    ("xt_MASQUERADE", 20480, "-"),
    ("nf_conntrack_netlink", 53248, "-"),
    ("nfnetlink", 20480, "nf_conntrack_netlink,"),
    ("xfrm_user", 45056, "-"),
    ("xfrm_algo", 16384, "xfrm_user,"),
    ("xt_addrtype", 16384, "-"),
    ("iptable_filter", 16384, "-"),
    ("iptable_nat", 16384, "-"),
    ("nf_nat", 49152, "xt_MASQUERADE,iptable_nat,"),
    ("nf_conntrack", 172032, "xt_conntrack,nf_conntrack_netlink,xt_MASQUERADE,nf_nat,"),
    ("nf_defrag_ipv6", 24576, "nf_conntrack,"),
    ("nf_defrag_ipv4", 16384, "nf_conntrack,"),
    ("libcrc32c", 16384, "nf_nat,nf_conntrack,btrfs,raid456,"),
    ("bpfilter", 16384, "-"),
    ("br_netfilter", 32768, "-"),
    ("bridge", 307200, "br_netfilter,"),
    ("stp", 16384, "bridge,"),
    ("llc", 16384, "bridge,stp,"),
    ("overlay", 151552, "-"),
    ("nls_iso8859_1", 16384, "-"),
    ("dm_multipath", 40960, "-"),
    ("scsi_dh_rdac", 20480, "-"),
    ("scsi_dh_emc", 16384, "-"),
    ("scsi_dh_alua", 20480, "-"),
    ("crct10dif_pclmul", 16384, "-"),
    ("crc32_pclmul", 16384, "-"),
    ("ghash_clmulni_intel", 16384, "-"),
    ("aesni_intel", 376832, "-"),
    ("crypto_simd", 16384, "aesni_intel,"),
    ("cryptd", 24576, "ghash_clmulni_intel,crypto_simd,"),
    ("input_leds", 16384, "-"),
    ("serio_raw", 20480, "-"),
    ("sch_fq_codel", 20480, "-"),
    ("msr", 16384, "-"),
    ("efi_pstore", 16384, "-"),
    ("ip_tables", 32768, "iptable_filter,iptable_nat,"),
    ("x_tables", 53248, "xt_conntrack,iptable_filter,xt_addrtype,ip_tables,iptable_nat,xt_MASQUERADE,"),
    ("autofs4", 49152, "-"),
    ("btrfs", 1540096, "-"),
    ("blake2b_generic", 20480, "-"),
    ("zstd_compress", 229376, "btrfs,"),
    ("raid10", 69632, "-"),
    ("raid456", 180224, "-"),
    ("async_raid6_recov", 24576, "raid456,"),
    ("async_memcpy", 20480, "raid456,"),
    ("async_pq", 24576, "raid456,"),
    ("async_xor", 20480, "raid456,async_pq,"),
    ("async_tx", 20480, "raid456,async_pq,async_memcpy,async_xor,"),
    ("xor", 24576, "btrfs,async_xor,"),
    ("raid6_pq", 122880, "btrfs,raid456,async_pq,"),
    ("raid1", 49152, "-"),
    ("raid0", 24576, "-"),
    ("multipath", 20480, "-"),
    ("linear", 20480, "-"),
    ("psmouse", 176128, "-"),
    ("ena", 139264, "-"),
]


def build_modules(host: Host) -> None:
    # KASLR randomises the module area's base at every boot; modules keep their relative layout.
    base = 0xFFFFFFFFC0000000 + host.rng.randrange(0, 0x3F00) * 0x1000
    rows, offset = [], 0
    for name, size, used_by in reversed(MODULES):
        rows.append(
            {
                "name": name,
                "size": str(size),
                "used_by": used_by,
                "status": "Live",
                "address": f"0x{base + offset:016x}",
            }
        )
        offset += (size + 0xFFF) & ~0xFFF
    host.tables["kernel_modules"] = list(reversed(rows))


def rule(
    table: str,
    chain: str,
    policy: str,
    target: str,
    *,
    proto: str = "0",
    src: tuple[str, str] = ("0.0.0.0", "0.0.0.0"),
    dst: tuple[str, str] = ("0.0.0.0", "0.0.0.0"),
    dport: str = "",
    sport: str = "",
    iniface: str = "all",
    outiface: str = "all",
    match: str = "no",
) -> Row:
    if dport and not sport:
        sport = "0:65535"
    return {
        "filter_name": table,
        "chain": chain,
        "policy": policy,
        "target": target,
        "protocol": proto,
        "src_ip": src[0],
        "src_mask": src[1],
        "dst_ip": dst[0],
        "dst_mask": dst[1],
        "src_port": sport,
        "dst_port": dport,
        "iniface": iniface,
        "outiface": outiface,
        "match": "yes" if dport or match == "yes" else "no",
        "packets": "0",
        "bytes": "0",
    }


VPC = ("10.0.0.0", "255.255.0.0")


def build_iptables(host: Host, containers: list[dict[str, str]]) -> None:
    redis_ip = containers[0]["ip"]
    f = "filter"
    rows = [
        rule(f, "INPUT", "DROP", "ACCEPT", iniface="lo"),
        rule(f, "INPUT", "DROP", "ACCEPT", match="yes"),  # -m conntrack RELATED,ESTABLISHED
        rule(f, "INPUT", "DROP", "ACCEPT", proto="6", src=VPC, dport="22:22"),
        rule(f, "INPUT", "DROP", "ACCEPT", proto="6", dport="80:80"),
        rule(f, "INPUT", "DROP", "ACCEPT", proto="6", dport="443:443"),
        rule(f, "INPUT", "DROP", "ACCEPT", proto="6", src=VPC, dport="8080:8080"),
        rule(f, "INPUT", "DROP", "ACCEPT", proto="1"),
        rule(f, "FORWARD", "DROP", "DOCKER-USER"),
        rule(f, "FORWARD", "DROP", "DOCKER-ISOLATION-STAGE-1"),
        rule(f, "FORWARD", "DROP", "ACCEPT", outiface="docker0", match="yes"),
        rule(f, "FORWARD", "DROP", "DOCKER", outiface="docker0"),
        rule(f, "FORWARD", "DROP", "ACCEPT", iniface="docker0"),
        rule(f, "FORWARD", "DROP", "ACCEPT", iniface="docker0", outiface="docker0"),
        rule(
            f,
            "DOCKER",
            "",
            "ACCEPT",
            proto="6",
            dst=(redis_ip, "255.255.255.255"),
            dport="6379:6379",
            outiface="docker0",
        ),
        rule(f, "DOCKER-ISOLATION-STAGE-1", "", "DOCKER-ISOLATION-STAGE-2", iniface="docker0"),
        rule(f, "DOCKER-ISOLATION-STAGE-1", "", "RETURN"),
        rule(f, "DOCKER-ISOLATION-STAGE-2", "", "DROP", outiface="docker0"),
        rule(f, "DOCKER-ISOLATION-STAGE-2", "", "RETURN"),
        rule(f, "DOCKER-USER", "", "RETURN"),
        rule("nat", "PREROUTING", "ACCEPT", "DOCKER", match="yes"),
        rule("nat", "OUTPUT", "ACCEPT", "DOCKER", dst=("127.0.0.0", "255.0.0.0"), match="yes"),
        rule("nat", "POSTROUTING", "ACCEPT", "MASQUERADE", src=("172.17.0.0", "255.255.0.0")),
        rule("nat", "DOCKER", "", "RETURN", iniface="docker0"),
        rule("nat", "DOCKER", "", "DNAT", proto="6", dst=("127.0.0.1", "255.255.255.255"), dport="6379:6379"),
    ]
    set_counters(host, rows)
    host.tables["iptables"] = rows


def set_counters(host: Host, rows: list[Row]) -> None:
    """Built-in chains carry their policy's live packet/byte counters on every rule row."""
    counters: dict[tuple[str, str], tuple[str, str]] = {}
    for r in rows:
        if not r["policy"]:
            continue
        key = (r["filter_name"], r["chain"])
        if key not in counters:
            pk = host.rng.randrange(0, 400_000)
            counters[key] = (str(pk), str(pk * host.rng.randrange(52, 90)))
        r["packets"], r["bytes"] = counters[key]
