"""Where reports go: standard output, or a file written whole and readable by its owner only.

Shared by `diffy-analyze` and `diffy report` (and `diffy run`, through the analyze command).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from diffy_analysis.errors import ReportError
from diffy_analysis.report import RENDERERS

if TYPE_CHECKING:
    from diffy_analysis.findings import Analysis


FORMATS = tuple(RENDERERS)


def report_output_options(command: Any) -> Any:
    """The --format and --output options of every command that writes a report."""
    command = click.option(
        "--output",
        "-o",
        type=click.Path(dir_okay=False, allow_dash=True),
        help="Write the report to this file (written whole, then moved into place; mode 0600) "
        "instead of standard output.",
    )(command)
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="table: ranked hosts with findings in plain English and a verdict; json: the "
        "diffy-analysis/1 document; html: one self-contained file with dendrogram, heatmap and evidence.",
    )(command)


@contextlib.contextmanager
def report_stream(output: Path | str | None) -> Iterator[TextIO]:
    """Standard output (``None`` or ``-``), or a file at ``output``.

    The file is written next to ``output`` and renamed over it only when complete, so a failed
    render never leaves half a report. A symlink at ``output`` is refused (someone may have planted
    it to make us clobber another file). Mode 0600 also when replacing a more open file: reports are
    evidence.
    Encoding errors use backslashreplace: a lone surrogate (from a non-UTF-8 value) becomes the JSON
    escape \\udcXX, which reads back as the same value; the other formats are ASCII-safe.
    """
    if output is None or str(output) == "-":
        if isinstance(sys.stdout, io.TextIOWrapper):
            sys.stdout.reconfigure(errors="backslashreplace")
        yield sys.stdout
        sys.stdout.flush()
        return
    path = Path(output)
    if path.is_symlink():
        raise ReportError(
            f"cannot write {path}: it is a symbolic link (reports are never written through links)"
        )
    directory = path.parent if str(path.parent) else Path()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as err:
        raise ReportError(f"cannot write {path}: {err.strerror or err}") from err
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace", newline="\n") as stream:
            yield stream
        Path(tmp).replace(path)
    except OSError as err:
        raise ReportError(f"cannot write {path}: {err.strerror or err}") from err
    finally:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()


def write_report(
    analysis: Analysis, fmt: str, output: Path | str | None, *, quiet: bool = False, color: bool | None = None
) -> None:
    """Render ``analysis`` in format ``fmt`` (a key of ``report.RENDERERS``) to ``output``."""
    from diffy_analysis.report import render  # noqa: PLC0415 - keeps `--help` fast

    options = {"quiet": quiet, "color": color} if fmt == "table" else {}
    with report_stream(output) as stream:
        render(analysis, fmt, stream, **options)
