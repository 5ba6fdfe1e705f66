"""A progress line for long analyses: "loading N of M hosts" on stderr, on a terminal or when asked.

The analysis reads its hosts through a ``load.HostSource``; :class:`CountingSource` wraps one and
reports every host it has dealt with (read or skipped), so the display needs nothing from the
analysis itself. By default the display is silent when stderr is not a terminal, and with
``--format json`` (machine output stays clean whatever the terminal); ``--progress`` asks for it
anyway (``--no-progress`` never shows it). It is transient: the line is gone before the report is
written.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from diffy_analysis.load import HostData, HostRef, HostSource, Reuse, TextFilter

_REDRAW = 0.1
"""Seconds between two redraws of the bar."""


class CountingSource:
    """A ``HostSource`` that calls ``on_host(done, total)`` after each host it streamed or skipped.

    Everything else is the wrapped source's (composition: listing, options, re-reads, pack)."""

    def __init__(self, source: HostSource, on_host: Callable[[int, int], None]) -> None:
        self.source = source
        self.on_host = on_host

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)

    def iter_hosts(
        self, text_filter: TextFilter | None = None, reuse: Reuse | None = None
    ) -> Iterator[HostData]:
        total = len(self.source.refs)
        skipped_before = len(self.source.skipped)
        self.on_host(0, total)
        hosts = self.source.iter_hosts(text_filter=text_filter, reuse=reuse)
        for read, host in enumerate(hosts, start=1):
            self.on_host(min(total, read + len(self.source.skipped) - skipped_before), total)
            yield host
        self.on_host(total, total)

    def read_host(self, ref: HostRef, *, queries: Iterable[str] | None = None) -> HostData:
        return self.source.read_host(ref, queries=queries)


def wanted(fmt: str, stream: IO[str]) -> bool:
    """Show progress only for people: stderr is a terminal and the output is not JSON."""
    isatty = getattr(stream, "isatty", None)
    return fmt != "json" and bool(isatty and isatty())


class LoadProgress:
    """Context manager around an analysis: a rich progress bar fed by :class:`CountingSource`."""

    def __init__(self, stream: IO[str] | None = None, *, force: bool = False) -> None:
        from rich.console import Console  # noqa: PLC0415 - only when shown
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            # force (--progress): drawn even when stderr is not a terminal (a log followed with tail)
            console=Console(file=stream, stderr=stream is None, force_terminal=True if force else None),
            transient=True,
            # no refresh thread: hosts may be read by forked workers (load.directory.fork_is_safe),
            # so the bar is redrawn from on_host, at most every _REDRAW seconds
            auto_refresh=False,
        )
        self.task = self.progress.add_task("opening the run", total=None)
        self._last = -1
        self._drawn = float("-inf")

    def __enter__(self) -> LoadProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def on_host(self, done: int, total: int) -> None:
        if done == self._last:
            return
        self._last = done
        text = f"loading {done} of {total} hosts" if done < total else f"analysing {total} hosts"
        self.progress.update(self.task, description=text, completed=done, total=total)
        now = time.monotonic()
        if now - self._drawn >= _REDRAW or done >= total:
            self._drawn = now
            self.progress.refresh()
