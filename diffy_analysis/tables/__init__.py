"""The table registry: every query of the default pack declared once (spec.py), in pack order.

Stages read from here instead of keeping their own per-table dicts: normalize (defaults, volatile),
analyze (explain, evidence), store (documents) and the pack file itself, which is generated:
``python -m diffy_analysis.tables --write`` rewrites roles/diffy_collect/files/packs/linux-dfir.json and
``--check`` fails when the file and the registry disagree. Adding a table means adding one
``TableSpec`` to a group module (core.py, persistence.py, runtime.py) and, when its SQL reads an
osquery table the native collector lacks, a builder under plugins/module_utils/.
"""

from __future__ import annotations

from diffy_analysis.tables import core, persistence, runtime
from diffy_analysis.tables.spec import DEFAULT_SIGNIFICANCE, Registry, TableSpec

REGISTRY = Registry((*core.SPECS, *persistence.SPECS, *runtime.SPECS))

__all__ = ["DEFAULT_SIGNIFICANCE", "REGISTRY", "Registry", "TableSpec"]
