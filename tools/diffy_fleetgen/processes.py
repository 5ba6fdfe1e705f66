"""Process tables of the synthetic app server: kernel threads, services, the app, transient noise.

A process is described once as a ``ProcTemplate`` (what is the same on every host); ``hostgen``
fills in what differs per host (pid, parent pid, start time, memory, cpu times, thread counts).
"""

from __future__ import annotations

from dataclasses import dataclass

# Instance types of the two benign size populations, with their vCPU count and RAM in kB.
INSTANCE_TYPES: dict[str, tuple[int, int]] = {
    "m6i.large": (2, 8039000),
    "m6i.2xlarge": (8, 32456000),
}
APP_VERSIONS = ("2.3.1", "2.4.0")
"""The rolling deploy: the old version, then the new one."""


@dataclass(frozen=True)
class ProcTemplate:
    key: str
    name: str
    path: str
    cmdline: str
    parent: str  # key of the parent template ("" for pid 0)
    uid: str = "0"
    gid: str = "0"
    cwd: str = "/"
    state: str = "S"
    threads: int = 1
    rss_kb: int = 0  # 0 for kernel threads
    start_offset: int = 0  # seconds after boot
    threads_jitter: int = 0  # thread count varies per host by up to this much


def _k(name: str, offset: int = 0, state: str = "I") -> ProcTemplate:
    return ProcTemplate(
        key="k:" + name, name=name, path="", cmdline="", parent="k:kthreadd", state=state, start_offset=offset
    )


_KTHREADS_HEAD = [
    "rcu_gp",
    "rcu_par_gp",
    "slub_flushwq",
    "netns",
    "mm_percpu_wq",
    "rcu_tasks_kthread",
    "rcu_tasks_rude_kthread",
    "rcu_tasks_trace_kthread",
]
_KTHREADS_TAIL = [
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
    "md_bitmap",
    "edac-poller",
    "devfreq_wq",
    "watchdogd",
    "kswapd0",
    "kthrotld",
    "acpi_thermal_pm",
    "mld",
    "ipv6_addrconf",
    "kstrp",
    "zswap-shrink",
    "nvme-wq",
    "nvme-reset-wq",
    "nvme-delete-wq",
    "nvme-auth-wq",
    "scsi_eh_0",
    "scsi_tmf_0",
    "jbd2/nvme0n1p1-8",
    "ext4-rsv-conver",
    "ena",
    "cryptd",
    "rpciod",
    "xprtiod",
    "nfsiod",
    "kworker/u5:0",
    "hwrng",
    "dm_bufio_cache",
    "kstrp",
    "cfg80211",
    "charger_manager",
]
_PERCPU = ["cpuhp/{c}", "idle_inject/{c}", "migration/{c}", "ksoftirqd/{c}", "kworker/{c}:0H-events_highpri"]
KWORKER_QUEUES = ("events", "mm_percpu_wq", "events_power_efficient", "events_freezable", "rcu_gp", "")
"""What a kworker happens to be working for when sampled: part of its name, random per host."""


def kernel_threads(cpus: int) -> list[ProcTemplate]:
    out = [ProcTemplate(key="k:kthreadd", name="kthreadd", path="", cmdline="", parent="", state="S")]
    out += [_k(n) for n in _KTHREADS_HEAD]
    out += [_k("ksoftirqd/0", state="S"), _k("rcu_preempt"), _k("migration/0", state="S")]
    for c in range(cpus):
        out += [_k(t.format(c=c), state="S") for t in _PERCPU if not (c == 0 and "ksoftirqd" in t)]
    out += [_k(n, offset=1) for n in dict.fromkeys(_KTHREADS_TAIL)]
    return out


def kworker_slots(cpus: int) -> list[str]:
    """Name stems of the kworkers present on every host of this size (suffix chosen per host)."""
    slots = [f"kworker/{c}:{i}" for c in range(cpus) for i in (0, 1, 2)]
    slots += [f"kworker/u{2 * cpus}:{i}" for i in range(4 + cpus)]
    return slots


_APP = "/opt/acme/orders/venv/bin/python3.11"


