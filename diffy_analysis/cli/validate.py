"""`diffy validate --atomics PATH`: which Atomic Red Team procedures a validation runs, and why the
others are left out (diffy_analysis/validate/atomics.py); with --run, run them on isolated lab
hosts and print the coverage table (tools/diffy_lab/validate/runner.py)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import click

from diffy_analysis.cli.machine_output import machine_format_option
from diffy_analysis.errors import EXIT_CLEAN, EXIT_FOUND, UsageError
from diffy_analysis.validate.atomics import Plan
from diffy_analysis.validate.coverage import Coverage


@click.command()
@click.option(
    "--atomics",
    "atomics",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="A local checkout of Atomic Red Team (its root, or its atomics/ directory).",
)
@click.option(
    "--reanalyse",
    "reanalyse_work",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Judge the runs a finished --run collected in this --work directory again with the current "
    "engine (nothing is run; no --atomics needed); writes WORK/coverage-reanalysed.json.",
)
@click.option(
    "--technique", "techniques", multiple=True, help="Only this technique (repeatable), e.g. T1546.004."
)
@machine_format_option("the selected tests and a count of exclusions by reason")
@click.option("--show-excluded", is_flag=True, help="List every excluded test with its reason.")
@click.option("--run", "run_them", is_flag=True, help="Run the selection on isolated lab hosts (needs root).")
@click.option("--limit", type=click.IntRange(min=1), help="With --run: only the first N selected tests.")
@click.option("--work", type=click.Path(path_type=Path, file_okay=False), help="With --run: results, logs.")
@click.option("--name", default="val", show_default=True, help="With --run: the lab's name.")
@click.option("--subnet", default="10.213.112.0/24", show_default=True, help="With --run: the lab's subnet.")
@click.option("--batch", type=click.IntRange(1, 60), default=6, show_default=True, help="Atomic hosts a lab.")
@click.option(
    "--reference", type=click.IntRange(2, 60), default=8, show_default=True, help="Clean reference hosts."
)
@click.option("--html", "html_out", type=click.Path(path_type=Path, dir_okay=False), help="Also write HTML.")
def validate(
    *,
    atomics: Path | None,
    reanalyse_work: Path | None,
    techniques: tuple[str, ...],
    as_json: bool,
    show_excluded: bool,
    run_them: bool,
    limit: int | None,
    work: Path | None,
    name: str,
    subnet: str,
    batch: int,
    reference: int,
    html_out: Path | None,
) -> int:
    """Select the Linux atomic tests that run offline, unattended, and leave durable state.

    Prints the selected tests (technique, test number, name) and a count of exclusions by reason;
    --show-excluded lists each one. With --run, runs each selected test on its own lab host with full
    filesystem isolation (docs/validation.md), collects with playbooks/collect.yml, analyses in
    baseline and peers mode, and prints the coverage table: detected, missed, and not exercised by
    the lab (with the reason), rates over the tests exercised and over all run. --reanalyse WORK
    judges a finished run's collected batches again with the current engine, running nothing.

    Exit status: 0 (with --run: every test detected both ways, no clean host flagged), 1 with --run
    when a test was missed or a clean host flagged, 2 on trouble.
    """
    from diffy_analysis.report._escape import safe_text  # noqa: PLC0415 - lazy, keeps --help fast
    from diffy_analysis.validate.atomics import plan  # noqa: PLC0415

    if reanalyse_work is not None:
        return _reanalyse(reanalyse_work, as_json=as_json, html_out=html_out)
    if atomics is None:
        raise UsageError("give --atomics PATH (a checkout of Atomic Red Team), or --reanalyse WORK")
    result = plan(atomics, techniques=techniques)
    if run_them:
        return _run(
            result, atomics=atomics, limit=limit, work=work, as_json=as_json, html_out=html_out,
            lab=(name, subnet, batch, reference),
        )  # fmt: skip
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return EXIT_CLEAN
    click.echo(
        f"{result.techniques} technique files; {len(result.selected)} tests selected, "
        f"{len(result.excluded)} excluded"
    )
    for atomic in result.selected:
        prereq = f" ({len(atomic.prereqs)} prerequisites)" if atomic.prereqs else ""
        click.echo(f"  run  {atomic.test_id:<14} {safe_text(atomic.name)}{prereq}")
    reasons = Counter(e.reason.split(" (")[0] for e in result.excluded)
    click.echo("excluded:")
    for reason, count in reasons.most_common():
        click.echo(f"  {count:>5}  {safe_text(reason)}")
    if show_excluded:
        for e in result.excluded:
            click.echo(f"  skip {e.technique}-{e.number:<6} {safe_text(e.name)}: {safe_text(e.reason)}")
    return EXIT_CLEAN


def _run(
    result: Plan, *, atomics: Path, limit: int | None, work: Path | None, as_json: bool,
    html_out: Path | None, lab: tuple[str, str, int, int],
) -> int:  # fmt: skip
    """Run the selection (``lab``: name, subnet, batch size, reference hosts) and print coverage."""
    import tempfile  # noqa: PLC0415

    from diffy_analysis.extras import require_devtools  # noqa: PLC0415

    # The lab driver is dev tooling (tools/diffy_lab/validate), never in the wheel.
    require_devtools("diffy_lab", "running a validation on lab hosts (`diffy validate --run`)")
    from diffy_lab.validate.runner import RunConfig, validate  # noqa: PLC0415

    selected = result.selected[:limit] if limit else result.selected
    if not selected:
        raise UsageError("no atomic test selected: nothing to run")
    work = work or Path(tempfile.mkdtemp(prefix="diffy-validate-"))
    name, subnet, batch, reference = lab
    cfg = RunConfig(root=atomics, work=work, name=name, subnet=subnet, batch=batch, reference=reference)
    coverage = validate(selected, cfg, say=lambda line: click.echo(line, err=True))
    coverage.excluded = Counter(e.reason.split(" (")[0] for e in result.excluded)
    coverage.engine["selected"] = len(result.selected)
    return _emit(coverage, work / "coverage.json", as_json=as_json, html_out=html_out)


def _reanalyse(work: Path, *, as_json: bool, html_out: Path | None) -> int:
    from diffy_analysis.extras import require_devtools  # noqa: PLC0415

    require_devtools("diffy_lab", "re-analysing a validation's collected runs (`diffy validate --reanalyse`)")
    from diffy_lab.validate.runner import reanalyse  # noqa: PLC0415

    coverage = reanalyse(work, say=lambda line: click.echo(line, err=True))
    previous = json.loads((work / "coverage.json").read_text())
    coverage.excluded = Counter(previous.get("excluded") or {})
    return _emit(coverage, work / "coverage-reanalysed.json", as_json=as_json, html_out=html_out)


def _emit(coverage: Coverage, out: Path, *, as_json: bool, html_out: Path | None) -> int:
    """Write the coverage document to ``out`` (and HTML), print it, and give the exit status."""
    from diffy_analysis.validate import report  # noqa: PLC0415

    work = out.parent
    doc = coverage.to_json()
    out.write_text(json.dumps(doc, indent=2) + "\n")
    if html_out:
        html_out.write_text(report.html_page(coverage), encoding="utf-8")
    click.echo(json.dumps(doc, indent=2) if as_json else report.text(coverage), nl=not as_json)
    click.echo(f"results, logs and coverage.json: {work}", err=True)
    summary = doc["summary"]
    # Exit 0 only when every test run was detected both ways: a test not exercised is no success.
    perfect = all(summary[m]["detected"] == summary["tests_run"] for m in ("baseline", "peers"))
    return EXIT_CLEAN if perfect and summary["clean_hosts_flagged"] == 0 else EXIT_FOUND
