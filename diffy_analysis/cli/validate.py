"""`diffy validate --atomics PATH`: which Atomic Red Team procedures a validation runs, and why the
others are left out (diffy_analysis/validate/atomics.py)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import click

from diffy_analysis.cli.machine_output import machine_format_option
from diffy_analysis.errors import EXIT_CLEAN


@click.command()
@click.option(
    "--atomics",
    "atomics",
    required=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="A local checkout of Atomic Red Team (its root, or its atomics/ directory).",
)
@click.option(
    "--technique", "techniques", multiple=True, help="Only this technique (repeatable), e.g. T1546.004."
)
@machine_format_option("the selected tests and a count of exclusions by reason")
@click.option("--show-excluded", is_flag=True, help="List every excluded test with its reason.")
def validate(atomics: Path, techniques: tuple[str, ...], as_json: bool, show_excluded: bool) -> int:
    """Select the Linux atomic tests that run offline, unattended, and leave durable state.

    Prints the selected tests (technique, test number, name) and a count of exclusions by reason;
    --show-excluded lists each one. Running the selection on isolated lab hosts and analysing the
    results is not part of this command yet (docs/validation.md).

    Exit status: 0, or 2 when the checkout cannot be read.
    """
    from diffy_analysis.report._escape import safe_text  # noqa: PLC0415 - lazy, keeps --help fast
    from diffy_analysis.validate.atomics import plan  # noqa: PLC0415

    result = plan(atomics, techniques=techniques)
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
