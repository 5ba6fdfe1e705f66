"""The loader: streaming hosts, per-host skip reasons, hostile files, tidy frames."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runbuilder import build_run, rehash

from diffy_analysis.errors import ResultsError
from diffy_analysis.load import LoadOptions, open_results, parse_rows

USERS = [{"username": "root", "uid": "0", "shell": "/bin/bash"}]


def _load(run, options=None):
    results = open_results([run], options)
    hosts = list(results.iter_hosts())
    return hosts, {s.host_id: s for s in results.skipped}


def test_reads_a_valid_run_host_by_host(tmp_path):
    run = build_run(tmp_path, {"web-1": {"users": USERS}, "web-2": {"users": USERS}})
    hosts, skipped = _load(run)
    assert [h.ref.host_id for h in hosts] == ["web-1", "web-2"]
    assert skipped == {}
    assert hosts[0].rows["users"] == USERS
    assert hosts[0].identity.hostname == "web-1"
    assert hosts[0].identity.ipv4 and hosts[0].identity.mac
    assert hosts[0].queries["users"].status == "ok"


def test_values_are_coerced_to_text():
    text = '[{"a": 5, "b": 1.50, "c": true, "d": null, "e": {"z": 1, "y": [2]}, "f": "x"}]'
    assert parse_rows(text, "q.json") == [
        {"a": "5", "b": "1.50", "c": "true", "d": "", "e": '{"y":["2"],"z":"1"}', "f": "x"}
    ]


def _bad(tmp_path, data: bytes):
    return build_run(
        tmp_path,
        {"good": {"users": USERS}, "bad": {"users": USERS}},
        raw_files={"bad": {"users": data}},
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'[{"username": "root"', "truncated"),
        (b"[{username: root}]", "malformed JSON"),
        (b'{"username": "root"}', "not an array"),
        (b'["root"]', "not an object"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_a_broken_result_file_skips_only_its_host(tmp_path, data, reason):
    hosts, skipped = _load(_bad(tmp_path, data))
    assert [h.ref.host_id for h in hosts] == ["good"]
    assert reason in skipped["bad"].reason
    assert "users.json" in skipped["bad"].reason
    assert "\n" not in skipped["bad"].reason


def test_invalid_utf8_is_replaced_and_noted_not_skipped(tmp_path):
    run = _bad(tmp_path, b'[{"username": "r\xffoot"}]')
    hosts, skipped = _load(run)
    bad = next(h for h in hosts if h.ref.host_id == "bad")
    assert bad.rows["users"][0]["username"] == "r\ufffdoot"
    assert any("invalid UTF-8" in n for n in bad.notes)
    assert skipped == {}


def test_oversized_file_is_skipped_with_the_limit(tmp_path):
    run = build_run(tmp_path, {"big": {"users": USERS * 500}, "small": {"users": USERS}})
    hosts, skipped = _load(run, LoadOptions(max_file_bytes=4096))
    assert [h.ref.host_id for h in hosts] == ["small"]
    assert "limit" in skipped["big"].reason


def test_hash_mismatch_missing_file_and_missing_host_json(tmp_path):
    run = build_run(tmp_path, {h: {"users": USERS} for h in ("ok", "edited", "nofile", "nometa")})
    (run / "hosts/edited/users.json").write_text(json.dumps(USERS + USERS))
    (run / "hosts/nofile/users.json").unlink()
    (run / "hosts/nometa/host.json").unlink()
    hosts, skipped = _load(run)
    assert [h.ref.host_id for h in hosts] == ["ok"]
    assert "differs from the manifest" in skipped["edited"].reason
    assert "users.json is missing" in skipped["nofile"].reason
    assert "host.json is missing" in skipped["nometa"].reason
    # hash checks can be turned off (e.g. for a run edited on purpose)
    hosts, skipped = _load(run, LoadOptions(verify_hashes=False))
    assert "edited" in [h.ref.host_id for h in hosts]


def test_invalid_host_json_is_skipped(tmp_path):
    run = build_run(tmp_path, {"a": {"users": USERS}, "b": {"users": USERS}})
    (run / "hosts/b/host.json").write_text(json.dumps({"host": "b"}))
    rehash(run)
    _, skipped = _load(run)
    assert "host.json is invalid" in skipped["b"].reason


def test_symlinks_are_never_followed(tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps(USERS))
    run = build_run(tmp_path, {"a": {"users": USERS}, "b": {"users": USERS}, "c": {"users": USERS}})
    (run / "hosts/b/users.json").unlink()
    (run / "hosts/b/users.json").symlink_to(secret)
    other = tmp_path / "elsewhere"
    (run / "hosts/c").rename(other)
    (run / "hosts/c").symlink_to(other)
    hosts, skipped = _load(run)
    assert [h.ref.host_id for h in hosts] == ["a"]
    assert "symlink" in skipped["b"].reason
    assert "symlink" in skipped["c"].reason


def test_failed_unreachable_and_unlisted_hosts_are_reported(tmp_path):
    run = build_run(tmp_path, {"a": {"users": USERS}}, statuses={"down": "unreachable", "broke": "failed"})
    (run / "hosts/stray").mkdir()
    _, skipped = _load(run)
    assert skipped["down"].status == "unreachable"
    assert skipped["broke"].status == "failed"
    assert "not listed in the manifest" in skipped["stray"].reason


def test_query_statuses_are_kept_for_gaps(tmp_path):
    run = build_run(tmp_path, {"a": {"users": USERS}}, query_status={"a": {"processes": "timeout"}})
    hosts, _ = _load(run)
    assert hosts[0].queries["processes"].status == "timeout"
    assert "processes" not in hosts[0].rows


def test_no_manifest_or_wrong_format_is_a_results_error(tmp_path):
    with pytest.raises(ResultsError, match="not a usable results directory"):
        open_results([tmp_path])
    run = build_run(tmp_path, {"a": {"users": USERS}})
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["format"] = "diffy-results/9"
    (run / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ResultsError, match="diffy-results/9"):
        open_results([run])
    with pytest.raises(ResultsError):
        open_results([tmp_path / "nope"])


def test_a_bare_host_directory_is_accepted(tmp_path):
    run = build_run(tmp_path, {"base": {"users": USERS}})
    hosts, skipped = _load(run / "hosts" / "base")
    assert [h.ref.host_id for h in hosts] == ["base"]
    assert skipped == {}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_any_bytes_either_load_or_skip_with_a_reason(tmp_path_factory, data):
    run = _bad(tmp_path_factory.mktemp("run"), data)
    hosts, skipped = _load(run)
    ids = {h.ref.host_id for h in hosts}
    assert "good" in ids
    assert ("bad" in ids) != ("bad" in skipped)
    for host in hosts:
        for rows in host.rows.values():
            assert all(isinstance(v, str) for row in rows for v in row.values())


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(-1, 1, allow_nan=False),
    st.text(max_size=5),
    st.just("2026-11-29T10:15:31Z"),
    st.just("a" * 64),
    st.just("ok"),
    st.just("osquery"),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)
_PATHS = st.sampled_from(
    [
        ("host",),
        ("host_id",),
        ("hostname",),
        ("collected_at",),
        ("collector",),
        ("collector_version",),
        ("queries",),
        ("os",),
        ("os", "kernel"),
        ("cloud",),
        ("cloud", "instance_id"),
        ("cloud", "tags"),
        ("cloud", "provider"),
        ("addresses",),
        ("addresses", "ipv4"),
        ("queries", "users"),
        ("queries", "users", "status"),
        ("queries", "users", "rows"),
        ("queries", "users", "sha256"),
        ("queries", "users", "duration_s"),
        ("queries", "users", "error"),
        ("queries", "bad name"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(mutations=st.lists(st.tuples(_PATHS, _VALUES, st.booleans()), max_size=3))
def test_fast_host_record_check_agrees_with_the_schema(mutations):
    from runbuilder import host_record

    from diffy_analysis import contract
    from diffy_analysis.load import host_record_problems

    doc = host_record("web-1", {"users": {"status": "ok", "rows": 1, "error": None, "sha256": "b" * 64}})
    for path, value, delete in mutations:
        target = doc
        for key in path[:-1]:
            target = target.get(key) if isinstance(target, dict) else None
        if isinstance(target, dict):
            if delete:
                target.pop(path[-1], None)
            else:
                target[path[-1]] = value
    assert (host_record_problems(doc) == []) == (contract.schema_errors("host", doc) == [])
