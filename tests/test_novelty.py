"""The fleet-calibrated null model of the verdict (analyze/novelty.py, tables/severity.py): benign
per-host novelty in a security table flags nobody, a row severe by its content still decides, and a
campaign's shared rows are not calibrated away."""

from __future__ import annotations

import copy

import pytest
from runbuilder import CRON, ROOT2, build_run, clean_fleet

from diffy_analysis.analyze.novelty import NoveltyNull
from diffy_analysis.api import analyze
from diffy_analysis.tables import REGISTRY


def _flagged(analysis):
    return sorted(h.host for h in analysis.hosts if h.outlier)


def _unique_benign_cron(hosts):
    """Every other host carries its own cron line no rule describes (a per-host job a config tool
    wrote on some hosts only: not a template most hosts hold, so nothing calls it random)."""
    for i, (_name, host) in enumerate(sorted(hosts.items())):
        if i % 2:
            continue
        # several columns differ at once, so no blanked column makes it a per-host random template
        word = ["alpha", "beta", "gamma", "delta", "omega"][i % 5] + str(i)
        row = dict(CRON, path=f"/etc/cron.d/{word}", minute=str(i % 60), command=f"root /opt/{word}/run")
        host.setdefault("crontab", []).append(row)
    return hosts


def test_rates_follow_the_fleet():
    null = NoveltyNull(12).fit([frozenset({"crontab"})] + [frozenset()] * 11)
    assert null.expected(frozenset({"crontab"})) == pytest.approx(0.5)
    assert null.significant(frozenset({"crontab"}))
    noisy = NoveltyNull(12).fit([frozenset({"crontab"})] * 12)
    assert not noisy.significant(frozenset({"crontab"}))
    # the host itself and two others show novelty in each table: 2.5/12 each, 0.21 > 0.15 alone
    three = [
        frozenset({"crontab", "users"}),
        frozenset({"crontab", "users"}),
        frozenset({"crontab", "users"}),
    ]
    two = NoveltyNull(12).fit(three)
    assert not two.significant(frozenset({"crontab"}))
    assert two.significant(frozenset({"crontab", "users"}))  # (2.5/12)^2 = 0.04


def test_severity_predicates_are_about_content():
    severe = REGISTRY.severity()
    assert severe["crontab"](CRON, "added")
    assert severe["crontab"](dict(CRON, command="root /usr/local/sbin/rotate"), "added") is None
    assert severe["users"](ROOT2, "added") == "a second uid-0 account"
    assert severe["users"](dict(ROOT2, uid="998", shell="/usr/sbin/nologin"), "added") is None


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_hosts_with_unique_benign_rows_flag_none(tmp_path, method):
    hosts = _unique_benign_cron(clean_fleet(12))
    base = copy.deepcopy(clean_fleet(1)["web-001"])
    run = build_run(tmp_path / "run", hosts)
    baseline = build_run(tmp_path / "base", {"base-0": base}) if method == "baseline" else None
    assert _flagged(analyze([run], baseline=baseline, method=method)) == []


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_the_same_fleet_plus_a_uid0_account_flags_exactly_that_host(tmp_path, method):
    hosts = _unique_benign_cron(clean_fleet(12))
    hosts["web-007"]["users"].append(dict(ROOT2))
    base = copy.deepcopy(clean_fleet(1)["web-001"])
    run = build_run(tmp_path / "run", hosts)
    baseline = build_run(tmp_path / "base", {"base-0": base}) if method == "baseline" else None
    assert _flagged(analyze([run], baseline=baseline, method=method)) == ["web-007"]


def test_a_lone_novel_row_in_a_quiet_fleet_still_flags(tmp_path):
    hosts = clean_fleet(12)
    hosts["web-004"].setdefault("crontab", []).append(dict(CRON, command="root /opt/x/beacon --every 5"))
    assert _flagged(analyze([build_run(tmp_path, hosts)])) == ["web-004"]


def test_a_three_host_campaign_in_a_noisy_30_host_fleet_is_flagged(tmp_path):
    hosts = _unique_benign_cron(clean_fleet(30))
    members = ["web-005", "web-012", "web-020"]
    for name in members:
        hosts[name]["users"].append(dict(ROOT2, uid="1500", gid="1500", directory="/home/svc-backup"))
    analysis = analyze([build_run(tmp_path, hosts)])
    assert _flagged(analysis) == members
    assert len(analysis.campaigns) == 1 and analysis.campaigns[0].hosts == tuple(members)


def _sharded(count: int):
    """Three shards, each mapping ``cache`` to its own address (name and address differ per shard)."""
    hosts = clean_fleet(count)
    for i, (_name, host) in enumerate(sorted(hosts.items())):
        shard = "abc"[i % 3]
        row = {"address": f"10.0.9.{10 + i % 3}", "hostnames": f"cache.{shard}.app.internal cache"}
        host.setdefault("etc_hosts", []).append(row)
    return hosts


@pytest.mark.parametrize("method", ["peers", "baseline"])
def test_a_table_split_in_shards_flags_nobody_even_from_one_shards_baseline(tmp_path, method):
    hosts = _sharded(30)
    base = copy.deepcopy(hosts["web-001"])  # the baseline is one shard's host: the others differ from it
    run = build_run(tmp_path / "run", hosts)
    baseline = build_run(tmp_path / "base", {"base-0": base}) if method == "baseline" else None
    assert _flagged(analyze([run], baseline=baseline, method=method)) == []


def test_a_campaign_rewriting_a_row_of_the_majority_is_not_a_split(tmp_path):
    """The hosts without the campaign's row hold the MAJORITY's row, not another minority group's."""
    hosts = clean_fleet(30)
    for host in hosts.values():
        host.setdefault("etc_hosts", []).append({"address": "10.0.9.10", "hostnames": "mirror.app.internal"})
    members = ["web-004", "web-017", "web-025"]
    for name in members:
        hosts[name]["etc_hosts"] = [{"address": "198.51.100.7", "hostnames": "mirror.app.internal"}]
    base = copy.deepcopy(hosts["web-001"])
    run = build_run(tmp_path / "run", hosts)
    baseline = build_run(tmp_path / "base", {"base-0": base})
    assert _flagged(analyze([run], baseline=baseline, method="baseline")) == members
    assert _flagged(analyze([run], method="peers")) == members
