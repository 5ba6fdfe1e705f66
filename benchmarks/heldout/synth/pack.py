"""The query pack the generated fleets answer: query names and the columns each query returns.

Read from the project's own pack file so that a fleet always has exactly the pack's columns; if the
pack changes, the generator notices (``columns_of`` raises on an unknown query) instead of silently
writing stale shapes.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PACK_PATH = REPO / "roles" / "diffy_collect" / "files" / "packs" / "linux-dfir.json"

_SELECT = re.compile(r"^\s*SELECT\s+(?P<cols>.+?)\s+FROM\s", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Pack:
    name: str
    raw: bytes
    columns: dict[str, tuple[str, ...]]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    def columns_of(self, query: str) -> tuple[str, ...]:
        if query not in self.columns:
            raise KeyError(f"query {query!r} is not in the pack")
        return self.columns[query]


def _select_columns(sql: str) -> tuple[str, ...]:
    """Output column names of a simple ``SELECT a, t.b, c FROM ...`` (all this pack uses)."""
    m = _SELECT.match(sql)
    if not m:
        raise ValueError(f"cannot read the columns of: {sql[:60]}")
    names = []
    for raw in m.group("cols").split(","):
        item = raw.strip()
        if " AS " in item.upper():
            item = re.split(r"\s+AS\s+", item, flags=re.IGNORECASE)[1]
        names.append(item.split(".")[-1].strip())
    return tuple(names)


def load_pack(path: Path = PACK_PATH) -> Pack:
    raw = path.read_bytes()
    doc = json.loads(raw)
    cols = {name: _select_columns(q["query"]) for name, q in doc["queries"].items()}
    return Pack(name=path.stem, raw=raw, columns=cols)
