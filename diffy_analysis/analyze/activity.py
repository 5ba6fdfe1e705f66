"""Transient activity: rows that show something *happening* (a login session, a cron job running)
rather than a change of the host's state. They are reported, as weak evidence with the reason, and
never make a host an outlier on their own: every persistence or tampering technique also leaves
state behind (a unit, a key, a user, a rule, a binary), which is strong evidence.

A plain registry, query -> classifier(row) -> reason or None. The cron classifier also uses the
host's own crontab: a process running the program of one of the host's cron entries is that job.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace

import numpy as np

from diffy_analysis.analyze.candidates import Candidate
from diffy_analysis.normalize.index import FleetIndex

_SESSION_UNIT = re.compile(
    r"^(session-[0-9a-z]+\.scope|user@\d+\.service|user-\d+\.slice|run-user-\d+\.mount|user-runtime-dir@\d+\.service)$"
)
_SESSION_PROCESS = re.compile(
    r"^(sshd: \S+@(pts/\d+|notty)|sshd: \S+ \[priv\]|-(ba|z|da)?sh|\(sd-pam\)|/lib/systemd/systemd --user)$"
)
SESSION = "an interactive login session (activity, not a change of state)"
CRON = "a scheduled cron job running (activity, not a change of state)"
SESSION_COMMAND = "run by a user who is logged in interactively (activity, not a change of state)"


def _logged_in(row: dict[str, str]) -> str | None:
    return SESSION if row.get("type") == "user" else None


def _unit(row: dict[str, str]) -> str | None:
    return SESSION if _SESSION_UNIT.match(row.get("id", "")) else None


def _mount(row: dict[str, str]) -> str | None:
    path = row.get("path", "")
    return SESSION if path.startswith("/run/user/") and row.get("type") == "tmpfs" else None


def _process(row: dict[str, str]) -> str | None:
    cmdline = row.get("cmdline", "")
    if _SESSION_PROCESS.match(cmdline):
        return SESSION
    if cmdline in ("/usr/sbin/CRON -f", "/usr/sbin/cron -f") and row.get("name", "").lower() == "cron":
        return CRON
    return None


CLASSIFIERS: dict[str, Callable[[dict[str, str]], str | None]] = {
    "logged_in_users": _logged_in,
    "systemd_units": _unit,
    "mounts": _mount,
    "processes": _process,
}


_INTERPRETERS = re.compile(r"/(ba|da|z)?sh$|/python[0-9.]*$|/perl$|/env$|/run-parts$|/nice$|/ionice$|/flock$")


def cron_programs(crontab_rows: Iterable[dict[str, str]]) -> set[str]:
    """The programs and scripts named in a host's cron entries (interpreters and wrappers left out)."""
    programs = set()
    for row in crontab_rows:
        for word in (row.get("command") or "").split():
            if word.startswith("/") and len(word) > 4 and not _INTERPRETERS.search(word):
                programs.add(word)
    return programs


def _session_uids(users: list[dict[str, str]], logins: list[dict[str, str]]) -> frozenset[str]:
    """uids of regular users (uid >= 1000) with an interactive session on the host."""
    logged_in = {row.get("user") for row in logins if row.get("type") == "user"}
    return frozenset(
        row["uid"]
        for row in users
        if row.get("username") in logged_in and row.get("uid", "").isdigit() and int(row["uid"]) >= 1000
    )


def activity_reason(
    query: str, row: dict[str, str], programs: set[str], session_uids: frozenset[str] = frozenset()
) -> str | None:
    classifier = CLASSIFIERS.get(query)
    reason = classifier(row) if classifier else None
    if reason is None and query == "processes" and row.get("uid") in session_uids:
        return SESSION_COMMAND
    if reason is None and query == "processes" and programs:
        words = set(row.get("cmdline", "").split())
        if words & programs:
            return CRON
    return reason


def mark_activity(
    index: FleetIndex, features: np.ndarray, candidates: list[Candidate], weak_weight: float
) -> list[Candidate]:
    """Strong added/changed candidates that are transient activity become weak, with the reason."""
    if not any(c.kind != "missing" and c.strength == "strong" for c in candidates):
        return candidates
    rows: dict[str, list[dict[str, str]]] = {"crontab": [], "users": [], "logged_in_users": []}
    # the host's rows of those three tables, in feature order (a numpy selection, not a Python
    # look-up of every feature's query: 800 per host)
    codes, names = index.feature_query_codes()
    wanted = [names[q] for q in rows if q in names]
    if wanted and len(features):
        for fid in features[np.isin(codes[features], wanted)].tolist():
            rows[index.query_of(fid)].append(index.row(fid))
    programs = cron_programs(rows["crontab"])
    session_uids = _session_uids(rows["users"], rows["logged_in_users"])
    out = []
    for cand in candidates:
        if cand.kind != "missing" and cand.strength == "strong":
            reason = activity_reason(index.query_of(cand.fid), index.row(cand.fid), programs, session_uids)
            if reason:
                cand = replace(cand, strength="weak", weight=cand.weight * weak_weight, reason=reason)  # noqa: PLW2901
        out.append(cand)
    return out
