"""`diffy scope`: "how do you know you have found all the instances touched?"

Start from what a responder knows - a host known to be bad (``--from HOST``) and/or an indicator
(``--ioc VALUE``: an address, a hash, a path, a user, a key fingerprint, a cron command) - and
iterate as a responder does by hand:

1. the *artifacts* to look for: the seed host's **rare security artifacts** (rows of security
   tables that fewer than ``RARE_FRACTION`` of the fleet hold, that are not per-host random, not one
   of several shared variants, not transient activity and do not travel with a package difference;
   analyze/entries.py), and every row that contains an IOC;
   and the rows of security tables that most of the fleet has and the seed lacks (a removed
   firewall rule, a stopped agent's unit);
2. every host holding one of them (or lacking it, for the latter) joins the scope, with the
   artifact and the host it came from;
3. the new hosts' own rare security artifacts widen the search; repeat until no host is added
   (closed), at most one round per host.

Each scoped host carries its evidence chain: round, the artifact that brought it in, and the host
that artifact was first found on.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from diffy_analysis.analyze.activity import activity_reason, cron_programs
from diffy_analysis.analyze.confidence import confidence
from diffy_analysis.analyze.entries import EntryModel
from diffy_analysis.errors import UsageError
from diffy_analysis.findings import Confidence
from diffy_analysis.load import LoadOptions, Results, open_results
from diffy_analysis.normalize.build import build_fleet
from diffy_analysis.normalize.index import FleetIndex
from diffy_analysis.normalize.rules import Config, load_config
from diffy_analysis.normalize.volatile import TemplateStats

SCOPE_FORMAT = "diffy-scope/1"
RARE_FRACTION = 0.5


@dataclass(frozen=True)
class Artifact:
    query: str
    row: dict[str, str]
    hosts: int
    """Hosts of the analysed fleet holding it (for ``missing``: lacking it)."""
    found_on: str
    """The host (or ``ioc:VALUE``) where it was first taken as a lead."""
    round: int
    kind: str = "added"
    """``added``: a row the scoped hosts have; ``missing``: a row most hosts have and they lack."""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "query": self.query,
            "row": self.row,
            "hosts": self.hosts,
            "found_on": self.found_on,
            "round": self.round,
        }


@dataclass(frozen=True)
class ScopedHost:
    host: str
    host_id: str
    round: int
    """0: a seed (--from) or a host holding an IOC; n: found in round n."""
    reason: str  # seed | ioc | shares
    evidence: tuple[Artifact, ...]
    """The artifacts (leads) this host holds that brought it into the scope."""
    run_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "host_id": self.host_id,
            "run_id": self.run_id,
            "round": self.round,
            "reason": self.reason,
            "evidence": [a.to_json() for a in self.evidence],
        }


@dataclass(frozen=True)
class Scope:
    seeds: tuple[str, ...]
    iocs: tuple[str, ...]
    hosts: tuple[ScopedHost, ...]
    artifacts: tuple[Artifact, ...]
    rounds: int
    closed: bool
    hosts_analysed: int
    run_ids: tuple[str, ...] = ()
    confidence: Confidence | None = None
    unmatched_iocs: tuple[str, ...] = field(default_factory=tuple)

    @property
    def exit_code(self) -> int:
        return 1 if self.hosts else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "format": SCOPE_FORMAT,
            "run_ids": list(self.run_ids),
            "seeds": list(self.seeds),
            "iocs": list(self.iocs),
            "unmatched_iocs": list(self.unmatched_iocs),
            "closed": self.closed,
            "rounds": self.rounds,
            "summary": {"hosts_analysed": self.hosts_analysed, "hosts_in_scope": len(self.hosts)},
            "hosts": [h.to_json() for h in self.hosts],
            "artifacts": [a.to_json() for a in self.artifacts],
            "confidence": self.confidence.to_json() if self.confidence else None,
        }


def key_fingerprint(key: str) -> str | None:
    """OpenSSH's ``SHA256:...`` fingerprint of a public key's base64 blob (None if not base64)."""
    blob = key.strip().split()[-1] if key.strip() else ""
    for part in key.split():
        if part.startswith("AAAA"):
            blob = part
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw:
        return None
    return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


def _matches(ioc: str, query: str, row: dict[str, str]) -> bool:
    needle = ioc.strip().lower()
    if not needle:
        return False
    if needle.startswith("sha256:") and query == "authorized_keys":
        found = key_fingerprint(row.get("key", ""))
        return found is not None and found.lower() == needle
    return any(needle in str(v).lower() for v in row.values())


class _Leads:
    """Which feature ids are usable leads (rare, not random, not a population trait, not activity)."""

    def __init__(self, index: FleetIndex, model: EntryModel):
        self.index = index
        self.model = model
        self.stats = TemplateStats(index, model.df, len(index.hosts))
        self.limit = max(2.0, RARE_FRACTION * len(index.hosts))
        self._cache: dict[int, bool] = {}

    def ok(self, fid: int, programs: set[str]) -> bool:
        cached = self._cache.get(fid)
        if cached is None:
            m = self.model
            cached = bool(
                m.security_mask[fid]
                and m.df[fid] < self.limit
                and m.random_column(fid) is None
                and self.stats.variant_column(fid) is None
                and m.travels_with(fid) is None
            )
            self._cache[fid] = cached
        if not cached:
            return False
        return activity_reason(self.index.query_of(fid), self.index.row(fid), programs, frozenset()) is None


def _open(
    run_dirs: Sequence[Path | str], config: Config, results: Results | None
) -> tuple[FleetIndex, Results]:
    options = LoadOptions(max_file_bytes=config.thresholds.max_file_mb * 1024 * 1024)
    results = results if results is not None else open_results(list(run_dirs), options)
    index = build_fleet(results, config).index
    if not index.hosts:
        raise results.nothing_usable()
    return index, results


class _Search:
    """The iterative search: scoped hosts, the leads taken so far, and the frontier of new hosts."""

    def __init__(self, index: FleetIndex):
        self.index = index
        self.model = EntryModel(index)
        self.leads = _Leads(index, self.model)
        self.programs = [
            cron_programs([index.row(f) for f in p.tolist() if index.query_of(f) == "crontab"])
            for p in index.profiles
        ]
        self.holders = index.profile_matrix().tocsc()
        self.hosts_of_profile = index.hosts_by_profile()
        self.scoped: dict[int, tuple[int, str, list[Artifact]]] = {}
        self.artifacts: dict[int, Artifact] = {}
        self.frontier: list[int] = []
        self.rounds = 0
        self.missing_leads: dict[int, Artifact] = {}
        n = len(index.hosts)
        df = self.model.df
        common = np.flatnonzero(self.model.security_mask & (df >= (1 - RARE_FRACTION) * n) & (df <= n - 1))
        self.common = [int(f) for f in common.tolist() if not self.model.unstable(int(f))]

    def hosts_with(self, fid: int) -> list[int]:
        profiles = self.holders[:, fid].nonzero()[0].tolist()
        return sorted(h for p in profiles for h in self.hosts_of_profile[p])

    def lead(self, fid: int, found_on: str, round_: int) -> Artifact:
        index = self.index
        art = Artifact(index.query_of(fid), index.row(fid), int(self.model.df[fid]), found_on, round_)
        return self.artifacts.setdefault(fid, art)

    def reach(self, fid: int, round_: int, reason: str) -> None:
        for h in self.hosts_with(fid):
            if h not in self.scoped:
                self.scoped[h] = (round_, reason, [])
                self.frontier.append(h)
            self.scoped[h][2].append(self.artifacts[fid])

    def seed(self, host: int) -> None:
        if host not in self.scoped:
            self.scoped[host] = (0, "seed", [])
            self.frontier.append(host)

    def ioc(self, value: str) -> bool:
        index = self.index
        hits = [
            f
            for f in range(index.n_features)
            if self.model.df[f] > 0 and _matches(value, index.query_of(f), index.row(f))
        ]
        for fid in hits:
            self.lead(fid, f"ioc:{value}", 0)
            self.reach(fid, 0, "ioc")
        return bool(hits)

    def widen(self) -> None:
        """Rounds until no new host is found (closed), at most one per host."""
        while self.frontier and self.rounds < len(self.index.hosts):
            self.rounds += 1
            new = []
            for h in self.frontier:
                profile = self.index.hosts[h].profile
                for fid in self.index.profiles[profile].tolist():
                    if fid not in self.artifacts and self.leads.ok(fid, self.programs[profile]):
                        self.lead(fid, self.index.hosts[h].label, self.rounds)
                        new.append(fid)
            lacking = self._missing_leads()
            self.frontier = []
            for fid in new:
                self.reach(fid, self.rounds, "shares")
            for fid in lacking:
                self.reach_lacking(fid)

    def _missing_leads(self) -> list[int]:
        """Rows most of the fleet has that a frontier host lacks (a removed rule, a stopped agent)."""
        out = []
        for h in self.frontier:
            profile = self.index.hosts[h].profile
            have = set(self.index.profiles[profile].tolist())
            for fid in self.common:
                if fid in self.missing_leads or fid in have:
                    continue
                lacking = len(self.index.hosts) - int(self.model.df[fid])
                if self.model.travels_with(fid, absent=True) is not None:
                    continue
                self.missing_leads[fid] = Artifact(
                    self.index.query_of(fid),
                    self.index.row(fid),
                    lacking,
                    self.index.hosts[h].label,
                    self.rounds,
                    "missing",
                )
                out.append(fid)
        return out

    def reach_lacking(self, fid: int) -> None:
        having = set(self.hosts_with(fid))
        for h in range(len(self.index.hosts)):
            if h in having:
                continue
            if self.index.query_of(fid) not in self.index.hosts[h].collected:
                continue  # not collected there: absence says nothing
            if h not in self.scoped:
                self.scoped[h] = (self.rounds, "shares", [])
                self.frontier.append(h)
            self.scoped[h][2].append(self.missing_leads[fid])

    def result(self) -> list[ScopedHost]:
        out = []
        for h, (found_round, reason, evidence) in self.scoped.items():
            entry = self.index.hosts[h]
            # a host's evidence: the leads it shares with others, not the ones it contributed alone
            shown = tuple(a for a in evidence if a.found_on != entry.label) or tuple(evidence)
            out.append(ScopedHost(entry.label, entry.ref.host_id, found_round, reason, shown, entry.run_id))
        out.sort(key=lambda s: (s.round, s.host))
        return out


def _host_names(index: FleetIndex) -> dict[str, int]:
    names: dict[str, int] = {}
    for i, h in enumerate(index.hosts):
        for name in (h.label, h.ref.host_id, h.identity.as_dict().get("hostname")):
            if name:
                names.setdefault(str(name), i)
    return names


def scope(
    run_dirs: Sequence[Path | str],
    *,
    from_hosts: Sequence[str] = (),
    iocs: Sequence[str] = (),
    config: Config | Path | str | None = None,
    results: Results | None = None,
) -> Scope:
    """Scope an incident over the hosts of ``run_dirs`` (or of ``results``, e.g. read back from ES)."""
    if not from_hosts and not iocs:
        raise UsageError("scope needs a starting point: --from HOST and/or --ioc VALUE")
    if not isinstance(config, Config):
        config = load_config(config)
    index, results = _open(run_dirs, config, results)
    names = _host_names(index)
    unknown = [h for h in from_hosts if h not in names]
    if unknown:
        raise UsageError(f"--from {', '.join(unknown)}: no such host in the run(s) (use its name or host id)")
    search = _Search(index)
    for name in from_hosts:
        search.seed(names[name])
    unmatched = tuple(value for value in iocs if not search.ioc(value))
    search.widen()
    return Scope(
        seeds=tuple(from_hosts),
        iocs=tuple(iocs),
        hosts=tuple(search.result()),
        artifacts=tuple(
            sorted(
                [*search.artifacts.values(), *search.missing_leads.values()],
                key=lambda a: (a.round, a.query, a.kind, sorted(a.row.items())),
            )
        ),
        rounds=search.rounds,
        closed=not search.frontier,
        hosts_analysed=len(index.hosts),
        run_ids=tuple(results.run_ids),
        confidence=confidence(len(index.hosts), "scope"),
        unmatched_iocs=unmatched,
    )
