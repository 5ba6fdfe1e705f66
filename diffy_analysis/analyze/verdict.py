"""Verdicts from evidence (both methods): is this host compromised, and on which findings?

No score distribution is involved (the old ``median + 6 MAD`` gate is gone): a host is flagged on its
own evidence, so fleet-wide noise can neither hide a host with a real finding nor drag others in.

1. Every candidate is re-judged with the fleet's entry model (analyze/entries.py):
   * transient activity (analyze/activity.py) and one of several shared variants of a row every
     host has once (normalize/volatile.py ``variant_column``: the app's command line by version and
     size) stay weak;
   * per-host random entries (``random_column``) and churning entries (``unstable``) -> weak;
   * in a **security table**, a difference shared by several hosts is a population trait only when it
     travels with a package difference held by the same hosts, or when most of the fleet has it;
     otherwise it is *strong* however many hosts share it (a campaign, not a population).
2. A host is flagged when it has a **decisive** finding: strong, in a security table (or a context
   row that is a security finding by what it is: a program running from a writable directory or
   deleted from disk, a mount over ``/proc/<pid>``), and either PeerPressure-sick
   (``P(sick) >= SICK_MIN``) or shared by several hosts with ``P(sick) > SHARED_SICK_MIN`` (a
   campaign; not for a swap between the values of a one-per-host thing) - or when a clearly sick
   context finding is a state no other host has at all (a new mount point, a new package) that no
   population row travels with. Context findings in several tables never add up: one event (a job,
   a sidecar) shows in several tables at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from diffy_analysis.analyze.activity import CRON, SESSION, SESSION_COMMAND
from diffy_analysis.analyze.candidates import Candidate
from diffy_analysis.analyze.entries import SICK_MIN, EntryModel
from diffy_analysis.analyze.novelty import NoveltyNull
from diffy_analysis.normalize.index import FleetIndex
from diffy_analysis.normalize.volatile import NEVER_VARIANT
from diffy_analysis.tables import REGISTRY
from diffy_analysis.tables.severity import reverse_shell

CAMPAIGN_MAX_FRACTION = 0.5
"""A security-table difference on fewer than this share of hosts is never excused as a population
(unless a package difference travels with it)."""
SHARED_SICK_MIN = 0.5
"""A security row several hosts share decides when P(sick) exceeds this (sick more likely than not)."""
PARTITION_SHARE = 0.5
"""A group-shared row is one share of a split when at least this share of the hosts without it hold
another group-shared row of the same table."""
OTHER_SICK_MIN = 0.85
NEW_ENTRY_MIN = 0.5
ACTIVITY_TABLES = frozenset({"processes", "process_binaries", "process_open_sockets", "logged_in_users"})
"""Tables that show something happening rather than a state: a new row there alone never decides."""
WRITABLE = ("/tmp/", "/var/tmp/", "/dev/shm/", "/run/user/")
_PROC_PID = re.compile(r"^/proc/\d+(/|$)")
ACTIVITY = frozenset({CRON, SESSION, SESSION_COMMAND})
VARIANT = "one of several"
STATE_COLUMNS = frozenset({"active_state", "sub_state"})
TRANSITIONAL = frozenset(
    {"activating", "deactivating", "reloading", "start", "start-pre", "start-post", "stop", "stop-sigterm"}
)
"""systemd's transitional unit states (systemd.unit(5), org.freedesktop.systemd1 ActiveState/SubState):
a unit in one of them is between two resting states; it is where it lands that says something."""
VERSION_CHANGE = "a version change: the same row with other numbers (an upgrade, not a removal)"
RECOMBINED = "a new combination of values and command-line words other hosts hold (analyze/recombination.py)"
ECHO = "the echo of an assigned value: {} (analyze/echo.py)"
POPULATION = "travels with {} (a population's make-up)"
TRACE = "a trace of use, not a change made to the host"
APPEARING = REGISTRY.appearing_traces()


@dataclass(frozen=True)
class Verdict:
    outlier: bool
    decisive: tuple[Candidate, ...]
    """The findings the verdict rests on (empty when not flagged)."""


def _holders(index: FleetIndex, model: EntryModel, cand: Candidate) -> int:
    df = int(model.df[cand.fid])
    return len(index.hosts) - df if cand.kind == "missing" else df


def _not_a_change(
    index: FleetIndex, model: EntryModel, cand: Candidate, variant: Callable[[int], str | None] | None
) -> str | None:
    """Why a security row is no change made to this host: an added trace of use (a history file, a
    mail spool: TableSpec.appears_with_use) unless severe by content; an added row that is another
    generation of a rotated entry (analyze/generations.py); an added row that is a cluster's member
    list (analyze/members.py) unless severe by content; or one of several variants of a one-per-host
    row shared across the fleet."""
    if cand.kind == "added":
        trace = APPEARING.get(index.query_of(cand.fid))
        if trace is not None and severe_reason(index, model, cand) is None:
            return f"{TRACE}: {trace}"
        generation = model.generations.generation_of(cand.fid)
        if generation is not None:
            return generation
        members = model.members.member_list_of(cand.fid)
        if members is not None and severe_reason(index, model, cand) is None:
            return members
    shape = variant(cand.fid) if variant is not None and cand.kind != "missing" else None
    return f"{VARIANT} {shape} variants shared across the fleet (a population trait)" if shape else None


def refine(
    index: FleetIndex,
    model: EntryModel,
    cand: Candidate,
    weak_weight: float,
    variant: Callable[[int], str | None] | None = None,
) -> Candidate:
    """Re-judge one candidate's strength with the entry model (see the module docstring)."""
    if cand.reason in ACTIVITY or cand.reason == VERSION_CHANGE or (cand.reason or "").startswith(VARIANT):
        return cand  # transient activity; one of several shared variants of a one-per-host row
    significance = index.significance(cand.fid)
    random = model.random_column(cand.fid) if cand.kind != "missing" else None
    if random is not None:
        return replace(cand, strength="weak", weight=significance * weak_weight, varying_column=random)
    churn = _churn(index, model, cand)
    if churn is not None:
        return replace(
            cand, strength="weak", weight=significance * weak_weight, reason=churn, varying_column=None
        )
    if (
        cand.kind == "added"
        and int(model.df[cand.fid]) <= model.rare_max
        and model.recombination.recombined(cand.fid)
        and severe_reason(index, model, cand) is None
    ):
        return replace(
            cand, strength="weak", weight=significance * weak_weight, reason=RECOMBINED, varying_column=None
        )
    if not model.security(cand.fid):
        if cand.strength == "weak" and cand.varying_column is not None:
            return replace(cand, strength="strong", weight=significance, varying_column=None)
        return cand
    not_a_change = _not_a_change(index, model, cand, variant)
    if not_a_change is not None:
        return replace(
            cand, strength="weak", weight=significance * weak_weight, reason=not_a_change, varying_column=None
        )
    if cand.kind == "added" and model.other_version(cand.fid):
        # a new revision next to the one most hosts hold (snap keeps two): same row, other numbers
        return replace(
            cand,
            strength="weak",
            weight=significance * weak_weight,
            reason=VERSION_CHANGE,
            varying_column=None,
        )
    owner = model.provenance.owner(cand.fid) if cand.kind == "added" else None
    if owner is not None:
        reason = f"a new account named after {owner}, software on most hosts (its own account)"
        return replace(
            cand, strength="weak", weight=significance * weak_weight, reason=reason, varying_column=None
        )
    echo = model.echo.echo_of(cand.fid, cand.kind)
    if echo is not None and severe_reason(index, model, cand) is None:
        return replace(
            cand,
            strength="weak",
            weight=significance * weak_weight,
            reason=ECHO.format(echo),
            varying_column=None,
        )
    package = model.travels_with(cand.fid, absent=cand.kind == "missing")
    if package is not None:
        return replace(
            cand, strength="weak", weight=significance * weak_weight, reason=POPULATION.format(package)
        )
    share = _holders(index, model, cand) / max(1, len(index.hosts))
    if share < CAMPAIGN_MAX_FRACTION:
        base = significance * (1.0 - share)
        return replace(
            cand, strength="strong", weight=max(base, cand.weight), varying_column=None, reason=None
        )
    return cand


