"""What N hosts can and cannot tell: the confidence statement every analysis carries.

The numbers follow from the entry model (analyze/entries.py): with ``N`` hosts, a value no other host
holds is at best ``(N + 1) / (N + 3)`` likely to be sick in a two-valued entry, per-host randomness
needs ``RANDOM_MIN_HOSTS`` hosts holding a template to be seen, and a group of hosts sharing a
difference can only be told from a population when a package difference travels with it.
"""

from __future__ import annotations

from diffy_analysis.analyze.randomness import RANDOM_MIN_HOSTS
from diffy_analysis.findings import Confidence


def confidence(n_hosts: int, method: str, *, populations: int | None = None) -> Confidence:
    others = max(0, n_hosts - 1)
    best = (others + 2) / (others + 4) if n_hosts else 0.0
    can: list[str] = []
    cannot: list[str] = []
    if n_hosts < 4:
        level = "insufficient"
        cannot.append(
            f"with {n_hosts} host(s), a difference cannot be told from a peer's normal make-up: "
            "use a baseline (--baseline) or collect more hosts of the same app"
        )
    elif n_hosts < 12:
        level = "low"
    elif n_hosts < 50:
        level = "moderate"
    else:
        level = "high"
    if n_hosts >= 4:
        can.append(
            f"a security-table row (account, key, cron line, unit, module, listener, firewall rule) "
            f"on one host only is flagged (P(sick) up to {best:.2f} with {n_hosts} hosts)"
        )
        can.append("hosts sharing such rows without a matching package change are grouped as a campaign")
        can.append(
            "a row severe by its content (uid-0 or login account, key, fetch-and-run or writable-dir "
            "command, preload, module, firewall rule removed) flags its host however noisy the fleet; "
            "any other row only this host holds flags it when at most 15% of the other hosts show "
            "something new in the same tables (where more do, a second table is needed)"
        )
    if n_hosts < 2 * RANDOM_MIN_HOSTS + 2:
        cannot.append(
            f"per-host random values (ports, ids) are recognised only when at least {RANDOM_MIN_HOSTS} hosts "
            "hold them: on fewer, a random value looks like a rare one"
        )
    if n_hosts < 12:
        cannot.append(
            "with fewer than 12 hosts, a difference held by half the fleet cannot be told from a "
            "sub-population; differences in processes, mounts and other context tables alone do not flag"
        )
    if method == "peers" and n_hosts < 20:
        cannot.append(
            "clusters of so few hosts mean little (upstream Diffy issue #3): read the findings, not the tree"
        )
    if method == "peers":
        cannot.append(
            "a change made identically on most of the fleet is the fleet's norm to the peers method: "
            "compare with a baseline to see it"
        )
    if populations is not None and populations > 1:
        can.append(f"{populations} populations were told apart; each host is compared with its own")
    statement = f"{level} confidence: {n_hosts} hosts analysed by the {method} method"
    return Confidence(
        level=level, hosts=n_hosts, statement=statement, can_tell=tuple(can), cannot_tell=tuple(cannot)
    )
