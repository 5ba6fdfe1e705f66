"""store/documents.py: deterministic ids, raw row digests, numeric profiles, ECS identity."""

from __future__ import annotations

from diffy_analysis.store.documents import column_profile, doc_id, ecs_identity, is_numeric, raw_row_digest


def test_ids_are_stable_and_parts_cannot_run_together():
    assert doc_id("run", "host") == doc_id("run", "host")
    assert doc_id("ab", "c") != doc_id("a", "bc")
    assert len(doc_id("x")) == 40


def test_raw_row_digest_ignores_key_order_not_values():
    assert raw_row_digest({"a": "1", "b": "2"}) == raw_row_digest({"b": "2", "a": "1"})
    assert raw_row_digest({"a": "1"}) != raw_row_digest({"a": "1 "})
    assert len(raw_row_digest({"a": "\ud800"})) == 64  # lone surrogates a hostile host reports


def test_numeric_profile_known_columns_and_all_numeric_values():
    rows = [{"pid": "12", "size": "10", "name": "a", "blank": ""}, {"pid": "x", "size": "1.5e3", "name": "7"}]
    assert column_profile(rows) == {"pid": True, "size": True, "name": False, "blank": False}
    assert is_numeric("-1.5") and not is_numeric("0x10") and not is_numeric("")


def test_ecs_identity_from_the_flat_host_identity():
    doc = ecs_identity(
        "web-1",
        "i-1",
        {
            "hostname": "ip-10-0-0-1",
            "ipv4": ["10.0.0.1"],
            "ipv6": ["fe80::1"],
            "mac": ["02:00:00:00:00:01"],
            "os": {"family": "debian", "distribution": "Debian", "version": "12", "arch": "x86_64"},
            "cloud": {"provider": "aws", "region": "eu-west-1", "instance_id": "i-1", "instance_type": "t3"},
            "collected_at": "2026-11-29T10:15:00Z",
        },
    )
    assert doc["host"] == {
        "name": "web-1",
        "id": "i-1",
        "hostname": "ip-10-0-0-1",
        "ip": ["10.0.0.1", "fe80::1"],
        "mac": ["02:00:00:00:00:01"],
        "os": {"family": "debian", "name": "Debian", "version": "12"},
        "architecture": "x86_64",
    }
    assert doc["cloud"] == {
        "provider": "aws",
        "region": "eu-west-1",
        "instance": {"id": "i-1"},
        "machine": {"type": "t3"},
    }
    assert doc["@timestamp"] == "2026-11-29T10:15:00Z"
    assert ecs_identity("h", "h", None) == {"ecs": doc["ecs"], "host": {"name": "h", "id": "h"}}


def test_finding_documents_carry_the_facts_and_the_mapping_indexes_them():
    """Kibana can match a finding's subject or count without matching its sentence's wording."""
    from report_samples import peers_analysis

    from diffy_analysis.store.documents import analysis_actions
    from diffy_analysis.store.mapping import FINDING_PROPERTIES, IndexNames

    names = IndexNames("t")
    actions = analysis_actions(names, peers_analysis())
    docs = [a["_source"]["diffy"]["finding"] for a in actions if a["_index"] == names.findings]
    assert docs and all(d["facts"]["statement"] and d["facts"]["compared_with"] == "peers" for d in docs)
    assert docs[0]["explanation"].startswith(docs[0]["facts"]["statement"])
    mapped = FINDING_PROPERTIES["diffy"]["properties"]["finding"]["properties"]["facts"]["properties"]
    assert set(docs[0]["facts"]) == set(mapped)
