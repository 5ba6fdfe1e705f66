"""Following ansible-runner's event stream: per-host state for progress displays and error reasons."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
HostEventCallback = Callable[[str, "HostState"], None]


@dataclass
class HostState:
    host: str
    task: str = ""
    ok: int = 0
    failed: int = 0
    state: str = "running"
    """running | done | failed | unreachable."""
    last_error: str = ""


def _message(res: Any) -> str:
    if not isinstance(res, dict):
        return ""
    msg = res.get("msg") or res.get("stderr") or res.get("reason") or ""
    return " ".join(str(msg).split())[:300]


@dataclass
class EventTracker:
    """An ansible-runner ``event_handler`` that keeps one ``HostState`` per host."""

    on_change: HostEventCallback | None = None
    hosts: dict[str, HostState] = field(default_factory=dict)
    first_failure: str = ""
    warnings: list[str] = field(default_factory=list)
    """Ansible's own [WARNING]/[ERROR] lines (e.g. an inventory that could not be parsed), at most 20."""

    def __call__(self, event: dict[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        host = data.get("host")
        if kind == "verbose" and len(self.warnings) < 20:
            line = _ANSI.sub("", str(event.get("stdout") or "")).strip()
            if line.startswith(("[WARNING]", "[ERROR]")):
                self.warnings.append(line[:300])
        if not host or not kind.startswith("runner_on_"):
            return True
        state = self.hosts.setdefault(host, HostState(host))
        task = str(data.get("task") or "")
        if kind == "runner_on_start":
            state.task = task
        elif kind in ("runner_on_ok", "runner_on_skipped"):
            state.ok += 1
        elif kind == "runner_on_failed":
            if data.get("ignore_errors"):
                state.ok += 1
            else:
                state.failed += 1
                state.state = "failed"
                state.last_error = f"{task}: {_message(data.get('res'))}"
                self.first_failure = self.first_failure or f"{host}: {state.last_error}"
        elif kind == "runner_on_unreachable":
            state.state = "unreachable"
            state.last_error = _message(data.get("res"))
            self.first_failure = self.first_failure or f"{host} unreachable: {state.last_error}"
        if self.on_change:
            self.on_change(host, state)
        return True

    def finish(self) -> None:
        for state in self.hosts.values():
            if state.state == "running":
                state.state = "done"
            if self.on_change:
                self.on_change(state.host, state)
