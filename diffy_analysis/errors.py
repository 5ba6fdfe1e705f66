"""The one error hierarchy of Diffy.

Library code raises these; the CLI (``diffy_analysis.cli.main.run``) is the single place that turns
them into a one-line message on stderr and an exit code.  Exit codes follow diff(1):
0 nothing found, 1 differences/outliers found, 2 trouble.  Every error here means "trouble".
"""

from __future__ import annotations

EXIT_CLEAN = 0
EXIT_FOUND = 1
EXIT_TROUBLE = 2


class DiffyError(Exception):
    """Base class: a problem the user can act on. ``str(err)`` is the message shown to them."""

    exit_code: int = EXIT_TROUBLE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UsageError(DiffyError):
    """Wrong or contradictory arguments or options."""


class ConfigError(DiffyError):
    """A configuration file (analysis config, query pack) is unreadable or invalid."""


class ResultsError(DiffyError):
    """A results directory cannot be used at all (no manifest, wrong format, nothing usable)."""


class HostDataError(DiffyError):
    """One host's data is unusable. Caught per host by the loader and reported as skipped."""


class IntegrityError(DiffyError):
    """Files of a run do not match the hashes of its manifest."""


class CollectionError(DiffyError):
    """Running the collection playbook failed as a whole (not a single host)."""


class BaselineError(DiffyError):
    """A named baseline is missing or cannot be saved."""


class StoreError(DiffyError):
    """Elasticsearch could not be reached, or refused or lost documents."""


class LabError(DiffyError):
    """The local lab fleet could not be brought up or down."""


class ReportError(DiffyError):
    """A saved analysis cannot be read, or a report cannot be written."""


class MissingExtraError(DiffyError):
    """An optional part of Diffy (collection, Elasticsearch, HTML pictures) is used, but the Python
    packages of its extra are not installed."""
