"""Findings carry the facts their sentence is made of, and every report renders from those facts.

The reporters once re-parsed analyze's English with patterns ("; on N of M hosts"), so rewording an
explanation silently broke the reports.  Here the sentence is reworded (a describer replaced, the
stored explanation overwritten) on a real generated fleet analysed by the real engine, and every
report must still show the right words, counts and subjects, HTML-escaped.
"""

from __future__ import annotations

import dataclasses
import io
import json

import pytest

from diffy_analysis import contract
from diffy_analysis.analyze import explain
from diffy_analysis.api import analyze
from diffy_analysis.findings import Analysis, Change, Facts, Finding, sentence
from diffy_analysis.report import render
from diffy_fleetgen import FleetOptions, generate_fleet


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    # 12 hosts (seed 7): the outlier has a kernel module no other host has and lacks an iptables
    # rule its peers have (an added and a missing finding).
    return generate_fleet(
        tmp_path_factory.mktemp("facts") / "fleet", FleetOptions(hosts=12, seed=7, unreachable=1), workers=1
    )


def _reports(analysis: Analysis) -> dict[str, str]:
    out = {}
    for name, fmt, options in (
        ("table", "table", {"color": False}),
        ("quiet", "table", {"color": False, "quiet": True}),
        ("html", "html", {}),
        ("json", "json", {}),
    ):
        stream = io.StringIO()
        render(analysis, fmt, stream, **options)
        out[name] = stream.getvalue()
    return out


def _finding(analysis: Analysis, query: str) -> Finding:
    return next(f for h in analysis.outliers for f in h.findings if f.query == query)


def test_sentence_is_worded_from_the_facts():
    added = Facts("name", "x", "kernel module x (Live)", "peers", weak="port differs on almost every host")
    assert sentence("added", added, 1, 250) == (
        "kernel module x (Live); on 1 of 250 hosts; weak evidence: port differs on almost every host"
    )
    assert sentence("added", added, 1, 250, counts=False) == (
        "kernel module x (Live); weak evidence: port differs on almost every host"
    )
    missing = Facts(None, None, "rule r is missing", "peers", peers_with_row=3, peers=4)
    assert sentence("missing", missing, 11, 12) == "rule r is missing; present on 3 of 4 peers"
    assert sentence("missing", missing, 11, 12, counts=False) == "rule r is missing"
    base = Facts("path", "/p", "/p added (not on the baseline)", "baseline")
    assert sentence("added", base, 1, 20) == "/p added (not on the baseline)"


def test_explanation_is_the_sentence_of_its_facts(fleet):
    """Built in one place, for every finding of a real analysis; the document validates and the
    facts survive a round trip through the JSON."""
    for method, options in (("peers", {}), ("baseline", {"baseline": fleet.baseline_dir})):
        analysis = analyze([fleet.run_dir], method=method, **options)
        findings = [f for h in analysis.hosts for f in h.findings]
        assert findings and all(f.facts is not None for f in findings)
        for f in findings:
            assert f.explanation == sentence(f.kind, f.facts, f.hosts_with_row, f.hosts_compared)
            assert f.facts.compared_with == method
        doc = json.loads(_reports(analysis)["json"])
        assert contract.schema_errors("analysis", doc) == []
        assert Analysis.from_json(doc) == analysis
    module = _finding(analysis, "kernel_modules")
    assert (module.facts.subject_column, module.facts.subject) == ("name", "rootkit_khook")


def test_changed_facts_name_both_values():
    ctx = explain.Context("baseline")
    found = explain.facts(
        "suid_bin",
        "changed",
        {"path": "/usr/bin/passwd", "mode": "4755", "username": "root"},
        ctx,
        reference_row={"path": "/usr/bin/passwd", "mode": "0755", "username": "root"},
        changed_columns=("mode",),
    )
    assert found.changes == (Change("mode", "0755", "4755"),)
    assert found.subject == "/usr/bin/passwd" and "mode" in found.statement


