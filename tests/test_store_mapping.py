"""store/mapping.py: index names, templates and which columns get mapped (no cluster needed)."""

from __future__ import annotations

import pytest

from diffy_analysis.errors import UsageError
from diffy_analysis.store.mapping import (
    KEYWORD_IGNORE_ABOVE,
    MAPPING_VERSION,
    IndexNames,
    check_prefix,
    column_mapping,
    is_mappable_column,
)


def test_query_indices_are_lower_case_and_never_shared():
    names = IndexNames("diffy")
    assert names.rows("processes") == f"diffy-rows-processes-v{MAPPING_VERSION}"
    upper, lower = names.rows("Procs"), names.rows("procs")
    assert upper != lower and upper == upper.lower()  # a changed name gets a short hash
    long_name = names.rows("q" * 300)
    assert len(long_name) < 160
    assert names.rows("../../x") != names.rows("x") and "/" not in names.rows("../../x")


def test_every_template_covers_an_index_of_its_prefix():
    names = IndexNames("t1")
    templates = names.templates()
    patterns = [p for t in templates.values() for p in t["index_patterns"]]
    assert names.rows_pattern in patterns
    assert all(p.startswith("t1-") for p in patterns)


def test_prefix_rule():
    assert check_prefix("diffy-prod_1") == "diffy-prod_1"
    for bad in ("Diffy", "-x", "a" * 42, "a/b", ""):
        with pytest.raises(UsageError):
            check_prefix(bad)


def test_column_mapping_and_hostile_column_names():
    assert column_mapping(False) == {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}
    assert column_mapping(True)["fields"]["num"]["type"] == "double"
    assert is_mappable_column("cmdline") and is_mappable_column("_x1")
    for odd in ("a.b", "with space", "ünï", "1abc", "x" * 200, ""):
        assert not is_mappable_column(odd)
