"""Hostile and broken results directories (tests/badruns.py): every case gets a clear one-line reason,
the other hosts are analysed, exit 2 only when nothing usable remains, never a traceback.

The corpus is built from one good run at test time; docs/security.md lists every case.
"""

from __future__ import annotations

import html
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from diffy_analysis.api import analyze
from diffy_analysis.cli.main import load_command, run
from diffy_analysis.load import open_results
from diffy_analysis.report import render
from diffy_analysis.verify import verify_run
from tests.badruns import (
    GOOD_HOSTS,
    HOST_CASES,
    OTHER_RUN_ID,
    RUN_CASES,
    build_good_run,
    build_hostile_run,
    case_host_id,
)

ANALYZE = [sys.executable, "-c", "from diffy_analysis.cli.main import analyze_main; analyze_main()"]
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hostile_run(tmp_path_factory.mktemp("hostile") / "results")


@pytest.fixture(scope="module")
def analysis(hostile_run: Path):
    return analyze([hostile_run])


def _skipped(analysis, label: str):
    return [s for s in analysis.skipped if s.host == label]


@pytest.mark.parametrize("case", HOST_CASES, ids=lambda c: c.name)
def test_each_broken_host_is_skipped_with_one_clear_line_or_analysed(case, analysis):
    host_id = case_host_id(case)
    analysed = [h for h in analysis.hosts if h.host_id == host_id]
    skipped = _skipped(analysis, host_id)
    if case.expect == "analysed":
        assert len(analysed) == 1 and not skipped, (case.what, skipped)
        if case.reason:  # what had to be repaired or ignored is noted on the host
            assert any(re.search(case.reason, note) for note in analysed[0].notes), analysed[0].notes
        return
    assert not analysed, f"{case.what}: analysed, expected skipped"
    assert len(skipped) == 1, (case.what, [s.host for s in analysis.skipped])
    reason = skipped[0].reason
    assert re.search(case.reason, reason), f"{case.what}: reason {reason!r} does not match {case.reason!r}"
    assert "\n" not in reason and "\r" not in reason and len(reason) <= 400
    assert "Traceback" not in reason
    assert skipped[0].status == case.status


def test_good_hosts_are_analysed_and_unremarkable(analysis):
    good = {h.host_id: h for h in analysis.hosts if h.host_id in GOOD_HOSTS}
    assert set(good) == set(GOOD_HOSTS)
    assert all(not h.outlier and not h.findings for h in good.values())


def test_nothing_is_lost_every_host_is_analysed_or_skipped(analysis):
    expected = len(GOOD_HOSTS) + len(HOST_CASES)
    assert len(analysis.hosts) + len(analysis.skipped) == expected


def test_unsafe_manifest_host_id_is_never_read(analysis, hostile_run):
    (evil,) = _skipped(analysis, "bad-manifest-unsafe-id")
    assert "not a safe host id" in evil.reason
    assert (hostile_run / "evil" / "host.json").is_file()  # it was there to be read
    doc = json.dumps(analysis.to_json())
    assert "OUTSIDE-THE-RUN" not in doc  # the symlink targets outside the run were never read


def test_invalid_utf8_is_replaced_and_noted_not_hidden(hostile_run):
    results = open_results([hostile_run])
    hosts = {h.ref.host_id: h for h in results.iter_hosts()}
    host = hosts["bad-invalid-utf8"]
    assert any("invalid UTF-8" in note for note in host.notes)
    (row,) = [r for r in host.rows["listening_ports"] if r.get("port") == "22"]
    assert "\ufffd" in row["name"]


def test_non_string_values_are_read_as_text(hostile_run):
    results = open_results([hostile_run])
    host = next(h for h in results.iter_hosts() if h.ref.host_id == "bad-non-string-values")
    rows = host.rows["listening_ports"]
    assert all(isinstance(v, str) for row in rows for v in row.values())
    assert rows[0]["port"] == "22"
    assert rows[2]["x"] == "true" and rows[2]["y"] == ""
    assert rows[2]["big"] == "1" + "0" * 60


def _cli(args: list[str], *, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "PYTHONPATH": str(REPO)}
    env.pop("DIFFY_DEBUG", None)
    return subprocess.run(
        ANALYZE + args,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
        errors="replace",
    )


@pytest.mark.parametrize("fmt", ["json", "table", "html"])
def test_real_cli_reports_every_skipped_host_and_never_a_traceback(fmt, hostile_run, analysis, tmp_path):
    out = tmp_path / f"report.{fmt}"
    proc = _cli([str(hostile_run), "--format", fmt, "--output", str(out)])
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    # hosts were skipped: exit 2 (trouble), even though the analysed hostile hosts stand out
    assert proc.returncode == 2, proc.stderr
    text = out.read_text(encoding="utf-8")
    if fmt == "json":
        doc = json.loads(text)
        assert doc["summary"]["hosts_skipped"] == len(analysis.skipped)
        assert {(s["host"], s["reason"]) for s in doc["skipped"]} == {
            (s.host, s.reason) for s in analysis.skipped
        }
        notes = {h["host_id"]: h["notes"] for h in doc["hosts"] if h["notes"]}
        assert set(notes) == {"bad-invalid-utf8", "bad-queries-not-in-pack"}
        assert notes["bad-invalid-utf8"] == ["listening_ports.json: invalid UTF-8 replaced with U+FFFD"]
        assert not any(g["query"].startswith("made_up") for h in doc["hosts"] for g in h["gaps"])
        return
    # table and HTML: every skip reason (its start), the partial host's gaps, and no raw escapes
    for skip in analysis.skipped:
        start = skip.reason[:30]
        shown = {start} if fmt == "table" else {html.escape(start), html.escape(start, quote=False)}
        assert any(s in text for s in shown), skip
    assert "timeout" in text and "unsupported" in text
    assert "invalid UTF-8 replaced" in text  # the repair is shown, not hidden
    assert "\x1b" not in text and "\x00" not in text and "\u202e" not in text