def _churn(index: FleetIndex, model: EntryModel, cand: Candidate) -> str | None:
    """Why a candidate is state churn rather than a change made to its host, or None: a passing
    state of its table, a transitional unit state, or an entry taking several values on several hosts."""
    ref = cand.ref_fid if cand.ref_fid is not None else None
    if ref is None and cand.kind == "added":
        ref = model.usual_value(cand.fid)
    passing = model.passing_state(cand.fid, ref) if ref is not None else None
    if passing is not None:
        return f"its {passing} is a passing state of this table (the exception in several entries)"
    transition = _transitional(index, cand, ref)
    if transition is not None:
        return f"caught in the transitional state {transition} (between two states; where it lands matters)"
    if model.unstable(cand.fid):
        return "its entry takes several values on several hosts (state churn)"
    return None


def _transitional(index: FleetIndex, cand: Candidate, ref: int | None) -> str | None:
    """The state column value, when a row differs from its usual row (same key: the baseline's, or
    the value most peers hold) ONLY in state columns and lands in a transitional state (systemd's own
    state machine: a unit ``activating`` is between ``inactive`` and ``active``). In peers mode a
    state several hosts share is an *added* row whose usual row is another value of its key: the
    same unit, caught between states on those hosts. A unit stopped (``inactive``/``failed``) or a
    new unit (no other host has its key) stays evidence."""
    if cand.kind == "missing" or ref is None or index.feature_colset[ref] != index.feature_colset[cand.fid]:
        return None
    columns = index.colsets[index.feature_colset[cand.fid]].columns
    mine, theirs = index.feature_values[cand.fid], index.feature_values[ref]
    changed = {columns[i] for i, (a, b) in enumerate(zip(mine, theirs, strict=True)) if a != b}
    if not changed or not changed <= STATE_COLUMNS:
        return None
    for i, column in enumerate(columns):
        if column in changed and mine[i] in TRANSITIONAL:
            return f"{column}={mine[i]}"
    return None


