"""Runtime state of a clean app server: kernel threads, services, sockets, units, mounts, modules.

Names, arguments and table semantics follow osquery's table code: ``name`` is the 15-character
``comm``, kernel threads have no path (``on_disk`` -1), a process whose /proc/N/exe is not on the
host's filesystem (every container process) has ``on_disk`` 0, a listening socket inherited by
several processes (nginx workers) is listed once per process.
"""

from __future__ import annotations

from typing import Any

from .host import Host, Proc, Row, hexid

JAVA = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java"
SSM_REV = "7628"


def kernel_threads(host: Host) -> None:
    rng = host.rng
    host.add_process("kthreadd", "", "", parent=0, pid=2, started=0, threads=1)
    host._next_pid = 2

    def kt(name: str, state: str = "I") -> None:
        host.add_process(name, "", "", parent=2, state=state, started=0, pid=host.alloc_pid())

    for name in (
        "rcu_gp",
        "rcu_par_gp",
        "slub_flushwq",
        "netns",
        "mm_percpu_wq",
        "rcu_tasks_rude_",
        "rcu_tasks_trace",
    ):
        kt(name)
    for cpu in range(host.vcpus):
        kt(f"ksoftirqd/{cpu}", "S")
        if cpu == 0:
            kt("rcu_sched")
        kt(f"migration/{cpu}", "S")
        kt(f"idle_inject/{cpu}", "S")
        kt(f"cpuhp/{cpu}", "S")
        kt(f"kworker/{cpu}:0H-events_highpri")
    for name in (
        "kdevtmpfs",
        "inet_frag_wq",
        "kauditd",
        "khungtaskd",
        "oom_reaper",
        "writeback",
        "kcompactd0",
        "ksmd",
        "khugepaged",
        "kintegrityd",
        "kblockd",
        "blkcg_punt_bio",
        "tpm_dev_wq",
        "ata_sff",
        "md",
        "edac-poller",
        "devfreq_wq",
        "watchdogd",
        "kswapd0",
        "ecryptfs-kthrea",
        "kthrotld",
        "nvme-wq",
        "nvme-reset-wq",
        "nvme-delete-wq",
        "ena",
        "kaluad",
        "kmpath_rdacd",
        "kmpathd",
        "kmpath_handlerd",
        "jbd2/nvme0n1p1-8",
        "ext4-rsv-conver",
        "cryptd",
    ):
        kt(
            name,
            "S"
            if name
            in (
                "kdevtmpfs",
                "kauditd",
                "khungtaskd",
                "oom_reaper",
                "kswapd0",
                "ksmd",
                "khugepaged",
                "kcompactd0",
                "jbd2/nvme0n1p1-8",
            )
            else "I",
        )
    for loop in range(4):
        kt(f"loop{loop}", "S")
    host.alloc_pid(rng.randrange(200, 400))


