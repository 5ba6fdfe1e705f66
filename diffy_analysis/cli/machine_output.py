"""One option style for commands that print a result: ``--format text|json``.

Machine output (``--format json``) is the only thing such a command writes to standard output;
people's summaries and progress go to standard error, so ``diffy ... --format json | jq`` always
reads a clean document. ``--json`` stays as a hidden alias so existing scripts keep working.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

MACHINE_FORMATS = ("text", "json")


def machine_format_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add ``--format text|json`` (and the hidden alias ``--json``) to a click command; the
    command function receives one keyword, ``as_json``."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, output_format: str, json_alias: bool, **kwargs: Any) -> Any:
            return func(*args, as_json=json_alias or output_format == "json", **kwargs)

        wrapper = click.option(
            "--json", "json_alias", is_flag=True, hidden=True, help="Same as --format json."
        )(wrapper)
        return click.option(
            "--format",
            "output_format",
            type=click.Choice(MACHINE_FORMATS),
            default="text",
            show_default=True,
            help=f"text: {what} for people; json: one JSON document on standard output (nothing else).",
        )(wrapper)

    return decorate