def context_reason(index: FleetIndex, model: EntryModel, cand: Candidate) -> str | None:
    """Why a context row is a security finding by what it is, or None: a program running from a
    writable directory or deleted from disk, a shell wired to a network connection (a reverse shell:
    tables/severity.py reverse_shell), or a mount laid over ``/proc/<pid>`` (it hides a process)."""
    if cand.kind == "missing":
        return None
    query = index.query_of(cand.fid)
    row = index.row(cand.fid)
    if query in ("processes", "process_binaries"):
        if row.get("path", "").startswith(WRITABLE):
            return "runs from a writable directory"
        if query == "processes":
            shell = reverse_shell(row.get("cmdline", ""))
            if shell is not None:
                return shell
        # deleted from disk: nothing is left at its path. A binary replaced under its running process
        # (an upgrade without a restart) also reads on_disk 0 in osquery (processes.cpp getOnDisk: the
        # exe link ends in " (deleted)"), but its path holds the new file, whose hash is collected
        if row.get("on_disk") == "0" and row.get("path", "") not in model.replaced_binaries():
            return "deleted from disk while it runs"
        return None
    if query == "mounts" and _PROC_PID.match(row.get("path", "")):
        return "a mount laid over a process's /proc directory (it hides the process)"
    return None


def hiding_or_writable(index: FleetIndex, model: EntryModel, cand: Candidate) -> bool:
    """A context row that is a security finding by what it is (``context_reason``)."""
    return context_reason(index, model, cand) is not None


def sickness(model: EntryModel, cand: Candidate) -> float:
    return model.sickness(cand.fid, kind=cand.kind)


def severe_reason(index: FleetIndex, model: EntryModel, cand: Candidate) -> str | None:
    """Why this finding is an attacker's by its content (tables/severity.py, declared per table)."""
    context = context_reason(index, model, cand)
    if context is not None:
        return context
    spec = REGISTRY.get(index.query_of(cand.fid))  # one lookup, not a dict of every table per call
    predicate = spec.severe if spec is not None else None
    return predicate(index.row(cand.fid), cand.kind) if predicate is not None else None


