"""load/model.py: a host's identity takes every shape it has elsewhere in one place (issue 15), and
each way back gives what went in."""

from __future__ import annotations

import json

from diffy_analysis.load import HostIdentity
from diffy_analysis.store.documents import ecs_identity

FULL = HostIdentity(
    host="web-1",
    host_id="i-0abc",
    hostname="ip-10-0-0-5",
    instance_id="i-0abc",
    ipv4=("10.0.0.5",),
    ipv6=("fe80::1",),
    mac=("02:00:00:00:00:01",),
    collected_at="2026-11-29T10:15:00Z",
    collector="osquery",
    collector_version="5.12.1",
    cloud={"provider": "aws", "region": "eu-west-1", "instance_id": "i-0abc", "instance_type": "t3.small"},
    os={"family": "debian", "distribution": "debian", "version": "12", "kernel": "6.1.0"},
)


def test_the_record_reads_back_through_json_unchanged() -> None:
    stored = json.loads(json.dumps(FULL.to_record()))  # the store keeps JSON: tuples become lists
    assert HostIdentity.from_record(stored) == FULL
    assert HostIdentity.from_record({"host": "h", "host_id": "h", "hostname": ""}).ipv4 == ()


def test_the_flat_identity_keeps_what_reports_show_and_no_tags() -> None:
    flat = FULL.as_dict()
    assert flat == {
        "hostname": "ip-10-0-0-5",
        "instance_id": "i-0abc",
        "collected_at": "2026-11-29T10:15:00Z",
        "collector": "osquery",
        "collector_version": "5.12.1",
        "region": "eu-west-1",
        "instance_type": "t3.small",
        "ipv4": ["10.0.0.5"],
        "ipv6": ["fe80::1"],
        "mac": ["02:00:00:00:00:01"],
    }
    tagged = HostIdentity("h", "h", "h", cloud={"tags": {"secret": "x"}, "region": "r"})
    assert "tags" not in json.dumps(tagged.as_dict())


def test_from_flat_gives_the_store_the_same_host_and_cloud_fields_as_the_record() -> None:
    """A finding document (built from a saved analysis's flat identity) and a host document (built
    from the record) carry the same ECS host/cloud fields, but for what the flat one leaves out
    (the OS, the cloud provider)."""
    from_record = ecs_identity("web-1", "i-0abc", FULL.to_record())
    from_flat = ecs_identity("web-1", "i-0abc", HostIdentity.from_flat(FULL.as_dict()))
    for doc in (from_record, from_flat):
        doc["host"].pop("os", None)
        doc["cloud"].pop("provider", None)
    assert from_flat == from_record
    assert HostIdentity.from_flat(None)["cloud"] == {}