def services(host: Host, fleet: dict[str, Any]) -> dict[str, Proc]:
    """Long-running daemons started at boot, in the order systemd starts them."""
    rng = host.rng
    p: dict[str, Proc] = {}
    host.add_process(
        "systemd", "/usr/lib/systemd/systemd", "/sbin/init", parent=0, pid=1, started=0, rss_kib=(9000, 13000)
    )
    add = host.add_process
    p["journald"] = add(
        "systemd-journald",
        "/usr/lib/systemd/systemd-journald",
        "/lib/systemd/systemd-journald",
        started=2,
        rss_kib=(20000, 90000),
    )
    p["udevd"] = add(
        "systemd-udevd", "/usr/lib/systemd/systemd-udevd", "/lib/systemd/systemd-udevd", started=2
    )
    p["multipathd"] = add(
        "multipathd", "/usr/sbin/multipathd", "/sbin/multipathd -d -s", started=3, threads=7, state="S"
    )
    p["networkd"] = add(
        "systemd-networkd",
        "/usr/lib/systemd/systemd-networkd",
        "/lib/systemd/systemd-networkd",
        uid=100,
        gid=102,
        started=4,
    )
    p["resolved"] = add(
        "systemd-resolved",
        "/usr/lib/systemd/systemd-resolved",
        "/lib/systemd/systemd-resolved",
        uid=101,
        gid=103,
        started=4,
    )
    p["chronyd"] = add("chronyd", "/usr/sbin/chronyd", "/usr/sbin/chronyd -F 1", uid=113, gid=117, started=6)
    p["accounts"] = add(
        "accounts-daemon",
        "/usr/lib/accountsservice/accounts-daemon",
        "/usr/lib/accountsservice/accounts-daemon",
        started=7,
        threads=3,
    )
    p["dbus"] = add(
        "dbus-daemon",
        "/usr/bin/dbus-daemon",
        "@dbus-daemon --system --address=systemd: --nofork --nopidfile --systemd-activation --syslog-only",
        uid=103,
        gid=106,
        started=7,
    )
    p["dispatcher"] = add(
        "networkd-dispat",
        "/usr/bin/python3.8",
        "/usr/bin/python3 /usr/bin/networkd-dispatcher --run-startup-triggers",
        started=7,
    )
    p["rsyslogd"] = add(
        "rsyslogd",
        "/usr/sbin/rsyslogd",
        "/usr/sbin/rsyslogd -n -iNONE",
        uid=104,
        gid=110,
        started=7,
        threads=4,
    )
    p["snapd"] = add(
        "snapd",
        "/usr/lib/snapd/snapd",
        "/usr/lib/snapd/snapd",
        started=7,
        threads=(10, 16),
        rss_kib=(25000, 45000),
    )
    p["logind"] = add(
        "systemd-logind", "/usr/lib/systemd/systemd-logind", "/lib/systemd/systemd-logind", started=7
    )
    p["auditd"] = add("auditd", "/usr/sbin/auditd", "/sbin/auditd", started=6, threads=3)
    p["atd"] = add("atd", "/usr/sbin/atd", "/usr/sbin/atd -f", uid=1, gid=1, started=7)
    p["cron"] = add("cron", "/usr/sbin/cron", "/usr/sbin/cron -f", started=7)
    p["irqbalance"] = add(
        "irqbalance", "/usr/sbin/irqbalance", "/usr/sbin/irqbalance --foreground", started=7, threads=2
    )
    p["agetty_s0"] = add(
        "agetty",
        "/usr/sbin/agetty",
        "/sbin/agetty -o -p -- \\u --keep-baud 115200,38400,9600 ttyS0 vt220",
        started=9,
    )
    p["agetty_tty1"] = add(
        "agetty", "/usr/sbin/agetty", "/sbin/agetty -o -p -- \\u --noclear tty1 linux", started=9
    )
    p["uu_shutdown"] = add(
        "unattended-upgr",
        "/usr/bin/python3.8",
        "/usr/bin/python3 /usr/share/unattended-upgrades/unattended-upgrade-shutdown --wait-for-signal",
        started=9,
        threads=2,
    )
    p["polkitd"] = add(
        "polkitd",
        "/usr/lib/policykit-1/polkitd",
        "/usr/lib/policykit-1/polkitd --no-debug",
        started=9,
        threads=3,
    )
    p["sshd"] = add(
        "sshd", "/usr/sbin/sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups", started=9
    )
    ssm = f"/snap/amazon-ssm-agent/{SSM_REV}"
    p["ssm"] = add(
        "amazon-ssm-agent",
        f"{ssm}/amazon-ssm-agent",
        f"{ssm}/amazon-ssm-agent",
        started=10,
        threads=(7, 10),
        rss_kib=(18000, 30000),
    )
    p["ssm_worker"] = add(
        "ssm-agent-worker",
        f"{ssm}/ssm-agent-worker",
        f"{ssm}/ssm-agent-worker",
        parent=p["ssm"].pid,
        started=11,
        threads=(9, 13),
        rss_kib=(30000, 50000),
    )
    cw = "/opt/aws/amazon-cloudwatch-agent"
    p["cwagent"] = add(
        "amazon-cloudwatch-agent",
        f"{cw}/bin/amazon-cloudwatch-agent",
        f"{cw}/bin/amazon-cloudwatch-agent -config {cw}/etc/amazon-cloudwatch-"
        f"agent.toml -envconfig {cw}/etc/env-config.json -otelconfig {cw}/etc/"
        f"amazon-cloudwatch-agent.yaml -pidfile {cw}/var/amazon-cloudwatch-agent"
        ".pid",
        started=12,
        threads=(9, 14),
        rss_kib=(60000, 110000),
    )
    p["containerd"] = add(
        "containerd",
        "/usr/bin/containerd",
        "/usr/bin/containerd",
        started=10,
        threads=(10, 16),
        rss_kib=(35000, 50000),
    )
    p["dockerd"] = add(
        "dockerd",
        "/usr/bin/dockerd",
        "/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock",
        started=12,
        threads=(12, 20),
        rss_kib=(70000, 110000),
    )
    p["nginx"] = add(
        "nginx",
        "/usr/sbin/nginx",
        "nginx: master process /usr/sbin/nginx -g daemon on; master_process on;",
        started=12,
    )
    p["nginx_workers"] = [  # type: ignore[assignment]
        add(
            "nginx",
            "/usr/sbin/nginx",
            "nginx: worker process",
            parent=p["nginx"].pid,
            uid=33,
            gid=33,
            started=12,
        )
        for _ in range(host.vcpus)
    ]
    p["java"] = java_process(host, fleet)
    host.alloc_pid(rng.randrange(300, 3000))
    return p


