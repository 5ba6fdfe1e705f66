"""Stage 1, collection: run the collection playbooks through ansible-runner and read what they wrote.

``collect(CollectOptions(...))`` runs playbooks/collect.yml (or baseline.yml), shows per-host
progress if asked, and returns a ``CollectResult`` built from the run's manifest: every host with
its status (ok, partial, failed, unreachable) and why.  See docs/orchestration.md.
"""

from __future__ import annotations

from diffy_analysis.collect.options import COLLECTORS, CollectOptions
from diffy_analysis.collect.result import CollectResult, HostOutcome
from diffy_analysis.collect.runner import collect, project_dir

__all__ = ["COLLECTORS", "CollectOptions", "CollectResult", "HostOutcome", "collect", "project_dir"]
