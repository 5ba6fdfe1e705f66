"""`diffy report ANALYSIS_JSON`: render a saved analysis as a table, HTML or JSON."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

import click

from diffy_analysis.contract import ANALYSIS_FORMAT, schema_errors
from diffy_analysis.errors import ReportError
from diffy_analysis.findings import Analysis

FORMATS = ("table", "html", "json")  # the keys of report.RENDERERS (tested)


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


def render(analysis: Analysis, fmt: str, stream: TextIO, *, color: bool | None, quiet: bool) -> None:
    """Render ``analysis`` in format ``fmt`` (a key of ``report.RENDERERS``) to ``stream``."""
    from diffy_analysis.report import render as render_report  # noqa: PLC0415 - keep `--help` fast

    options = {"color": color, "quiet": quiet} if fmt == "table" else {}
    render_report(analysis, fmt, stream, **options)


@contextlib.contextmanager
def _output_file(path: Path):
    """A file written next to ``path`` and moved over it only when complete (mode 0600: evidence)."""
    directory = path.parent if str(path.parent) else Path()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as err:
        raise ReportError(f"cannot write {path}: {err.strerror or err}") from err
    try:
        # backslashreplace: a lone surrogate (from a non-UTF-8 value) in JSON output becomes the
        # JSON escape \udcXX, which reads back as the same value; the other formats are ASCII-safe.
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace", newline="\n") as stream:
            yield stream
        Path(tmp).replace(path)
    except OSError as err:
        raise ReportError(f"cannot write {path}: {err.strerror or err}") from err
    finally:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()


@click.command()
@click.argument("analysis_json", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="table: ranked hosts and verdict for a terminal; html: one self-contained file with "
    "dendrogram, heatmap and evidence; json: the diffy-analysis/1 document again.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write the report to this file (replaced only once complete) instead of standard output.",
)
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
    if output and output != "-":
        with _output_file(Path(output)) as stream:
            render(analysis, fmt, stream, color=color, quiet=quiet)
    else:
        if isinstance(sys.stdout, io.TextIOWrapper):
            sys.stdout.reconfigure(errors="backslashreplace")  # as for files, see _output_file
        render(analysis, fmt, sys.stdout, color=color, quiet=quiet)
    return analysis.exit_code