def java_process(host: Host, fleet: dict[str, Any]) -> Proc:
    version = host.app_version
    args = [
        JAVA,
        "-XX:MaxRAMPercentage=75.0",
        "-XX:+UseG1GC",
        "-XX:+ExitOnOutOfMemoryError",
        "-Dcom.sun.management.jmxremote",
        "-Dcom.sun.management.jmxremote.port=9010",
        "-Dcom.sun.management.jmxremote.authenticate=false",
        "-Dcom.sun.management.jmxremote.ssl=false",
        f"-Djava.rmi.server.hostname={host.ipv4}",
        "-Dspring.profiles.active=prod",
    ]
    if host.canary:
        args += ["-javaagent:/opt/otel/opentelemetry-javaagent.jar", "-Dotel.service.name=orders-api-canary"]
    args += ["-jar", f"/opt/orders-api/releases/{version}/orders-api-{version}.jar"]
    # G1 sizes its parallel GC and compiler thread pools from the CPU count.
    base = 38 + 3 * host.vcpus
    return host.add_process(
        "java",
        JAVA,
        " ".join(args),
        uid=1001,
        gid=1001,
        cwd="/opt/orders-api",
        started=host.rng.randrange(20, 40),
        threads=(base, base + 25),
        rss_kib=(900_000, 2_400_000),
        cpu_ms=(400_000, 9_000_000),
    )


def containers(host: Host, fleet: dict[str, Any], p: dict[str, Proc]) -> list[dict[str, str]]:
    """Two sidecar containers (a local redis cache and the fluent-bit log shipper)."""
    rng = host.rng
    out = []
    ips = ["172.17.0.2", "172.17.0.3"]
    if rng.random() < 0.35:  # start order decides the bridge address each container gets
        ips.reverse()
    for (name, exe, cmd, uid), ip in zip(
        [
            ("redis-server", "/usr/local/bin/redis-server", "redis-server *:6379", 999),
            (
                "fluent-bit",
                "/fluent-bit/bin/fluent-bit",
                "/fluent-bit/bin/fluent-bit -c /fluent-bit/etc/fluent-bit.conf",
                0,
            ),
        ],
        ips,
        strict=True,
    ):
        cid = hexid(rng, 32)
        shim = host.add_process(
            "containerd-shim-runc-v2",
            "/usr/bin/containerd-shim-runc-v2",
            f"/usr/bin/containerd-shim-runc-v2 -namespace moby -id {cid} "
            "-address /run/containerd/containerd.sock",
            started=14,
            threads=(10, 13),
        )
        host.add_process(
            name,
            exe,
            cmd,
            parent=shim.pid,
            uid=uid,
            gid=uid,
            cwd="/data" if uid else "/",
            on_disk="0",
            started=15,
            threads=(4, 9),
        )
        out.append(
            {
                "name": name,
                "id": cid,
                "ip": ip,
                "overlay": hexid(rng, 32),
                "netns": hexid(rng, 6),
                "lower": "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(26)),
            }
        )
    redis_ip = out[0]["ip"]
    proxy = host.add_process(
        "docker-proxy",
        "/usr/bin/docker-proxy",
        "/usr/bin/docker-proxy "
        f"-proto tcp -host-ip 127.0.0.1 -host-port 6379 -container-ip "
        f"{redis_ip} -container-port 6379",
        parent=p["dockerd"].pid,
        started=15,
        threads=(5, 8),
    )
    p["docker_proxy"] = proxy
    return out