def services(app_version: str, workers: int, canary: bool) -> list[ProcTemplate]:
    """Userland processes of a clean host.  ``{ip}``, ``{hostname}``, ``{instance_id}`` are per host."""
    v2 = app_version != APP_VERSIONS[0]
    app_cmd = (
        f"{_APP} /opt/acme/orders/venv/bin/gunicorn --workers {workers}"
        + (" --worker-class gthread --threads 4" if v2 else "")
        + " --bind 0.0.0.0:8080 -e INSTANCE_ID={instance_id} -e NODE_IP={ip} orders.wsgi:app"
    )
    out = [
        ProcTemplate("systemd", "systemd", "/usr/lib/systemd/systemd", "/sbin/init", "", rss_kb=12800),
        ProcTemplate(
            "journald",
            "systemd-journal",
            "/usr/lib/systemd/systemd-journald",
            "/lib/systemd/systemd-journald",
            "systemd",
            rss_kb=27000,
            start_offset=2,
        ),
        ProcTemplate(
            "udevd",
            "systemd-udevd",
            "/usr/lib/systemd/systemd-udevd",
            "/lib/systemd/systemd-udevd",
            "systemd",
            rss_kb=7300,
            start_offset=2,
        ),
        ProcTemplate(
            "rpcbind",
            "rpcbind",
            "/usr/sbin/rpcbind",
            "/sbin/rpcbind -f -w",
            "systemd",
            uid="103",
            gid="65534",
            rss_kb=3900,
            start_offset=4,
        ),
        ProcTemplate(
            "networkd",
            "systemd-network",
            "/usr/lib/systemd/systemd-networkd",
            "/lib/systemd/systemd-networkd",
            "systemd",
            uid="998",
            gid="998",
            rss_kb=8100,
            start_offset=4,
        ),
        ProcTemplate(
            "resolved",
            "systemd-resolve",
            "/usr/lib/systemd/systemd-resolved",
            "/lib/systemd/systemd-resolved",
            "systemd",
            uid="997",
            gid="997",
            rss_kb=12400,
            start_offset=4,
        ),
        ProcTemplate(
            "chronyd",
            "chronyd",
            "/usr/sbin/chronyd",
            "/usr/sbin/chronyd -F 1",
            "systemd",
            uid="102",
            gid="108",
            rss_kb=3300,
            start_offset=5,
        ),
        ProcTemplate(
            "chronyd2",
            "chronyd",
            "/usr/sbin/chronyd",
            "/usr/sbin/chronyd -F 1",
            "chronyd",
            uid="102",
            gid="108",
            rss_kb=1900,
            start_offset=5,
        ),
        ProcTemplate(
            "cron", "cron", "/usr/sbin/cron", "/usr/sbin/cron -f", "systemd", rss_kb=2700, start_offset=6
        ),
        ProcTemplate(
            "dbus",
            "dbus-daemon",
            "/usr/bin/dbus-daemon",
            "/usr/bin/dbus-daemon --system --address=systemd: --nofork --nopidfile"
            " --systemd-activation --syslog-only",
            "systemd",
            uid="100",
            gid="107",
            rss_kb=4600,
            start_offset=6,
        ),
        ProcTemplate(
            "rsyslogd",
            "rsyslogd",
            "/usr/sbin/rsyslogd",
            "/usr/sbin/rsyslogd -n -iNONE",
            "systemd",
            threads=4,
            rss_kb=5200,
            start_offset=6,
        ),
        ProcTemplate(
            "logind",
            "systemd-logind",
            "/usr/lib/systemd/systemd-logind",
            "/lib/systemd/systemd-logind",
            "systemd",
            rss_kb=7800,
            start_offset=6,
        ),
        ProcTemplate(
            "statd",
            "rpc.statd",
            "/usr/sbin/rpc.statd",
            "/sbin/rpc.statd",
            "systemd",
            uid="104",
            gid="65534",
            rss_kb=4100,
            start_offset=7,
        ),
        ProcTemplate(
            "ssm",
            "amazon-ssm-agen",
            "/usr/bin/amazon-ssm-agent",
            "/usr/bin/amazon-ssm-agent",
            "systemd",
            threads=9,
            threads_jitter=2,
            rss_kb=22000,
            start_offset=8,
        ),
        ProcTemplate(
            "ssmworker",
            "ssm-agent-worke",
            "/usr/bin/ssm-agent-worker",
            "/usr/bin/ssm-agent-worker",
            "ssm",
            threads=10,
            threads_jitter=3,
            rss_kb=31000,
            start_offset=9,
        ),
        ProcTemplate(
            "falcond",
            "falcond",
            "/opt/CrowdStrike/falcond",
            "/opt/CrowdStrike/falcond",
            "systemd",
            rss_kb=5100,
            start_offset=8,
        ),
        ProcTemplate(
            "falcon",
            "falcon-sensor-b",
            "/opt/CrowdStrike/falcon-sensor-bpf",
            "falcon-sensor-bpf",
            "falcond",
            threads=24,
            threads_jitter=4,
            rss_kb=180000,
            start_offset=9,
        ),
        ProcTemplate(
            "fluentbit",
            "fluent-bit",
            "/opt/fluent-bit/bin/fluent-bit",
            "/opt/fluent-bit/bin/fluent-bit -c /etc/fluent-bit/fluent-bit.conf -p host={hostname}",
            "systemd",
            threads=6,
            threads_jitter=1,
            rss_kb=26000,
            start_offset=8,
        ),
        ProcTemplate(
            "nodeexp",
            "prometheus-node",
            "/usr/bin/prometheus-node-exporter",
            "/usr/bin/prometheus-node-exporter --collector.systemd --web.listen-address=:9100",
            "systemd",
            uid="106",
            gid="111",
            threads=7,
            threads_jitter=2,
            rss_kb=19000,
            start_offset=8,
        ),
        ProcTemplate(
            "getty1",
            "agetty",
            "/usr/sbin/agetty",
            "/sbin/agetty -o -p -- \\u --noclear - linux",
            "systemd",
            rss_kb=1800,
            start_offset=9,
        ),
        ProcTemplate(
            "gettyS0",
            "agetty",
            "/usr/sbin/agetty",
            "/sbin/agetty -o -p -- \\u --keep-baud 115200,57600,38400,9600 - vt220",
            "systemd",
            rss_kb=1900,
            start_offset=9,
        ),
        ProcTemplate(
            "sshd",
            "sshd",
            "/usr/sbin/sshd",
            "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups",
            "systemd",
            rss_kb=9300,
            start_offset=9,
        ),
        ProcTemplate(
            "unattended",
            "unattended-upgr",
            "/usr/bin/python3.11",
            "/usr/bin/python3 /usr/share/unattended-upgrades/unattended-upgrade-shutdown --wait-for-signal",
            "systemd",
            threads=2,
            rss_kb=21000,
            start_offset=9,
        ),
        ProcTemplate(
            "app",
            "gunicorn",
            _APP,
            app_cmd,
            "systemd",
            uid="996",
            gid="996",
            cwd="/opt/acme/orders",
            rss_kb=41000,
            start_offset=14,
        ),
    ]
    out += [
        ProcTemplate(
            f"worker{i}",
            "gunicorn",
            _APP,
            app_cmd,
            "app",
            uid="996",
            gid="996",
            cwd="/opt/acme/orders",
            threads=5 if v2 else 1,
            rss_kb=88000,
            start_offset=15,
        )
        for i in range(workers)
    ]
    if canary:
        out.append(
            ProcTemplate(
                "envoy",
                "envoy",
                "/usr/local/bin/envoy",
                "/usr/local/bin/envoy -c /etc/envoy/envoy.yaml"
                " --service-cluster orders --service-node {hostname}",
                "systemd",
                uid="995",
                gid="995",
                threads=12,
                threads_jitter=2,
                rss_kb=52000,
                start_offset=12,
            )
        )
    return out


