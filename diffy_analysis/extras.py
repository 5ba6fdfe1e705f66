"""Optional dependencies, grouped as the package's extras (pyproject.toml):

* ``collect``: ansible (ansible-core + amazon.aws), ansible-runner, boto3 -- `diffy collect`, `diffy run`;
* ``es``: elasticsearch -- `--es-url`, `diffy index`;
* ``html``: matplotlib -- the HTML report's dendrogram and heatmap.

The dev tooling is not an extra but a second distribution in the checkout's tools/ (diffy_lab,
diffy_fleetgen: `pip install -e tools/`); `require_devtools` says so when it is absent.

An analysis-only install (`pip install diffy-analysis`) analyses and writes table and JSON reports.
Using a part whose extra is missing is a clear error naming the extra, never an ImportError.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from diffy_analysis.errors import MissingExtraError


def missing_extra(module: str, extra: str, purpose: str) -> MissingExtraError:
    """The error for ``purpose`` needing ``module`` of extra ``extra``; for modules that import an
    optional package at their top (``try: import x`` / ``except ImportError as err: raise
    missing_extra(...) from err``), which keeps static typing."""
    return MissingExtraError(
        f"{purpose} needs the Python package {module.split('.', maxsplit=1)[0]!r}, which is not installed",
        hint=f"pip install 'diffy-analysis[{extra}]'",
    )


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise MissingExtraError saying which extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise missing_extra(module, extra, purpose) from err


def require_devtools(module: str, purpose: str) -> ModuleType:
    """Import the dev tooling ``module`` (tools/ of a checkout, never in the wheel), or raise
    MissingExtraError saying how to get it; a dependency the tooling itself lacks is named too."""
    root = module.split(".", maxsplit=1)[0]
    try:
        return importlib.import_module(module)
    except ImportError as err:
        missing = (err.name or root).split(".", maxsplit=1)[0]
        if missing == root:
            raise MissingExtraError(
                f"{purpose} is test and demo tooling ({root}) that ships with a checkout of Diffy, "
                "not with the installed package",
                hint="git clone the project and run scripts/setup.sh (or `pip install -e tools/` in it)",
            ) from err
        raise MissingExtraError(
            f"{purpose} needs the Python package {missing!r}, which is not installed",
            hint="pip install -e 'tools/[lab]' from a checkout of Diffy",
        ) from err
