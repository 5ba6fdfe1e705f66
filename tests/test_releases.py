"""A population signature beyond packages (analyze/releases.py): hosts that moved the app from one
release to another, with no package changing, bring their own listeners benignly; the same
listeners without the release move, or next to a version nobody else replaced, are a campaign."""

from __future__ import annotations

import numpy as np
import pytest
from runbuilder import clean_fleet, flagged_hosts, fleet_index

from diffy_analysis.analyze.entries import EntryModel

NEW = ("web-003", "web-006", "web-009", "web-012")


def _worker(release: str, ident: int, extra: str = "") -> dict[str, str]:
    cmdline = f"/usr/bin/python3 /srv/app/releases/{release}/worker.py --queue orders --id {ident}{extra}"
    return {
        "pid": str(40 + ident),
        "parent": "1",
        "name": "python3",
        "path": "/usr/bin/python3.11",
        "cmdline": cmdline,
        "cwd": f"/srv/app/releases/{release}",
        "uid": "0",
        "gid": "0",
        "euid": "0",
        "on_disk": "1",
        "state": "S",
        "start_time": "1796219983",
        "resident_size": "9768960",
        "user_time": "10",
        "system_time": "0",
        "threads": "1",
    }


def _listener(port: str, cmdline: str) -> dict[str, str]:
    return {
        "protocol": "6",
        "family": "2",
        "address": "0.0.0.0",
        "port": port,
        "pid": "77",
        "fd": "3",
        "socket": "4242",
        "name": "python3",
        "path": "/usr/bin/python3.11",
        "cmdline": cmdline,
        "uid": "0",
    }


def _fleet(*, moved: bool, version_only_there: bool = False):
    """12 hosts on release 1.4.2; the NEW hosts listen on 9102 (a metrics endpoint). ``moved``: they
    also run release 2.0.0 instead of 1.4.2 (a rolling deploy). ``version_only_there``: they run
    1.4.2 like everyone, plus a versioned tool nobody else has anything of."""
    hosts = clean_fleet(12)
    for name, rows in hosts.items():
        release = "2.0.0" if moved and name in NEW else "1.4.2"
        extra = " --batch 50" if release == "2.0.0" else ""
        rows["processes"] = [_worker(release, i, extra) for i in (1, 2)]
        if name in NEW:
            if version_only_there:
                tool = "/var/lib/tools/xmrig-6.21.0/xmrig -B"
                rows["processes"].append(dict(_worker("1.4.2", 9), cmdline=tool))
                rows["listening_ports"].append(_listener("9102", tool))
            else:
                rows["listening_ports"].append(
                    _listener("9102", f"/usr/bin/python3 /srv/app/releases/{release}/metrics.py")
                )
    return hosts


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_a_release_move_brings_its_listeners_benignly(tmp_path, method):
    assert flagged_hosts(tmp_path, _fleet(moved=True), method) == []


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_the_same_listeners_without_a_release_move_are_a_campaign(tmp_path, method):
    assert flagged_hosts(tmp_path, _fleet(moved=False), method) == sorted(NEW)


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_a_version_nobody_else_replaced_is_no_release(tmp_path, method):
    assert flagged_hosts(tmp_path, _fleet(moved=False, version_only_there=True), method) == sorted(NEW)


def _group(index, names):
    group = np.zeros(len(index.profiles), dtype=bool)
    for host in index.hosts:
        if host.identity.host in names:
            group[host.profile] = True
    return group


def test_release_of_describes_the_move():
    index = fleet_index(_fleet(moved=True))
    model = EntryModel(index)
    described = model.releases.release_of(_group(index, NEW))
    assert described is not None and "2.0.0 in place of 1.4.2" in described and "processes" in described
    # hosts of both releases together replaced nothing
    assert model.releases.release_of(_group(index, {"web-001", "web-002", "web-003", "web-006"})) is None


def _package(name: str, version: str) -> dict[str, str]:
    return {"name": name, "version": version, "arch": "amd64", "source": "", "status": "install ok installed"}


def _cosigner(hosts, package: str):
    index = fleet_index(hosts)
    model = EntryModel(index)
    fid = next(f for f in range(index.n_features) if index.row(f).get("name") == package and model.df[f])
    return model.travels_with(fid)


def test_a_canarys_new_dependency_travels_with_its_upgrade():
    """Two canaries upgrade openssl and with it pull a library nobody else has: the library is the
    upgrade's make-up. The same library on two hosts without the upgrade is co-signed by nothing
    (a package row never co-signs itself)."""
    hosts = clean_fleet(12)
    for name in ("web-004", "web-009"):
        hosts[name]["deb_packages"] = [_package("openssl", "3.2.0-1"), _package("libjemalloc2", "5.2.1-1")]
    assert _cosigner(hosts, "libjemalloc2") == "package openssl 3.2.0-1"
    hosts = clean_fleet(12)
    for name in ("web-004", "web-009"):
        hosts[name]["deb_packages"].append(_package("libjemalloc2", "5.2.1-1"))
    assert _cosigner(hosts, "libjemalloc2") is None
