"""Provenance of a new account: is it the own account of software that runs on most of the fleet?

A responder reading "ssm-user added, with NOPASSWD sudo, on 19 of 90 hosts" checks first whether the
fleet runs software of that name: the SSM agent creates ``ssm-user`` on a host's first session, so the
account appears on whichever hosts had one. By counts alone that is a campaign adding an account; by
provenance it is the agent's doing. This module answers that question from the fleet itself: the
account's name shares a distinctive word with a program, unit or package present on more than half
of the hosts (``amazon-ssm-agent``), and the account is new on a minority of hosts (an existing
account given a new sudo rule is never excused), and it is not uid 0.

Limits (docs/analysis.md): an intruder who names an account after software the fleet runs gets weak
evidence for it (its other artifacts - keys, cron lines, listeners - still decide); exact words only.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

import numpy as np

from diffy_analysis.normalize.index import FleetIndex
from diffy_analysis.tables import REGISTRY

ACCOUNTS = REGISTRY.accounts()
SOFTWARE = {"processes": "name", "systemd_units": "id", "deb_packages": "name", "rpm_packages": "name"}
"""Where the fleet's software is named (table -> column)."""
GENERIC = frozenset(
    [
        "user",
        "users",
        "admin",
        "adm",
        "root",
        "bin",
        "sbin",
        "usr",
        "lib",
        "local",
        "service",
        "services",
        "system",
        "systemd",
        "daemon",
        "agent",
        "server",
        "backup",
        "data",
        "app",
        "www",
        "web",
        "host",
        "sys",
        "test",
        "dev",
        "ops",
        "deploy",
        "svc",
        "mount",
        "scope",
        "slice",
        "socket",
        "timer",
        "target",
        "common",
        "core",
        "base",
        "tools",
        "util",
        "utils",
        "client",
        "linux",
        # the filesystem hierarchy's own directories (hier(7)), like usr/bin/lib above: every path
        # holds one, and /etc/ld.so.preload must not name netcat ("etc") nor /run/... runc
        "etc",
        "var",
        "opt",
        "tmp",
        "run",
        "home",
        "srv",
        "proc",
        "mnt",
        "media",
        "boot",
        "share",
        "libexec",
        "lib64",
        "include",
    ]
)
"""Words too common to say which software an account belongs to, or which package a row names."""
PROVENANCE_MIN_HOSTS = 3
"""An agent's behaviour repeats across the fleet; a lone account named after a daemon (``sshd-svc``
on one host) is an intruder's disguise, never excused."""
_WORD = re.compile(r"[a-z][a-z0-9]{2,}")


def words(text: str) -> set[str]:
    """The distinctive words of a name or value (at least 3 characters, not GENERIC)."""
    return {w for w in _WORD.findall(text.lower()) if w not in GENERIC}


def names(package: str, text: str) -> bool:
    """Does ``text`` (a row's values) name the package ``package``? Some distinctive word of the text
    and some word of the package's name share a run of at least 3 letters that is most (60 %) of the
    shorter word: ``/usr/sbin/sshd`` and ``/usr/bin/ssh`` name ``openssh-server`` / ``-client``,
    ``/usr/bin/sudo`` names ``sudo``; an intruder's cron line names no ``amazon-ssm-agent``. Words
    longer than 32 characters (hashes, keys) name nothing."""
    package_words = words(package)
    for w in words(text):
        if len(w) > 32:
            continue
        for p in package_words:
            run = SequenceMatcher(None, w, p, autojunk=False).find_longest_match().size
            if run >= max(3, 0.6 * min(len(w), len(p))):
                return True
    return False


class Provenance:
    def __init__(self, index: FleetIndex, df: np.ndarray):
        self.index = index
        self.df = df
        self._software: set[str] | None = None
        self._accounts: dict[str, int] | None = None

    def software_words(self) -> set[str]:
        """Distinctive words naming programs, units and packages on more than half of the hosts."""
        if self._software is None:
            half = 0.5 * len(self.index.hosts)
            found: set[str] = set()
            for fid in np.flatnonzero(self.df > half).tolist():
                column = SOFTWARE.get(self.index.query_of(fid))
                if column:
                    found |= words(self.index.row(fid).get(column, ""))
            self._software = found
        return self._software

    def _account_hosts(self) -> dict[str, int]:
        """Account name -> hosts holding its ``users`` row (its most widespread one)."""
        if self._accounts is None:
            found: dict[str, int] = {}
            for fid in np.flatnonzero(self.df > 0).tolist():
                if self.index.query_of(fid) == "users":
                    name = self.index.row(fid).get("username", "")
                    found[name] = max(found.get(name, 0), int(self.df[fid]))
            self._accounts = found
        return self._accounts

    def owner(self, fid: int) -> str | None:
        """The fleet software whose own new account this row is about, or None."""
        query = self.index.query_of(fid)
        column = ACCOUNTS.get(query)
        if column is None or query == "shadow":
            return None
        row = self.index.row(fid)
        if row.get("uid") == "0" or (row.get("gid") == "0" and query == "users"):
            return None
        account = row.get(column, "").split(" ")[0]
        if int(self.df[fid]) < PROVENANCE_MIN_HOSTS:
            return None
        if not account or self._account_hosts().get(account, 0) > 0.5 * len(self.index.hosts):
            return None  # an existing account: a new rule for it is never the software's doing
        shared = words(account) & self.software_words()
        return sorted(shared)[0] if shared else None