def listeners(host: Host, p: dict[str, Proc], rmi_ports: list[int]) -> None:
    lis = host.add_listener
    lis(p["sshd"], "6", "2", "0.0.0.0", 22)
    lis(p["sshd"], "6", "10", "::", 22)
    lis(p["resolved"], "17", "2", "127.0.0.53", 53)
    lis(p["resolved"], "6", "2", "127.0.0.53", 53)
    lis(p["chronyd"], "17", "2", "127.0.0.1", 323)
    lis(p["chronyd"], "17", "10", "::1", 323)
    lis(p["cwagent"], "17", "2", "127.0.0.1", 8125)
    for proc in [p["nginx"], *p["nginx_workers"]]:  # type: ignore[misc]
        for fam, addr in (("2", "0.0.0.0"), ("10", "::")):
            for port in (80, 443):
                lis(proc, "6", fam, addr, port)
    lis(p["java"], "6", "10", "::", 8080)
    lis(p["java"], "6", "10", "::", 9010)
    for port in rmi_ports:
        lis(p["java"], "6", "10", "::", port)
    if host.app_version != "2.4.0":  # 2.5.0 moved actuator endpoints to a management port
        lis(p["java"], "6", "10", "::", 9091)
    lis(p["docker_proxy"], "6", "2", "127.0.0.1", 6379)


def logged_in(host: Host, p: dict[str, Proc], kernel: str) -> None:
    b = host.boot_epoch
    host.tables["logged_in_users"] = [
        {"type": "boot_time", "user": "reboot", "tty": "~", "host": kernel, "time": str(b), "pid": "0"},
        {"type": "runlevel", "user": "runlevel", "tty": "~", "host": kernel, "time": str(b + 8), "pid": "53"},
        {
            "type": "login",
            "user": "LOGIN",
            "tty": "ttyS0",
            "host": "",
            "time": str(b + 9),
            "pid": p["agetty_s0"].row["pid"],
        },
        {
            "type": "login",
            "user": "LOGIN",
            "tty": "tty1",
            "host": "",
            "time": str(b + 9),
            "pid": p["agetty_tty1"].row["pid"],
        },
    ]


def build_runtime(host: Host, fleet: dict[str, Any]) -> dict[str, Any]:
    """Build processes, listeners and utmp; return the handles noise and attacks need."""
    from .base_units import build_iptables, build_modules, build_mounts, build_units

    host.tables["processes"] = []
    host.tables["listening_ports"] = []
    kernel_threads(host)
    p = services(host, fleet)
    ctrs = containers(host, fleet, p)
    # The JMX agent's RMI connector exports on an anonymous port chosen at JVM start.
    rmi = [host.rng.randrange(32768, 61000)]
    if host.rng.random() < 0.5:
        rmi.append(rmi[0] + 1)
    listeners(host, p, rmi)
    logged_in(host, p, fleet["kernel"])
    build_units(host)
    build_mounts(host, ctrs)
    build_modules(host)
    build_iptables(host, ctrs)
    return {"procs": p, "containers": ctrs}


def proc_row(p: dict[str, Any], key: str) -> Row:
    return p["procs"][key].row