def test_a_reworded_describer_shows_in_every_report_with_the_right_counts(fleet, monkeypatch):
    """Describers worded otherwise, with markup and count-like phrases of their own: the reports show
    the new words whole, the fleet's real counts next to them, and escape the markup in HTML."""
    module_words = "<i>{name}</i> in the kernel, on 7 of 7 hosts"
    monkeypatch.setitem(explain.DESCRIBERS, "kernel_modules", lambda row: module_words.format(**row))
    monkeypatch.setitem(
        explain.DESCRIBERS, "iptables", lambda row: f"rule {row['chain']}/{row['target']} (one of 12 hosts)"
    )
    analysis = analyze([fleet.run_dir], method="peers")
    module, rule = _finding(analysis, "kernel_modules"), _finding(analysis, "iptables")
    assert (module.hosts_with_row, module.hosts_compared) == (1, 12)
    assert rule.kind == "missing" and rule.hosts_compared == 12 and rule.hosts_with_row > 1
    reports = _reports(analysis)
    moduled = "<i>rootkit_khook</i> in the kernel, on 7 of 7 hosts"
    ruled = "rule INPUT/DROP (one of 12 hosts) is missing"
    # The verdict: the describers' words whole (no count-like phrase cut away), no fleet count.
    assert f"({ruled}, {moduled})" in reports["quiet"]
    table = reports["table"]
    assert f"[added] {moduled}; on 1 of 12 hosts  (kernel_modules)" in table
    # "of 12 hosts" in the words does not stand for the count: the real one is still added.
    counted = f"present on {rule.hosts_with_row} of 12 hosts"
    assert f"[missing] {ruled}; present on" in table and counted in table
    html = reports["html"]
    assert "&lt;i&gt;rootkit_khook&lt;/i&gt; in the kernel, on 7 of 7 hosts" in html
    assert "<i>rootkit_khook" not in html
    assert f"{ruled}; present on" in html and counted in html
    doc = json.loads(reports["json"])
    found = next(f for h in doc["hosts"] for f in h["findings"] if f["query"] == "kernel_modules")
    assert found["facts"]["statement"] == moduled and found["facts"]["subject"] == "rootkit_khook"


def test_reports_never_read_the_sentence(fleet):
    """Overwrite every stored explanation: the terminal and HTML reports do not change at all."""
    analysis = analyze([fleet.run_dir], method="peers")
    before = _reports(analysis)

    def reworded(f):
        return dataclasses.replace(f, explanation="REWORDED on 99 of 99 hosts")

    hosts = tuple(dataclasses.replace(h, findings=tuple(map(reworded, h.findings))) for h in analysis.hosts)
    after = _reports(dataclasses.replace(analysis, hosts=hosts))
    for name in ("table", "quiet", "html"):
        assert after[name] == before[name]
    assert "REWORDED" in after["json"]  # the sentence itself is still what the JSON carries


def test_a_finding_without_facts_is_shown_as_written():
    """A document written before facts: its sentence as written, never parsed, the count added."""
    from diffy_analysis.report._words import finding_words, short_words

    old = Finding("crontab", "missing", {"command": "x"}, "cron x is missing; on 1 of 3 hosts", 1.0)
    old = dataclasses.replace(old, hosts_with_row=2, hosts_compared=3)
    assert finding_words(old) == "cron x is missing; on 1 of 3 hosts, present on 2 of 3 hosts"
    assert short_words(old) == "cron x is missing; on 1 of 3 hosts"


def test_campaign_artifacts_carry_facts_and_the_reports_show_their_words(tmp_path, monkeypatch):
    """Three hosts of 24 share a uid-0 user: one campaign, its summary worded from the artifact's
    facts (here a reworded describer), in the terminal and HTML reports alike."""
    from runbuilder import build_run, clean_fleet

    monkeypatch.setitem(
        explain.DESCRIBERS, "users", lambda row: f"account <{row['username']}> with uid {row['uid']}"
    )
    hosts = clean_fleet(24)
    members = ["web-003", "web-004", "web-005"]
    for name in members:
        hosts[name]["users"].append(
            {"username": "svc-backup", "uid": "0", "gid": "0", "shell": "/bin/bash", "directory": "/root"}
        )
    analysis = analyze([build_run(tmp_path, hosts)], method="peers")
    (campaign,) = analysis.campaigns
    (artifact,) = [a for a in campaign.artifacts if a.query == "users"]
    assert artifact.facts is not None and artifact.facts.subject == "svc-backup"
    assert artifact.explanation == artifact.facts.statement == "account <svc-backup> with uid 0"
    assert campaign.summary.startswith("campaign: 3 hosts share users row account <svc-backup> with uid 0")
    reports = _reports(analysis)
    assert "users row account <svc-backup> with uid 0" in reports["table"]
    assert "users row account &lt;svc-backup&gt; with uid 0" in reports["html"]
    assert "<svc-backup>" not in reports["html"]


def test_facts_from_a_later_version_are_read_leniently():
    """Facts are additive: a field a later version adds is left out, not a crash of `diffy report`."""
    doc = {"subject_column": "path", "subject": "/x", "statement": "s", "compared_with": "peers"}
    later = {**doc, "changes": [{"column": "mode", "before": "0755", "after": "4755"}], "novel": 1}
    expected = Facts("path", "/x", "s", "peers", changes=(Change("mode", "0755", "4755"),))
    assert Facts.from_json(later) == expected
    assert Facts.from_json(None) is None
