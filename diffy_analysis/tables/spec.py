"""One declaration per table (query) of the default pack: everything every stage needs to know.

A :class:`TableSpec` holds the query's SQL (one text that both collectors answer: osqueryi, and the
native collector that runs the same SQL on the target host with SQLite), the pack's description and
rationale, the normalization defaults (key and volatile columns, significance, transforms), how the
explanations name it (row describer, subject column and prefix, account column), Elasticsearch
mapping hints (numeric columns), the columns never treated as population variants (content hashes,
keys), and the osquery tables its SQL reads, each of which the native collector must implement
(``plugins/module_utils``: the target side is stdlib-only and cannot import this package,
so the two sides are tied together by tests, not imports: tests/test_tables.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

Describer = Callable[[Mapping[str, str]], str]
Severe = Callable[[Mapping[str, str], str], "str | None"]
"""(normalized row, kind) -> why the row is an attacker's finding by content, or None (tables/severity.py)."""

DEFAULT_SIGNIFICANCE = 0.7
# Content hashes and keys are never population variants, in any pack's query (a user's own pack too).
ALWAYS_NEVER_VARIANT = frozenset({"sha256", "sha1", "md5", "hash", "key"})
COLLECTORS = ("osquery", "native")


@dataclass(frozen=True)
class TableSpec:
    """One query of the pack, declared once."""

    name: str
    sql: str
    description: str
    value: str
    """Why a responder cares (the pack's ``value`` field)."""
    keys: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    significance: float = DEFAULT_SIGNIFICANCE
    transforms: tuple[str, ...] = ()
    describe: Describer | None = None
    """What a row is, in plain English; None falls back to ``query: col=value, ...``."""
    subject: str | None = None
    """Column that names the thing a 'changed' finding is about (path, username...)."""
    subject_prefix: str = ""
    account: str | None = None
    """Column naming a local account (user, group, sudo rule): findings about one account are ranked
    as one subject across tables."""
    numeric: tuple[str, ...] = ()
    """Columns osquery declares INTEGER/BIGINT/DOUBLE (specs/**/*.table): ES gets a ``num`` field."""
    never_variant: tuple[str, ...] = ()
    """Columns whose differing values are never a benign population variant (hashes, keys, modes)."""
    severe: Severe | None = None
    """Intrinsic severity (tables/severity.py): a rare row it names decides its host's verdict alone."""
    appears_with_use: str | None = None
    """Why a row of this table APPEARING is a trace of use, not a change made to the host (a shell
    history file once someone ran a shell, a mail spool once a job mailed root): an added row that is
    not severe by its content is weak evidence; its loss, emptying or link away is what hides tracks."""
    rotates: tuple[str, ...] = ()
    """The columns naming an entry whose value is rotated as a whole (a user's key file): a group of
    hosts holding another value INSTEAD of the one most hosts hold there, as many as they do, holds
    another generation (a rotated key pair), not an addition (analyze/generations.py)."""
    timeout: int | None = None
    platform: str = "linux"
    collectors: tuple[str, ...] = COLLECTORS
    caps: str = ""
    """Bounds the SQL puts on what it reads (depth, count), documented and visible in the rows."""
    extra: Mapping[str, object] = field(default_factory=dict)

    @property
    def osquery_tables(self) -> frozenset[str]:
        """The tables the SQL reads (FROM/JOIN targets), which the native collector must build."""
        return frozenset(m.lower() for m in _TABLE_REF.findall(self.sql)) - _SQL_WORDS

    def rule(self) -> dict[str, object]:
        """The normalization defaults, as normalize/defaults.py has always exposed them."""
        return {
            "keys": self.keys,
            "ignore": self.ignore,
            "significance": self.significance,
            **({"transforms": self.transforms} if self.transforms else {}),
        }

    def pack_entry(self) -> dict[str, object]:
        entry: dict[str, object] = {
            "query": self.sql,
            "platform": self.platform,
            "description": self.description,
            "value": self.value,
        }
        if self.timeout:
            entry["timeout"] = self.timeout
        return entry


_TABLE_REF = re.compile(r"\b(?:FROM|JOIN)\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)
_SQL_WORDS = frozenset({"select"})


class Registry(Mapping[str, TableSpec]):
    """Name -> spec, in pack order. Built once from the group modules; tests may build their own."""

    def __init__(self, specs: Iterable[TableSpec]):
        self._specs: dict[str, TableSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ValueError(f"table {spec.name} declared twice")
            self._specs[spec.name] = spec

    def __getitem__(self, name: str) -> TableSpec:
        return self._specs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def rules(self) -> dict[str, dict[str, object]]:
        return {name: spec.rule() for name, spec in self._specs.items()}

    def describers(self) -> dict[str, Describer]:
        return {n: s.describe for n, s in self._specs.items() if s.describe is not None}

    def subjects(self) -> dict[str, tuple[str, str]]:
        return {n: (s.subject, s.subject_prefix) for n, s in self._specs.items() if s.subject}

    def accounts(self) -> dict[str, str]:
        return {n: s.account for n, s in self._specs.items() if s.account}

    def numeric_columns(self) -> frozenset[str]:
        return frozenset(c for s in self._specs.values() for c in s.numeric)

    def severity(self) -> dict[str, Severe]:
        return {n: s.severe for n, s in self._specs.items() if s.severe is not None}

    def appearing_traces(self) -> dict[str, str]:
        return {n: s.appears_with_use for n, s in self._specs.items() if s.appears_with_use}

    def rotating_entries(self) -> dict[str, tuple[str, ...]]:
        return {n: s.rotates for n, s in self._specs.items() if s.rotates}

    def never_variant(self) -> frozenset[str]:
        return ALWAYS_NEVER_VARIANT | {c for s in self._specs.values() for c in s.never_variant}

    def pack(self, *, version: str = "1.0.0") -> dict[str, object]:
        """The osquery-format pack (roles/diffy_collect/files/packs/linux-dfir.json) of these tables."""
        return {
            "platform": "linux",
            "version": version,
            "queries": {n: s.pack_entry() for n, s in self._specs.items()},
        }