def _security_decisive(index: FleetIndex, model: EntryModel, c: Candidate) -> tuple[bool, bool]:
    """(decisive-grade, shared by several hosts) for a strong security finding."""
    sick = sickness(model, c)
    # shared by several hosts (a campaign): more likely sick than healthy is enough, the
    # Bayes decision with equal priors; a split of an entry between two common values is not
    shared = _holders(index, model, c) >= 2 and sick > SHARED_SICK_MIN
    swap = model.swap_column(c.fid)  # lacking one alternative is holding another
    if swap is not None and swap not in NEVER_VARIANT:
        # one of the values a one-per-host thing takes (the address a container got): a
        # group holding it is a share of the fleet, not a campaign, unless clearly sick
        shared = False
    if shared and c.kind == "missing" and severe_reason(index, model, c) is None:
        # a row a group of hosts LACKS is what they have not been given yet (an account an agent
        # creates on first use, a rule not rolled out there, a unit's usual state while it runs):
        # neither a campaign, which adds, nor one host's novelty. What is missing decides for a
        # group only when it is a defence (a firewall rule: tables/severity.py)
        return False, False
    return sick >= SICK_MIN or shared, shared and _holders(index, model, c) > model.rare_max


@dataclass(frozen=True)
class Grade:
    """How a strong security finding weighs, worked out once per (row, kind) for the whole fleet
    (campaign rows recur on many hosts; the three passes of ``judge_fleet`` share it)."""

    decisive: bool
    """Decisive-grade: sick enough, or shared by several hosts."""
    shared: bool
    """Shared by more than ``rare_max`` hosts (a group's, not one host's)."""
    severe: str | None
    """Why the row is an attacker's by its content (``severe_reason``), or None."""


class Grades:
    def __init__(self, index: FleetIndex, model: EntryModel):
        self.index, self.model = index, model
        self._memo: dict[tuple[int, str], Grade | None] = {}

    def of(self, c: Candidate) -> Grade | None:
        """The grade of a strong finding in a security table (or a hiding/writable context row);
        None for every other candidate."""
        if c.strength != "strong":
            return None
        key = (c.fid, c.kind)
        if key not in self._memo:
            index, model = self.index, self.model
            grade = None
            if model.security(c.fid) or hiding_or_writable(index, model, c):
                decisive, shared = _security_decisive(index, model, c)
                grade = Grade(decisive, shared, severe_reason(index, model, c) if decisive else None)
            self._memo[key] = grade
        return self._memo[key]


def novel_tables(
    index: FleetIndex, model: EntryModel, candidates: list[Candidate], grades: Grades | None = None
) -> frozenset[str]:
    """The security tables in which this host shows novelty: a decisive-grade finding held by at most
    ``rare_max`` hosts that is not severe by its content (analyze/novelty.py counts these)."""
    grades = grades if grades is not None else Grades(index, model)
    out = set()
    for c in candidates:
        g = grades.of(c)
        if g is not None and g.decisive and not g.shared and g.severe is None:
            out.add(index.query_of(c.fid))
    return frozenset(out)


def judge(
    index: FleetIndex,
    model: EntryModel,
    candidates: list[Candidate],
    null: NoveltyNull | None = None,
    partition: frozenset[int] = frozenset(),
    *,
    grades: Grades | None = None,
) -> Verdict:
    """``null``: the fleet's benign novelty (analyze/novelty.py); None: a fleet where no other host
    shows any (one novel security table then flags, as a lone rare sick row always did).
    ``partition``: shared rows that are one group's share of a fleet-wide split (``judge_fleet``)."""
    null = null if null is not None else NoveltyNull(len(index.hosts))
    grades = grades if grades is not None else Grades(index, model)
    decisive = []
    novel: list[Candidate] = []
    new_entry = False
    others = []
    for c in candidates:
        if c.strength != "strong":
            continue
        g = grades.of(c)
        if g is not None:
            if not g.decisive:
                continue
            # a campaign's shared artifact or a row severe by its content decides alone; a row
            # unique to this host is novelty, weighed against the fleet's own benign novelty
            if g.severe is not None or (g.shared and c.fid not in partition):
                decisive.append(c)
            elif g.shared:
                continue  # one group's share of a split most of the fleet shows in this table
            else:
                novel.append(c)
            continue
        sick = sickness(model, c)
        if sick >= OTHER_SICK_MIN:
            query = index.query_of(c.fid)
            # discounted by how often healthy hosts show something new in this table; one table's
            # findings on one host count once (one job spawns several processes)
            evidence = index.significance(c.fid) * sick * (1.0 - model.novelty_rate(query))
            # a state no other host has at all (a new mount point, a new package), not a new value;
            # processes show activity (jobs start and end): a new one alone never decides
            if (
                c.kind == "added"
                and query not in ACTIVITY_TABLES
                and not model.local_only(c.fid)
                and model.cardinality(c.fid) == 2
                and evidence >= NEW_ENTRY_MIN
                and model.travels_with(c.fid) is None  # a canary's new dependency beside its upgrade
                and not model.other_version(c.fid)  # a snap's new revision mounted beside the usual one
            ):
                new_entry = True
            others.append(c)
    if novel and null.significant(frozenset(index.query_of(c.fid) for c in novel)):
        decisive.extend(novel)
    # context tables are context: only a state no other host has at all decides (a mount hiding a
    # directory); activity rows (a timer's job caught running, a sidecar's socket) never do, however
    # many tables the one event shows in (a job is a process, its binary and its mount at once)
    if not decisive and new_entry:
        decisive = others
    return Verdict(bool(decisive), tuple(decisive))


