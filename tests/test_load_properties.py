"""Property-based tests (hypothesis) of the loader: whatever bytes a hostile host hands us, reading
gives rows of text or a one-line HostDataError, never another exception; good data round-trips."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffy_analysis.contract import MAX_HOST_ID, safe_host_id
from diffy_analysis.errors import HostDataError
from diffy_analysis.load import open_results, parse_rows, read_host
from tests.runbuilder import build_run

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
flat_rows = st.lists(st.dictionaries(st.text(max_size=12), st.text(max_size=30), max_size=6), max_size=8)


def _check_rows(rows) -> None:
    assert isinstance(rows, list)
    for row in rows:
        assert isinstance(row, dict)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in row.items())


@FAST
@given(json_values)
def test_any_json_document_gives_text_rows_or_a_one_line_reason(value):
    try:
        rows = parse_rows(json.dumps(value), "q.json")
    except HostDataError as err:
        assert "\n" not in err.message and err.message.startswith("q.json ")
        return
    _check_rows(rows)
    assert len(rows) == len(value)


@FAST
@given(st.text(max_size=200))
def test_any_text_gives_text_rows_or_a_one_line_reason(text):
    try:
        _check_rows(parse_rows(text, "q.json"))
    except HostDataError as err:
        assert "\n" not in err.message


@FAST
@given(flat_rows, st.booleans(), st.sampled_from([None, 1, 4]))
def test_string_rows_round_trip_exactly(rows, ascii_only, indent):
    text = json.dumps(rows, ensure_ascii=ascii_only, indent=indent)
    assert parse_rows(text, "q.json") == rows


@FAST
@given(st.lists(st.dictionaries(st.text(max_size=6), scalars, max_size=5), max_size=5))
def test_scalar_values_are_read_as_their_json_text(rows):
    parsed = parse_rows(json.dumps(rows), "q.json")
    for raw, row in zip(rows, parsed, strict=True):
        for key, value in raw.items():
            if value is None:
                assert row[key] == ""
            elif isinstance(value, bool):
                assert row[key] == str(value).lower()
            elif isinstance(value, str):
                assert row[key] == value
            else:
                assert row[key] == json.dumps(value)  # the number exactly as it was spelled


def _one_host_run(root: Path, data: bytes) -> Path:
    rows = [{"port": "22"}]
    return build_run(root, {"h1": {"q": rows}}, raw_files={"h1": {"q": data}})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_result_file_bytes_give_a_host_or_a_reason(data):
    with tempfile.TemporaryDirectory() as tmp:
        results = open_results([_one_host_run(Path(tmp), data)])
        hosts = list(results.iter_hosts())
        assert len(hosts) + len(results.skipped) == 1
        if hosts:
            _check_rows(hosts[0].rows["q"])
        else:
            assert "\n" not in results.skipped[0].reason


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_host_json_bytes_give_a_host_or_a_reason(data):
    with tempfile.TemporaryDirectory() as tmp:
        run = _one_host_run(Path(tmp), b'[{"port": "22"}]')
        (run / "hosts" / "h1" / "host.json").write_bytes(data)
        results = open_results([run], None)
        (ref,) = results.refs
        try:
            read_host(ref, results.options.__class__(verify_hashes=False))
        except HostDataError as err:
            assert "\n" not in err.message


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_host_ids_stay_inside_the_results_root(name):
    host_id = safe_host_id(name)
    assert host_id == safe_host_id(name)
    assert 0 < len(host_id) <= MAX_HOST_ID
    assert host_id not in (".", "..") and "/" not in host_id and "\x00" not in host_id
    root = Path("/results/run/hosts")
    assert (root / host_id).resolve().parent == root


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60), st.text(max_size=60))
def test_two_unsafe_names_never_share_a_host_id(a, b):
    if a != b and safe_host_id(a) != a and safe_host_id(b) != b:
        assert safe_host_id(a) != safe_host_id(b)


def test_a_safe_name_can_equal_another_names_id_which_collection_refuses():
    """The one collision the rule cannot prevent: a safe name chosen to equal the id of an unsafe
    one. The collect role refuses both hosts (tests/test_secrets.py, docs/security.md)."""
    crafted = safe_host_id("web/1")
    assert safe_host_id(crafted) == crafted == safe_host_id("web/1")


@pytest.mark.parametrize("name", ["/", "..", ".", "../../etc", "a\x00b", "\x1b[31m", "é" * 300, ""])
def test_hostile_names_examples(name):
    host_id = safe_host_id(name)
    assert host_id not in (".", "..") and "/" not in host_id and len(host_id) <= MAX_HOST_ID
    assert host_id.isascii() and host_id.isprintable()
