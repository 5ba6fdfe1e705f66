"""analyze/clustering.py: distinct profiles clustered into populations (in-memory hosts, no files)."""

from __future__ import annotations

from pathlib import Path

from diffy_analysis.analyze.clustering import cluster_profiles, feature_significance
from diffy_analysis.load import HostData, HostIdentity, HostRef, QueryStatus, RunInfo
from diffy_analysis.normalize import build_fleet, default_config

RUN = RunInfo(path=Path("/nonexistent"), run_id="20261129T101500Z-a1b2c3")


def _host(host_id: str, rows: dict[str, list[dict[str, str]]]) -> HostData:
    return HostData(
        ref=HostRef(RUN, host_id, Path("/nonexistent") / host_id),
        identity=HostIdentity(host=host_id, host_id=host_id, hostname=host_id),
        queries={q: QueryStatus(q, "ok") for q in rows},
        rows=rows,
    )


def _packages(names: list[str], version: str) -> list[dict[str, str]]:
    return [{"name": n, "version": version, "arch": "amd64"} for n in names]


WEB = [f"web-pkg-{i}" for i in range(12)]
DB = [f"db-pkg-{i}" for i in range(12)]


def _fleet():
    hosts = [_host(f"web-{i:02d}", {"deb_packages": _packages(WEB, "1.0")}) for i in range(12)]
    hosts += [_host(f"db-{i:02d}", {"deb_packages": _packages(DB, "2.0")}) for i in range(12)]
    return build_fleet(hosts, default_config()).index


def test_two_apps_are_two_populations_with_their_own_hosts():
    index = _fleet()
    clustering = cluster_profiles(index, index.document_frequency())
    assert len(clustering.populations) == 2
    host_cluster = [int(clustering.profile_cluster[h.profile]) for h in index.hosts]
    assert len(set(host_cluster[:12])) == 1 and len(set(host_cluster[12:])) == 1
    assert host_cluster[0] != host_cluster[12]
    assert sorted(clustering.sizes.values()) == [12, 12]
    assert all(clustering.nearest_population[p] == p for p in clustering.populations)


def test_significance_is_one_weight_per_feature():
    index = _fleet()
    significance = feature_significance(index)
    assert len(significance) == len(index.feature_values) and (significance > 0).all()
