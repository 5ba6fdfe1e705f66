"""Campaigns: flagged hosts that share security-significant artifacts (lateral movement).

Two flagged hosts belong to one campaign when they share at least one *decisive* finding (same
normalized row, same kind) that most of the fleet does not have. Groups are the connected
components of "shares a decisive artifact with"; each is reported once with the artifacts its hosts
share ("campaign: 12 hosts share crontab row ... and authorized_keys row ...").
"""

from __future__ import annotations

from collections import defaultdict

from diffy_analysis.analyze.candidates import Candidate
from diffy_analysis.analyze.explain import Context, facts
from diffy_analysis.findings import Campaign, CampaignArtifact, Facts, sentence
from diffy_analysis.normalize.index import FleetIndex

MAX_ARTIFACTS = 10


def _facts(index: FleetIndex, kind: str, fid: int, method: str) -> Facts:
    query = index.query_of(fid)
    return facts(
        query,
        kind,
        index.row(fid),
        Context(method),
        keys=index.rule(query).keys,
        significance=index.significance(fid),
    )


def find_campaigns(
    index: FleetIndex, decisive: list[tuple[Candidate, ...]], labels: list[str], method: str
) -> tuple[Campaign, ...]:
    """``decisive``: per host (index order) the findings its verdict rests on; ``labels``: host names."""
    holders: dict[tuple[str, int], set[int]] = defaultdict(set)
    for host, found in enumerate(decisive):
        for c in found:
            holders[(c.kind, c.fid)].add(host)
    shared = {sig: hosts for sig, hosts in holders.items() if len(hosts) >= 2}
    parent = list(range(len(decisive)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for hosts in shared.values():
        first, *rest = sorted(hosts)
        for other in rest:
            parent[root(other)] = root(first)
    groups: dict[int, set[int]] = defaultdict(set)
    for hosts in shared.values():
        for h in hosts:
            groups[root(h)].add(h)
    out = []
    for members in groups.values():
        artifacts = sorted(
            ((sig, hosts) for sig, hosts in shared.items() if hosts & members),
            key=lambda item: (-len(item[1]), index.key(item[0][1]), item[0][0]),
        )
        out.append(
            Campaign(
                id=0,
                hosts=tuple(sorted(labels[h] for h in members)),
                artifacts=tuple(
                    CampaignArtifact(
                        query=index.query_of(fid),
                        kind=kind,  # type: ignore[arg-type]
                        row=index.row(fid),
                        hosts=len(hosts),
                        explanation=sentence(kind, found),
                        facts=found,
                    )
                    for (kind, fid), hosts in artifacts[:MAX_ARTIFACTS]
                    for found in (_facts(index, kind, fid, method),)
                ),
            )
        )
    out.sort(key=lambda c: (-len(c.hosts), c.hosts))
    return tuple(Campaign(id=i + 1, hosts=c.hosts, artifacts=c.artifacts) for i, c in enumerate(out))