def judge_fleet(index: FleetIndex, model: EntryModel, candidates: list[list[Candidate]]) -> list[Verdict]:
    """Every host's verdict, against the null model calibrated on the whole fleet (analyze/novelty.py)."""
    grades = Grades(index, model)
    novelty = [novel_tables(index, model, found, grades) for found in candidates]
    null = NoveltyNull(len(index.hosts)).fit(novelty)
    partition = _partition(index, model, candidates, grades)
    return [judge(index, model, found, null, partition, grades=grades) for found in candidates]


def _partition(
    index: FleetIndex, model: EntryModel, candidates: list[list[Candidate]], grades: Grades
) -> frozenset[int]:
    """Shared security rows that are one group's share of a fleet-wide split, not a campaign.

    The same null model for groups: a campaign's shared row is absent from most of the fleet, and
    the hosts without it show nothing comparable. When most hosts WITHOUT the row hold another
    minority group's row of the same table (each shard maps ``cache`` to its own address,
    ``EntryModel.split_share``; the baseline's own shard counts, though it yields no candidate in
    baseline mode), the table is split across the fleet, and one share of a split is a population
    trait. Rows severe by their content (tables/severity.py) are never excused so."""
    shared_rows: set[int] = set()
    for found in candidates:
        for c in found:
            if c.fid in shared_rows or not model.security(c.fid):
                continue
            g = grades.of(c)
            if g is not None and g.decisive and g.shared and g.severe is None:
                shared_rows.add(c.fid)
    return frozenset(fid for fid in shared_rows if model.split_share(fid) >= PARTITION_SHARE)


def hidden_campaign_rows(
    index: FleetIndex,
    model: EntryModel,
    features: np.ndarray,
    known: set[int],
    variant: Callable[[int], str | None],
) -> list[Candidate]:
    """Peers mode: security rows shared by a minority of the fleet that the host's own cluster hid,
    and defences most of the fleet holds that the host lacks (``EntryModel.majority_defences``).

    Hosts of a campaign can cluster together (they share the artifacts), and then each sees the
    artifact as common among its peers. Compared with the whole fleet it is not. One of several
    shared variants of a row every host has once (``variant``) is a population trait: not added.
    """
    n = len(index.hosts)
    if len(features) == 0:
        return []
    have = model.df[features]
    secure = model.security_mask[features]
    chosen = features[(have >= 2) & (have < CAMPAIGN_MAX_FRACTION * n) & secure]

    def fleet_wide(kind: str, fid: int) -> Candidate:
        holders = int(model.df[fid])
        return Candidate(
            kind,
            fid,
            index.significance(fid),
            "strong",
            hosts_with_row=holders,
            hosts_compared=n,
            peers_with_row=holders - 1 if kind == "added" else holders,
            peers=n - 1,
        )

    added = [
        fleet_wide("added", fid)
        for fid in chosen.tolist()
        if fid not in known and variant(fid) is None and not model.other_version(fid)
    ]
    # the same for a defence removed on a group (a firewall rule most of the fleet has): the
    # group's own cluster lacks it too and does not report it missing
    defences = model.majority_defences(CAMPAIGN_MAX_FRACTION)
    lacking = defences[~np.isin(defences, features)] if len(defences) else defences
    return added + [fleet_wide("missing", fid) for fid in lacking.tolist() if fid not in known]
