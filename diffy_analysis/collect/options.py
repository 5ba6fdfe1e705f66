"""What a collection run is asked to do: the ansible-runner inputs, as one frozen dataclass."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diffy_analysis.contract import DEFAULT_RESULTS_ROOT

COLLECTORS = ("auto", "osquery", "native")
# roles/osquery/meta/argument_specs.yml is the source of truth; tests/test_collect.py keeps them equal.
OSQUERY_INSTALL_MODES = ("existing", "repo", "package_file", "url", "ephemeral")
DEFAULT_TIMEOUT = 1800.0


def default_results_root() -> Path:
    return Path(os.environ.get("DIFFY_RESULTS_ROOT") or DEFAULT_RESULTS_ROOT)


@dataclass(frozen=True)
class CollectOptions:
    limit: str
    """Ansible --limit pattern, e.g. an app group (``app_x``) or an instance id."""
    inventory: tuple[Path, ...] = ()
    """Inventory files or directories; none means the one named in the project's ansible.cfg."""
    pack: Path | None = None
    """Query pack; none means the role's default (linux-dfir)."""
    collector: str = "auto"
    results_root: Path = field(default_factory=default_results_root)
    run_id: str | None = None
    """None: a new one (contract.new_run_id)."""
    osquery_install_mode: str | None = None
    playbook: str = "collect.yml"
    extravars: dict[str, Any] = field(default_factory=dict)
    """More extra vars for the playbook (e.g. baseline.yml's diffy_baseline_app / _name)."""
    timeout: float = DEFAULT_TIMEOUT
    forks: int | None = None
    keep_artifacts: Path | None = None
    """Keep ansible-runner's private data dir (events, stdout) here instead of deleting it."""
    result_dir: Path | None = None
    """Where the playbook writes the run, when not <results_root>/<run_id> (baseline.yml)."""

    def __post_init__(self) -> None:
        # Accept plain strings from API callers; store Paths.
        set_ = object.__setattr__
        set_(self, "inventory", tuple(Path(p) for p in self.inventory))
        set_(self, "results_root", Path(self.results_root))
        for name in ("pack", "keep_artifacts", "result_dir"):
            value = getattr(self, name)
            if value is not None:
                set_(self, name, Path(value))
