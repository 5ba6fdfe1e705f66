"""The coverage table of ``diffy validate --run`` as text and as a self-contained HTML page (the
JSON form is ``Coverage.to_json``). Every value that came from an atomic or a host is escaped."""

from __future__ import annotations

import html

from diffy_analysis.report._escape import safe_text
from diffy_analysis.validate.coverage import AtomicOutcome, Coverage

FINDING_WIDTH = 90


def _mark(detected: bool) -> str:
    return "yes" if detected else "no"


def _rate(summary: dict, method: str) -> str:
    """Both rates, always: "d/exercised (r%) of the tests exercised, d/all (r%) of all run"."""
    part = summary[method]

    def one(total: int, rate: float | None) -> str:
        return f"{part['detected']}/{total}" + (f" ({rate:.0%})" if rate is not None else "")

    return (
        f"{one(summary['exercised'], part['rate_exercised'])} of the tests exercised, "
        f"{one(summary['tests_run'], part['rate'])} of all run"
    )


def _css(mark: str) -> str:
    return "na" if mark == "n/a" else mark


def _what(t: AtomicOutcome) -> str:
    if t.baseline.finding or t.peers.finding:
        return str(t.baseline.finding or t.peers.finding)
    if t.not_exercised:
        return f"not exercised: {t.not_exercised}"
    left = t.execution.get("durable_sample") or []
    # What the lab saw the test leave: where the pack (or the verdict) did not look.
    return f"missed: {t.miss_reason}" + (f"; it left {', '.join(left[:3])}" if left else "")


def _mark_of(t: AtomicOutcome, detected: bool) -> str:
    return "n/a" if t.not_exercised else _mark(detected)


def text(coverage: Coverage) -> str:
    s = coverage.summary()
    lines = [f"{'technique':<12} {'test':>4}  {'baseline':<8} {'peers':<5}  finding / reason"]
    for t in coverage.tests:
        what = _what(t)
        lines.append(
            f"{t.technique:<12} {t.test:>4}  {_mark_of(t, t.baseline.detected):<8} "
            f"{_mark_of(t, t.peers.detected):<5}  {safe_text(what)[:FINDING_WIDTH]}"
        )
        lines.append(f"{'':<19}{safe_text(t.name)[:FINDING_WIDTH]}")
    flagged = [c for c in coverage.clean if c.baseline.detected or c.peers.detected]
    lines += [
        "",
        f"{s['tests_run']} atomic tests of {s['techniques']} techniques run, one per isolated lab host; "
        f"{s['exercised']} exercised, {s['not_exercised']} not exercised by this lab:",
        *(f"  {count:>4}  {safe_text(reason)}" for reason, count in s["not_exercised_by_reason"].items()),
        f"detected in baseline mode: {_rate(s, 'baseline')}",
        f"detected in peers mode:    {_rate(s, 'peers')} (with {coverage.engine.get('reference_hosts', '?')} "
        "clean reference hosts)",
        f"clean hosts flagged: {s['clean_hosts_flagged']} of {s['clean_hosts']} analyses of clean hosts",
    ]
    if s["detected_without_durable_change"]:
        lines.append(
            f"warning: {s['detected_without_durable_change']} detected tests left no change the lab's "
            "snapshots record: the snapshots miss a place, and 'left no durable change' may hide misses"
        )
    for c in flagged:
        finding = safe_text(c.baseline.finding or c.peers.finding or "")
        lines.append(f"  clean host {c.host} (batch {c.batch}) flagged: {finding}")
    if coverage.excluded:
        excluded = sum(coverage.excluded.values())
        lines.append(f"not run: {excluded} tests excluded by the selection (see --show-excluded)")
    return "\n".join(lines) + "\n"


def html_page(coverage: Coverage) -> str:
    s = coverage.summary()
    e = html.escape
    reasons = s["not_exercised_by_reason"].items()
    unexercised = (" (" + "; ".join(f"{n}: {r}" for r, n in reasons) + ")") if reasons else ""
    rows = []
    for t in coverage.tests:
        what = _what(t)
        base, peers = _mark_of(t, t.baseline.detected), _mark_of(t, t.peers.detected)
        rows.append(
            "<tr>"
            f"<td>{e(t.technique)}</td><td>{t.test}</td><td>{e(t.name)}</td>"
            f"<td class={_css(base)}>{base}</td><td class={_css(peers)}>{peers}</td><td>{e(what)}</td>"
            "</tr>"
        )
    clean = "".join(
        f"<li>{e(c.host)} (batch {c.batch}): {e(c.baseline.finding or c.peers.finding or '')}</li>"
        for c in coverage.clean
        if c.baseline.detected or c.peers.detected
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Diffy validation coverage</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .5em;vertical-align:top}} .yes{{background:#d9f2d9}}
.no{{background:#f8d7d7}} .na{{background:#eee}}
</style></head><body>
<h1>Diffy validation coverage</h1>
<p>{s["tests_run"]} atomic tests of {s["techniques"]} techniques, one per isolated lab host;
{s["exercised"]} exercised, {s["not_exercised"]} not exercised by this lab{e(unexercised)}.
Baseline mode: <b>{e(_rate(s, "baseline"))}</b>. Peers mode: <b>{e(_rate(s, "peers"))}</b>
(with {e(str(coverage.engine.get("reference_hosts", "?")))} clean reference hosts).
Clean hosts flagged: <b>{s["clean_hosts_flagged"]}</b> of {s["clean_hosts"]}.</p>
<table><thead><tr><th>technique</th><th>test</th><th>name</th><th>baseline</th><th>peers</th>
<th>finding that caught it, or why it was missed</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
{f"<h2>Clean hosts flagged</h2><ul>{clean}</ul>" if clean else ""}
</body></html>
"""
