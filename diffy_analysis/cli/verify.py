"""`diffy verify RUN_DIR...`: re-hash a run's files against its manifest."""

from __future__ import annotations

import json
from pathlib import Path

import click

from diffy_analysis.cli.machine_output import machine_format_option
from diffy_analysis.errors import EXIT_CLEAN, EXIT_FOUND
from diffy_analysis.verify import verify_run


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path, file_okay=False))
@machine_format_option("one line per run")
def verify(run_dirs: tuple[Path, ...], as_json: bool) -> int:
    """Re-hash every file of each RUN_DIR against the run's manifest.json.

    Reports every file whose content or size changed, every file the manifest lists that is gone,
    every file under hosts/ that the manifest does not list, and every symlink (never followed).

    Exit status: 0 when every run verifies, 1 on any mismatch, 2 when a run cannot be read.
    """
    from diffy_analysis.report._escape import safe_text  # noqa: PLC0415 - lazy, keeps --help fast

    reports = [verify_run(d) for d in run_dirs]
    if as_json:
        doc = [
            {
                "run_dir": str(r.run_dir),
                "run_id": r.run_id,
                "ok": r.ok,
                "files_checked": r.files_checked,
                "bytes_checked": r.bytes_checked,
                "problems": [{"path": p.path, "problem": p.problem, "detail": p.detail} for p in r.problems],
            }
            for r in reports
        ]
        click.echo(json.dumps(doc, indent=2))
    else:
        for r in reports:
            status = "OK" if r.ok else f"{len(r.problems)} PROBLEM(S)"
            click.echo(
                f"{r.run_dir} (run {r.run_id}): {r.files_checked} files, {r.bytes_checked} bytes: {status}"
            )
            for p in r.problems:  # file names under hosts/ may come from a host: escape them
                path = click.style(safe_text(p.path, 300), bold=True)
                click.echo(f"  {p.problem:<10} {path}  {safe_text(p.detail, 300)}")
    return EXIT_CLEAN if all(r.ok for r in reports) else EXIT_FOUND
