"""The results contract: schemas, ids, and a sample run validated against them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from diffy_analysis import contract
from diffy_analysis.errors import DiffyError

SAMPLE_RUN = Path(__file__).parent / "data" / "sample-run" / "20261129T101500Z-a1b2c3"
PACK = Path(__file__).parents[1] / "roles" / "diffy_collect" / "files" / "packs" / "linux-dfir.json"


def test_every_schema_is_a_valid_json_schema():
    for name in contract.SCHEMAS:
        assert contract._validator(name) is not None  # check_schema raises on an invalid schema


def test_sample_run_validates_against_the_schemas():
    manifest = json.loads((SAMPLE_RUN / "manifest.json").read_text())
    assert contract.schema_errors("manifest", manifest) == []
    for host_dir in (SAMPLE_RUN / "hosts").iterdir():
        host = json.loads((host_dir / "host.json").read_text())
        assert contract.schema_errors("host", host) == []
        for query, status in host["queries"].items():
            result = host_dir / f"{query}.json"
            assert result.exists() == (status["status"] == "ok")
            if result.exists():
                assert contract.schema_errors("query-result", json.loads(result.read_text())) == []


def test_sample_run_lists_unreachable_host_in_manifest():
    manifest = json.loads((SAMPLE_RUN / "manifest.json").read_text())
    statuses = {h["status"] for h in manifest["hosts"].values()}
    assert "unreachable" in statuses
    assert set(manifest["hosts"]) >= {p.name for p in (SAMPLE_RUN / "hosts").iterdir()}


def test_default_pack_matches_the_pack_schema_and_explains_every_query():
    pack = json.loads(PACK.read_text())
    assert contract.schema_errors("pack", pack) == []
    for name, query in pack["queries"].items():
        assert query.get("value"), f"{name} has no value line for responders"
        assert query.get("description"), name


def test_schema_errors_name_the_problem():
    problems = contract.schema_errors("manifest", {"format": "diffy-results/2"})
    assert problems and any("format" in p or "required" in p for p in problems)
    with pytest.raises(DiffyError, match="manifest schema"):
        contract.validate("manifest", {"format": "nope"}, what="manifest.json")


@pytest.mark.parametrize(
    ("name", "expected"),
    [("i-0abc123", "i-0abc123"), ("web_1.example.com", "web_1.example.com")],
)
def test_safe_host_id_keeps_safe_names(name, expected):
    assert contract.safe_host_id(name) == expected


@pytest.mark.parametrize(
    "name", ["web/1", "../etc", "..", ".", "a\x00b", "host name", "x" * 500, "ü-host", ""]
)
def test_safe_host_id_rewrites_unsafe_names(name):
    host_id = contract.safe_host_id(name)
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,200}", host_id)
    assert host_id not in (".", "..")
    assert host_id != name


def test_safe_host_id_never_collides_for_different_unsafe_names():
    assert contract.safe_host_id("web/1") != contract.safe_host_id("web:1")
    assert contract.safe_host_id("web/1") != contract.safe_host_id("web_1")


@given(st.text(min_size=0, max_size=300))
def test_safe_host_id_is_always_path_safe(name):
    host_id = contract.safe_host_id(name)
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,200}", host_id)
    assert host_id not in (".", "..")
    assert "/" not in host_id


def test_run_ids_are_sortable_unique_and_match_the_schema_pattern():
    ids = [contract.new_run_id() for _ in range(50)]
    assert len(set(ids)) == 50
    assert all(contract.is_run_id(i) for i in ids)
    manifest_pattern = contract.schema("manifest")["$defs"]["run_id"]["pattern"]
    assert all(re.match(manifest_pattern, i) for i in ids)