# Transient processes seen on some hosts at collection time (noise, never an incident).
CRON_JOB = [
    ProcTemplate("cronjob", "cron", "/usr/sbin/cron", "/usr/sbin/CRON -f", "cron", rss_kb=2900),
    ProcTemplate(
        "cronsh",
        "sh",
        "/usr/bin/dash",
        "/bin/sh -c /opt/acme/orders/bin/flush-queue.sh >/dev/null 2>&1",
        "cronjob",
        uid="996",
        gid="996",
        rss_kb=900,
    ),
    ProcTemplate(
        "flush",
        "flush-queue.sh",
        "/usr/bin/bash",
        "/bin/bash /opt/acme/orders/bin/flush-queue.sh",
        "cronsh",
        uid="996",
        gid="996",
        rss_kb=3500,
    ),
]
SSH_SESSION = [
    ProcTemplate("sshpriv", "sshd", "/usr/sbin/sshd", "sshd: admin [priv]", "sshd", rss_kb=10900),
    ProcTemplate(
        "userd",
        "systemd",
        "/usr/lib/systemd/systemd",
        "/lib/systemd/systemd --user",
        "systemd",
        uid="1000",
        gid="1000",
        rss_kb=10200,
    ),
    ProcTemplate(
        "sdpam",
        "(sd-pam)",
        "/usr/lib/systemd/systemd",
        "(sd-pam)",
        "userd",
        uid="1000",
        gid="1000",
        rss_kb=5600,
    ),
    ProcTemplate(
        "sshuser",
        "sshd",
        "/usr/sbin/sshd",
        "sshd: admin@pts/0",
        "sshpriv",
        uid="1000",
        gid="1000",
        rss_kb=6800,
    ),
    ProcTemplate(
        "bash",
        "bash",
        "/usr/bin/bash",
        "-bash",
        "sshuser",
        uid="1000",
        gid="1000",
        cwd="/home/admin",
        rss_kb=5200,
    ),
]
SESSION_COMMANDS = [
    ("tail", "/usr/bin/tail", "tail -f /var/log/acme/orders.log"),
    ("top", "/usr/bin/top", "top"),
    ("journalctl", "/usr/bin/journalctl", "journalctl -u acme-orders -f"),
]
