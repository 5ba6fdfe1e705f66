"""The Python API of Diffy, for teams embedding it in their own tooling (the CLI is built on it).

from diffy_analysis.api import collect
from diffy_analysis.collect import CollectOptions
result = collect(CollectOptions(limit="app_x", inventory=(Path("inventory/aws_ec2.yml"),)))
print(result.run_dir, result.counts)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from diffy_analysis.collect import CollectOptions, CollectResult
    from diffy_analysis.collect.events import HostEventCallback
    from diffy_analysis.findings import Analysis


def collect(
    options: CollectOptions | None = None, *, on_host: HostEventCallback | None = None, **kwargs: Any
) -> CollectResult:
    """Run playbooks/collect.yml through ansible-runner and return the run's per-host outcomes.

    Pass a ``CollectOptions`` or its fields as keywords (``collect(limit="app_x")``). ``on_host``
    is called with (host, HostState) on every task event, e.g. for a progress display.
    Raises ``CollectionError`` when the run failed as a whole (no manifest was written).
    """
    from diffy_analysis.collect import CollectOptions  # noqa: PLC0415
    from diffy_analysis.collect import collect as _collect  # noqa: PLC0415

    if options is None:
        options = CollectOptions(**kwargs)
    elif kwargs:
        raise TypeError("pass either a CollectOptions or keyword fields, not both")
    return _collect(options, on_host=on_host)


def analyze(
    run_dirs: Any, *, baseline: Any = None, method: str = "auto", config: Any = None, **kwargs: Any
) -> Analysis:
    """Analyse results directories; return an :class:`~diffy_analysis.findings.Analysis`.

    ``run_dirs``: one or more run directories (or bare host directories). ``baseline``: a host
    directory, a one-host run, or the name of a baseline saved for the app. ``method``: ``auto``
    (baseline when one is given, else peers), ``peers`` or ``baseline``. ``config``: a config file
    path or a ``normalize.Config``. Keywords: ``prevalence`` (external row counts for the peers
    method), ``app``, ``results_root``, ``load_options``. See
    :func:`diffy_analysis.analyze.pipeline.analyze` for the details; raises DiffyError subclasses.
    """
    from diffy_analysis.analyze.pipeline import analyze as _analyze  # noqa: PLC0415 - keeps `import api` light

    return _analyze(run_dirs, baseline=baseline, method=method, config=config, **kwargs)
