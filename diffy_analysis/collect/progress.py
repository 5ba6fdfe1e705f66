"""A live per-host progress display (rich) fed by the event tracker; goes to stderr."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from diffy_analysis.collect.events import HostState
from diffy_analysis.text import escape_unprintable

_STYLE = {"running": "cyan", "done": "green", "failed": "red", "unreachable": "red"}


def plain(text: str, limit: int) -> str:
    """Text from a host (its name, an error it returned) made printable and markup-free: rich passes
    ESC sequences through, and a compromised host must not write to the responder's terminal."""
    shown = escape_unprintable(text[: limit * 4])
    return escape(shown[:limit])


class HostProgress:
    """Context manager: one line per host showing its current task and counts."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            SpinnerColumn(finished_text="•"),
            TextColumn("{task.description}"),
            TextColumn("{task.fields[counts]}"),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.rows: dict[str, TaskID] = {}

    def __enter__(self) -> HostProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, host: str, state: HostState) -> None:
        label = "controller (manifest)" if host == "localhost" else plain(host, 60)
        if host not in self.rows:
            self.rows[host] = self.progress.add_task(f"{label:<24}", total=None, counts="", status="")
        style = _STYLE.get(state.state, "white")
        status = state.task if state.state == "running" else state.state
        if state.state in ("failed", "unreachable") and state.last_error:
            status = f"{state.state}: {state.last_error[:70]}"
        counts = f"{state.ok} ok" + (f", {state.failed} failed" if state.failed else "")
        finished = state.state != "running"
        self.progress.update(
            self.rows[host],
            counts=counts,
            status=f"[{style}]{plain(status, 80)}[/]",
            total=1 if finished else None,
            completed=1 if finished else 0,
        )