def _run_case_cli(path: Path, capsys) -> tuple[int, str]:
    code = run(load_command("analyze"), [str(path), "--format", "json"], prog_name="diffy-analyze")
    return code, capsys.readouterr().err


@pytest.mark.parametrize("case", [c for c in RUN_CASES if "fifo" not in c.name], ids=lambda c: c.name)
def test_broken_runs_are_trouble_with_one_line(case, tmp_path, capsys):
    target = case.apply(build_good_run(tmp_path / "results"))
    code, err = _run_case_cli(target, capsys)
    assert code == 2, err
    assert re.search(case.reason, err), f"{case.what}: {err!r}"
    assert err.count("\n") == 1 and "Traceback" not in err and "internal error" not in err


def test_a_planted_named_pipe_never_blocks_the_real_cli(tmp_path):
    (fifo_case,) = [c for c in RUN_CASES if c.name == "manifest-fifo"]
    target = fifo_case.apply(build_good_run(tmp_path / "results"))
    proc = _cli([str(target)], timeout=60)
    assert proc.returncode == 2 and "not a regular file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_same_run_twice_is_counted_once(tmp_path):
    good = build_good_run(tmp_path / "results")
    result = analyze([good, good])
    assert len(result.hosts) == len(GOOD_HOSTS)
    assert len(result.skipped) == len(GOOD_HOSTS)
    assert all("already given" in s.reason for s in result.skipped)


def test_duplicated_host_ids_across_two_runs_stay_distinct(tmp_path):
    first = build_good_run(tmp_path / "results")
    second = build_good_run(tmp_path / "results", run_id=OTHER_RUN_ID)
    result = analyze([first, second])
    assert len(result.hosts) == 2 * len(GOOD_HOSTS) and not result.skipped
    keys = {(h.run_id, h.host_id) for h in result.hosts}
    assert len(keys) == 2 * len(GOOD_HOSTS)
    assert {h.run_id for h in result.hosts} == {first.name, second.name}
    out = io.StringIO()
    render(result, "table", out, color=False)
    assert f"good-001 [{first.name}]" in out.getvalue() and f"good-001 [{second.name}]" in out.getvalue()


MANIFEST_BREAKING = {
    "manifest-unsafe-id",
    "bad-file-entry",
    "manifest-entry-bad-status",
    "manifest-entry-not-object",
}


def test_verify_reports_the_corpus_tampering_without_following_links_or_blocking(tmp_path):
    cases = tuple(c for c in HOST_CASES if c.name not in MANIFEST_BREAKING)
    report = verify_run(build_hostile_run(tmp_path / "results", cases))
    problems = {(p.path, p.problem) for p in report.problems}
    assert {
        ("hosts/bad-hash-differs/listening_ports.json", "changed"),
        ("hosts/bad-huge-file/listening_ports.json", "changed"),
        ("hosts/bad-result-symlink-outside/listening_ports.json", "symlink"),
        ("hosts/bad-host-json-symlink/host.json", "symlink"),
        ("hosts/bad-host-dir-symlink", "symlink"),
        ("hosts/bad-result-fifo/listening_ports.json", "missing"),
        ("hosts/bad-result-missing/listening_ports.json", "missing"),
        ("hosts/bad-file-not-in-manifest/listening_ports.json", "unexpected"),
    } <= problems
    assert not any("good-" in path for path, _ in problems)


def test_verify_refuses_a_manifest_that_breaks_its_schema(tmp_path, capsys):
    run_dir = build_hostile_run(
        tmp_path / "results", tuple(c for c in HOST_CASES if c.name == "bad-file-entry")
    )
    code = run(load_command("verify"), [str(run_dir)], prog_name="diffy verify")
    err = capsys.readouterr().err
    assert code == 2 and "invalid manifest" in err and "Traceback" not in err


@pytest.mark.parametrize("case", [c for c in HOST_CASES if c.status == "invalid"], ids=lambda c: c.name)
def test_a_broken_host_given_as_baseline_is_one_line_of_trouble_or_used(case, hostile_run, capsys):
    """`--baseline RUN/hosts/<id>` reads a bare host directory (no manifest, so no hash to check):
    either it is usable or the error is one line; never a traceback."""
    baseline = hostile_run / "hosts" / case_host_id(case)
    args = [str(hostile_run / "hosts" / GOOD_HOSTS[0]), "--baseline", str(baseline), "--format", "json"]
    code = run(load_command("analyze"), args, prog_name="diffy-analyze")
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "internal error" not in out.err, out.err
    if code == 2:
        assert out.err.count("\n") == 1 and out.err.startswith("diffy-analyze: error: "), out.err
    else:
        assert code in (0, 1) and json.loads(out.out)["method"] == "baseline"
