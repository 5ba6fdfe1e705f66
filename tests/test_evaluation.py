"""Detection quality on generated fleets (issue 4's bar) and the evaluation harness itself.

The engine tests assert the bar of issue 4 on fixed seeds: host F1 >= 0.95, no host of a benign
sub-population flagged, and the injected artifact among its host's top 3 findings >= 95 %, for both
the peers and the baseline method.  The harness tests check the scoring on hand-made analyses, and
the naive per-host diff shows that the generated noise is real (it flags every host).
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from diffy_analysis.findings import Analysis, Finding, HostResult
from diffy_fleetgen import ARTIFACTS, FleetOptions, generate_fleet
from diffy_fleetgen.evaluate import main, markdown_table, run_method, score

SEEDS = {20: 7, 200: 7}


@pytest.fixture(scope="module")
def fleets(tmp_path_factory):
    out = tmp_path_factory.mktemp("fleets")
    return {n: generate_fleet(out, FleetOptions(hosts=n, seed=seed)) for n, seed in SEEDS.items()}


def _perfect(truth, *, extra_flagged: tuple[str, ...] = (), bury: str | None = None) -> Analysis:
    """An analysis that flags exactly the compromised hosts (plus ``extra_flagged``), each with its
    evidence as top findings; ``bury`` puts four unrelated findings first on that host."""
    hosts = []
    for host in truth.hosts:
        findings = []
        for artifact in truth.compromised.get(host, []):
            ev = artifact["evidence"][0]
            findings.append(Finding(ev["query"], ev["kind"], dict(ev["match"]), "injected", 1.0))
        if host == bury:
            noise = [Finding("processes", "added", {"name": f"x{i}"}, "noise", 2.0) for i in range(4)]
            findings = noise + findings
        outlier = host in truth.compromised or host in extra_flagged
        hosts.append(HostResult(host, host, float(outlier), outlier, 0, tuple(findings)))
    return Analysis("peers", (truth.run_id,), tuple(hosts))


def test_score_of_a_perfect_analysis(fleets):
    truth = fleets[200].truth()
    s = score(_perfect(truth), truth)
    assert (s.precision, s.recall, s.f1, s.top_rate) == (1.0, 1.0, 1.0, 1.0)
    assert s.hosts_shown == s.compromised
    assert not s.benign_population_flagged and s.false_positives == [] and s.missed_artifacts == []


def test_score_counts_false_positives_populations_and_buried_artifacts(fleets):
    truth = fleets[200].truth()
    canary = next(h for h in truth.populations["canary"] if h not in truth.compromised)
    victim = sorted(truth.compromised)[0]
    s = score(_perfect(truth, extra_flagged=(canary,), bury=victim), truth)
    assert s.false_positives == [canary] and s.population_flagged["canary"] == 1
    assert s.benign_population_flagged
    assert s.precision == pytest.approx(s.compromised / (s.compromised + 1))
    assert s.recall == 1.0
    assert {h for h, _ in s.missed_artifacts} == {victim}
    assert s.artifacts_anywhere == s.artifacts and s.artifacts_in_top < s.artifacts
    assert s.hosts_shown == s.compromised - 1  # the buried victim's top 3 shows only noise
    assert "| 200 | default | 7 | peers |" in markdown_table([s])


def test_naive_diff_flags_every_host(fleets):
    """The original tool's approach drowns in the generated noise: every host differs from the baseline."""
    fleet = fleets[20]
    truth = fleet.truth()
    analysis, _ = run_method(fleet, "naive")
    s = score(analysis, truth, method="naive")
    assert s.flagged == s.hosts and s.recall == 1.0
    assert s.precision == pytest.approx(len(truth.compromised) / len(truth.hosts))
    assert s.benign_population_flagged


@pytest.mark.parametrize("method", ["peers", "baseline"])
@pytest.mark.parametrize("hosts", sorted(SEEDS))
def test_engine_meets_the_detection_bar(fleets, hosts, method):
    fleet = fleets[hosts]
    truth = fleet.truth()
    analysis, _ = run_method(fleet, method)
    s = score(analysis, truth, method=method)
    detail = (
        f"{method} @ {hosts}: P={s.precision:.3f} R={s.recall:.3f} F1={s.f1:.3f} "
        f"top3={s.artifacts_in_top}/{s.artifacts} FP={s.false_positives[:5]} "
        f"FN={s.false_negatives[:5]} populations={s.population_flagged} noise={s.noise_flagged} "
        f"missed={s.missed_artifacts[:5]}"
    )
    assert s.skipped == 0, detail
    assert s.f1 >= 0.95, detail
    assert not s.benign_population_flagged, detail
    assert s.top_rate >= 0.95, detail


def test_cli_prints_a_table_and_a_summary(tmp_path):
    args = ["--sizes", "20", "--seeds", "1,2", "--methods", "naive", "--cache", str(tmp_path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "| 20 | default | 1 | naive | 1 | 20 | 0.050 |" in result.output
    assert "| naive | 2 | 40 | 2 |" in result.output  # pooled over both seeds
    bad = CliRunner().invoke(main, ["--scenarios", "nope", "--cache", str(tmp_path)])
    assert bad.exit_code == 2 and "nope" in bad.output


@pytest.fixture(scope="module")
def per_kind_fleets(tmp_path_factory):
    out = tmp_path_factory.mktemp("kinds")
    fleets = {
        kind: generate_fleet(out, FleetOptions(hosts=40, seed=4, inject=(kind,), compromised_fraction=0.1))
        for kind in ARTIFACTS
    }
    # seed 4 draws /etc/hosts redirects to 127.0.0.1 (the engine must not take them for a localhost line)
    redirects = fleets["hosts_redirect"].truth().compromised.values()
    assert {a["params"]["address"] for arts in redirects for a in arts} >= {"127.0.0.1"}
    return fleets


@pytest.mark.parametrize("method", ["peers", "baseline"])
@pytest.mark.parametrize("kind", sorted(ARTIFACTS))
def test_each_artifact_kind_is_found_and_shown(per_kind_fleets, kind, method):
    """One kind at a time on 40 hosts (4 compromised): every compromised host flagged, nothing else,
    and the artifact among the host's top 3 findings. Covers the five opt-in kinds as well."""
    fleet = per_kind_fleets[kind]
    analysis, _ = run_method(fleet, method)
    s = score(analysis, fleet.truth(), method=method)
    detail = (
        f"{kind}/{method}: FP={s.false_positives} FN={s.false_negatives} missed={s.missed_artifacts} "
        f"populations={s.population_flagged}"
    )
    assert s.false_negatives == [] and s.false_positives == [], detail
    assert s.artifacts_in_top == s.artifacts, detail
