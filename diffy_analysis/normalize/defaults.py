"""Per-table default normalization rules for the queries of the default pack (linux-dfir).

Query name -> rule fields, read from the table registry (diffy_analysis/tables/), where each table
is declared once. ``keys`` identify "the same thing" on two hosts (a listening socket is
protocol+family+address+port+process name+path, never its pid), so a row with the same key but
different significant values is reported as *changed*. ``ignore`` lists volatile columns that
differ between healthy hosts (pids, times, counters, memory addresses) and must never count as a
difference. ``significance`` (0..1) scales how much a difference in this table counts towards a
host's score: persistence and access tables count fully; tables that are noisy on healthy fleets
(processes, sessions) or mere context (OS release) count less.

Queries not listed here get no ignored columns, the whole row as key, significance
``DEFAULT_SIGNIFICANCE``, and automatic detection of volatile columns (see normalize/volatile.py).
Override any of it in a config file (docs/configuration.md).
"""

from __future__ import annotations

from typing import Any

from diffy_analysis.tables import REGISTRY
from diffy_analysis.tables.spec import DEFAULT_SIGNIFICANCE

# Declared once per table in diffy_analysis/tables/ (the registry); read here.
DEFAULT_RULES: dict[str, dict[str, Any]] = REGISTRY.rules()

__all__ = ["DEFAULT_RULES", "DEFAULT_SIGNIFICANCE"]
