"""Intrinsic severity: what makes one row of a table an attacker's finding *by its content*.

Each predicate takes the normalized row and the finding's kind (``added``, ``changed``, ``missing``)
and returns a short reason, or None. They are declared per table in the registry (``TableSpec.severe``)
and used by the verdict (analyze/verdict.py): a rare row that is severe by what it is decides its
host's verdict however much benign novelty the fleet shows; any other rare row is judged against the
fleet's own rate of benign novelty (analyze/novelty.py). These are statements about content (uid 0,
a key, a command that fetches and runs, a program in a writable directory), never about a kind of
noise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from diffy_analysis.tables.spec import Severe

WRITABLE_DIRS = ("/tmp/", "/var/tmp/", "/dev/shm/", "/run/user/")
_FETCH = re.compile(r"\b(curl|wget|fetch|nc|ncat|socat|tftp)\b[^|;&]*\|\s*(ba|da|z|k)?sh\b|/dev/(tcp|udp)/")
_RUN_WRITABLE = re.compile(r"(^|[\s'\"=;|&(])(/tmp|/var/tmp|/dev/shm|/run/user)/\S")
_NOLOGIN = ("nologin", "/bin/false", "/usr/bin/false", "/bin/sync", "")
_AGENTS = re.compile(
    r"(auditd|osquery|falcon|wazuh|ossec|crowdstrike|sentinel|ssm-agent|apparmor|fail2ban|clamav|aide)"
)
_MANAGED = re.compile(r"(DOCKER|KUBE|cali-|CNI|cilium|flannel)", re.IGNORECASE)
_OPEN = re.compile(r"(0\.0\.0\.0/0|::/0)")


# A shell wired to a network socket (T1059.004 reverse shells): bash's /dev/tcp|udp pseudo-device to
# a remote address with the shell's own stdin/stdout redirected to it, or a socket tool told to hand
# its connection to a program. A health check (`bash -c '</dev/tcp/127.0.0.1/5432'`) probes loopback
# and wires no shell to the socket, so it is not one.
_SOCKET_DEV = re.compile(r"/dev/(tcp|udp)/(?!127\.|localhost/|0\.0\.0\.0/|::1/)[^/\s]+/\d+")
_WIRED = re.compile(r"(\s-i\b|[0-9]?>&\s*[0-9]|[0-9]?<&\s*[0-9]|>&\s*/dev/(tcp|udp)/|<>\s*/dev/(tcp|udp)/)")
_HANDS_OFF = re.compile(
    # nc -e /bin/sh host port, ncat --exec /bin/sh host port
    r"\b(nc|ncat|netcat|nc\.traditional|nc\.openbsd)\b[^|;&]*\s(-[a-z]*[ec]|--(sh-)?exec)[\s=]*\S"
    r"|\bsocat\b[^|;&]*\b(exec|system):[^|;&]*\b(tcp|udp|openssl)[46]?(-connect)?:"
    r"|\bsocat\b[^|;&]*\b(tcp|udp|openssl)[46]?(-connect)?:[^|;&]*\b(exec|system):",
    re.IGNORECASE,
)


def reverse_shell(text: str) -> str | None:
    """A command line that wires a shell to a network connection, or None."""
    if _SOCKET_DEV.search(text) and _WIRED.search(text):
        return "a shell wired to a network connection (a reverse shell)"
    if _HANDS_OFF.search(text):
        return "a socket tool handing its connection to a program (a reverse or bind shell)"
    return None


def runs_fetched_or_writable(text: str) -> str | None:
    """A command that fetches from the network into a shell, or runs something from a writable dir."""
    if _FETCH.search(text):
        return "fetches from the network and runs it"
    if _RUN_WRITABLE.search(text):
        return "runs something from a writable directory"
    return None


def in_writable(path: str) -> bool:
    return path.startswith(WRITABLE_DIRS)


def users(row: Mapping[str, str], kind: str) -> str | None:
    if kind == "missing":
        return None
    if row.get("uid") == "0" and row.get("username") != "root":
        return "a second uid-0 account"
    if kind == "added" and not any(
        row.get("shell", "").endswith(s) or row.get("shell") == s for s in _NOLOGIN
    ):
        return "a new login account"
    return None


def authorized_keys(row: Mapping[str, str], kind: str) -> str | None:
    return "an SSH key authorized" if kind == "added" else None


def command(column: str) -> Severe:
    def severe(row: Mapping[str, str], kind: str) -> str | None:
        return runs_fetched_or_writable(row.get(column, "")) if kind != "missing" else None

    return severe


def startup(row: Mapping[str, str], kind: str) -> str | None:
    if kind == "missing":
        return None
    return runs_fetched_or_writable(" ".join((row.get("path", ""), row.get("args", ""))))


def loaded(what: str) -> Severe:
    def severe(row: Mapping[str, str], kind: str) -> str | None:
        return what if kind == "added" else None

    return severe


def preload_env(row: Mapping[str, str], kind: str) -> str | None:
    return (
        "LD_PRELOAD in a process's environment"
        if kind != "missing" and row.get("key") == "LD_PRELOAD"
        else None
    )


def listener(row: Mapping[str, str], kind: str) -> str | None:
    if kind == "missing":
        return None
    address = row.get("address", "")
    if address.startswith("127.") or address == "::1":
        return None
    path = row.get("path", "")
    if in_writable(path) or path.endswith("(deleted)"):
        return "a listener reachable from outside, run from a writable directory or deleted"
    return None


def linked_away(what: str) -> Severe:
    """A history or log file that is a link (to /dev/null or anywhere): what is written is discarded."""

    def severe(row: Mapping[str, str], kind: str) -> str | None:
        return (
            f"{what} linked away (what is written is discarded)"
            if kind != "missing" and row.get("symlink") == "1"
            else None
        )

    return severe


def writable_path(what: str) -> Severe:
    def severe(row: Mapping[str, str], kind: str) -> str | None:
        return what if kind != "missing" and in_writable(row.get("path", "")) else None

    return severe


def firewall(column: str) -> Severe:
    def severe(row: Mapping[str, str], kind: str) -> str | None:
        # a container runtime's own rules come and go with its containers (published ports): judged
        # by the fleet model like any row (analyze/echo.py), never severe by their content alone
        managed = _MANAGED.search(" ".join(row.get(c, "") for c in (column, "chain", "target")))
        if managed:
            return None
        if kind == "missing":
            return "a firewall rule removed"
        text = " ".join(row.get(c, "") for c in (column, "src_ip", "src_mask"))
        if "ACCEPT" in text.upper() and (_OPEN.search(text) or row.get("src_ip") == "0.0.0.0"):
            return "a firewall rule opened to any address"
        return None

    return severe


def units(row: Mapping[str, str], kind: str) -> str | None:
    stopped = row.get("active_state") in ("inactive", "failed")
    if kind == "changed" and stopped and _AGENTS.search(row.get("id", "")):
        return "a security agent stopped"
    if kind != "missing" and in_writable(row.get("fragment_path", "")):
        return "a unit defined in a writable directory"
    return None
