"""`diffy report ANALYSIS_JSON`: render a saved analysis as a table, HTML or JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from diffy_analysis.cli.output import report_output_options, write_report
from diffy_analysis.contract import ANALYSIS_FORMAT, schema_errors
from diffy_analysis.errors import ReportError
from diffy_analysis.findings import Analysis


def load_analysis(path: Path | str) -> Analysis:
    """Read a diffy-analysis/1 document (``-``: standard input), with a clear error when it is not one."""
    where = "standard input" if str(path) == "-" else str(path)
    try:
        raw = sys.stdin.buffer.read() if str(path) == "-" else Path(path).read_bytes()
    except OSError as err:
        raise ReportError(f"cannot read {where}: {err.strerror or err}") from err
    try:
        doc: Any = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ReportError(f"{where} is not UTF-8 text (byte {err.start})") from err
    except json.JSONDecodeError as err:
        raise ReportError(f"{where} is not JSON: {err.msg} at line {err.lineno}, column {err.colno}") from err
    if not isinstance(doc, dict) or doc.get("format") != ANALYSIS_FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise ReportError(
            f"{where} is not a {ANALYSIS_FORMAT} document (format: {found!r})",
            hint="write one with `diffy-analyze RUN_DIR --format json --output FILE`",
        )
    problems = schema_errors("analysis", doc)
    if problems:
        raise ReportError(f"{where} does not match the analysis schema: " + "; ".join(problems))
    try:
        return Analysis.from_json(doc)
    except (KeyError, TypeError, ValueError) as err:
        raise ReportError(f"{where} is not a usable analysis: {type(err).__name__}: {err}") from err


@click.command()
@click.argument("analysis_json", type=click.Path(dir_okay=False, allow_dash=True))
@report_output_options
@click.option(
    "--quiet", "-q", is_flag=True, help="table format: print only the verdict line(s), for scripts."
)
@click.option(
    "--color/--no-color",
    default=None,
    help="table format: force colour on or off (default: colour on a terminal unless NO_COLOR is set).",
)
def report(analysis_json: str, fmt: str, output: str | None, quiet: bool, color: bool | None) -> int:
    """Render a saved analysis (ANALYSIS_JSON, as written by `diffy-analyze --format json`).

    Use it to turn the JSON kept with a case into a report for people: a table in the terminal, or
    an HTML file that needs nothing but a browser (no network access, safe to attach to a ticket).
    ANALYSIS_JSON may be - for standard input.

    Exit status, as diff(1): 0 when no host stands out (or differs from the baseline), 1 when some
    do, 2 when the analysis cannot be read or the report cannot be written.
    """
    analysis = load_analysis(analysis_json)
    write_report(analysis, fmt, output, quiet=quiet, color=color)
    return analysis.exit_code
