"""Files already parsed are not parsed again (load ``reuse`` + the index's file cache): same result."""

from __future__ import annotations

from runbuilder import build_run

from diffy_analysis.load import open_results
from diffy_analysis.normalize.build import build_fleet
from diffy_analysis.normalize.rules import load_config

USERS = [{"username": "root", "uid": "0", "shell": "/bin/bash"}]
HOSTS = [{"address": "127.0.0.1", "hostnames": "localhost"}]


def _run(tmp_path):
    # the same bytes on every host, but they name web-2: masked on web-2 only, never served from
    # the cache of web-1's identical, unmasked file
    etc_hosts = [*HOSTS, {"address": "10.0.0.9", "hostnames": "web-2"}]
    return build_run(
        tmp_path, {h: {"users": USERS, "etc_hosts": etc_hosts} for h in ("web-1", "web-2", "web-3")}
    )


def test_reuse_skips_parsing_known_files_only(tmp_path):
    results = open_results([_run(tmp_path)])
    seen: list[tuple[str, str]] = []
    hosts = list(results.iter_hosts(reuse=lambda q, d: seen.append((q, d)) or q == "users"))
    assert {q for q, _ in seen} == {"users", "etc_hosts"}
    for host in hosts:
        assert host.reused == frozenset({"users"})
        assert host.rows["users"] == []
        assert host.rows["etc_hosts"]  # not known: parsed
        assert len(host.digests) == 2  # still hashed and checked


def test_reuse_never_hides_a_file_changed_after_collection(tmp_path):
    run = _run(tmp_path)
    (run / "hosts" / "web-2" / "users.json").write_text('[{"username": "evil"}]')
    results = open_results([run])
    hosts = list(results.iter_hosts(reuse=lambda q, d: True))
    assert [h.ref.host_id for h in hosts] == ["web-1", "web-3"]
    assert "sha256 differs" in results.skipped[0].reason


def test_index_with_reuse_equals_index_without(tmp_path):
    run = _run(tmp_path)
    config = load_config(None)
    fast = build_fleet(open_results([run]), config).index  # reads with mask_text + knows_file
    slow = build_fleet(open_results([run]).iter_hosts(), config).index  # every file parsed, masked by add()
    assert fast.file_cache_hits == 3  # users.json of web-2 and web-3, etc_hosts.json of web-3
    assert fast.feature_values == slow.feature_values
    assert [p.tolist() for p in fast.profiles] == [p.tolist() for p in slow.profiles]
    assert [h.profile for h in fast.hosts] == [h.profile for h in slow.hosts]
    web2 = fast.profiles[fast.hosts[1].profile]
    assert ("10.0.0.9", "<hostname>") in [fast.feature_values[f] for f in web2]
    assert fast.hosts[0].profile == fast.hosts[2].profile != fast.hosts[1].profile
