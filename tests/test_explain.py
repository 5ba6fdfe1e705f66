"""Plain-English explanations, per table, and their safety with hostile values."""

from __future__ import annotations

from diffy_analysis.analyze.explain import Context, clip, describe, explain

PEERS = Context("peers", hosts_with_row=1, hosts_compared=250, peers_with_row=249, peers=249)


def test_listening_port_with_prevalence():
    row = {
        "protocol": "6",
        "family": "2",
        "address": "0.0.0.0",
        "port": "4444",
        "name": "nc",
        "path": "/usr/bin/nc",
    }
    text = explain("listening_ports", "added", row, PEERS)
    assert text == "listens on tcp 0.0.0.0:4444 (process nc, /usr/bin/nc); on 1 of 250 hosts"
    v6 = describe("listening_ports", {**row, "protocol": "17", "address": "::", "family": "10"})
    assert v6.startswith("listens on udp [::]:4444")


def test_privileged_user_added_against_a_baseline():
    row = {"username": "backup2", "uid": "0", "shell": "/bin/bash"}
    text = explain("users", "added", row, Context("baseline"))
    assert (
        text == "user `backup2` with uid 0 and shell /bin/bash (uid 0: root privileges)"
        " added (not on the baseline)"
    )


def test_missing_iptables_rule_names_the_rule_and_its_peers():
    row = {
        "filter_name": "filter",
        "chain": "INPUT",
        "target": "DROP",
        "protocol": "6",
        "src_ip": "0.0.0.0",
        "dst_ip": "0.0.0.0",
        "src_port": "0:65535",
        "dst_port": "22",
        "policy": "ACCEPT",
    }
    text = explain("iptables", "missing", row, PEERS)
    assert text == "iptables rule INPUT DROP tcp dport 22 is missing; present on 249 of 249 peers"


def test_changed_binary_names_the_column_and_both_hashes():
    ref = {"path": "/usr/bin/ps", "sha256": "a" * 64, "size": "100"}
    row = {"path": "/usr/bin/ps", "sha256": "b" * 64, "size": "100"}
    text = explain("system_binaries", "changed", row, PEERS, reference_row=ref, changed_columns=["sha256"])
    assert text == "/usr/bin/ps: sha256 differs from 249 of 249 peers (sha256 aaaaaaaaaaaa… -> bbbbbbbbbbbb…)"


def test_stopped_agent_unit():
    ref = {"id": "falcon-sensor.service", "active_state": "active", "sub_state": "running"}
    row = {"id": "falcon-sensor.service", "active_state": "inactive", "sub_state": "dead"}
    text = explain(
        "systemd_units",
        "changed",
        row,
        PEERS,
        reference_row=ref,
        changed_columns=["active_state", "sub_state"],
    )
    assert text.startswith("unit falcon-sensor.service: active_state/sub_state differs from 249 of 249 peers")
    assert "active_state active -> inactive" in text


def test_weak_evidence_says_why():
    row = {
        "protocol": "6",
        "address": "0.0.0.0",
        "port": "41234",
        "name": "rpc.statd",
        "path": "/usr/sbin/rpc.statd",
    }
    weak = Context("peers", hosts_with_row=1, hosts_compared=30, weak=True, varying_column="port")
    assert explain("listening_ports", "added", row, weak).endswith(
        "weak evidence: port differs on almost every host"
    )
    session = Context("peers", 1, 30, weak=True, reason="an interactive login session")
    assert explain(
        "logged_in_users", "added", {"type": "user", "user": "admin", "host": "10.0.0.12"}, session
    ).endswith("weak evidence: an interactive login session")


def test_unknown_queries_fall_back_to_columns():
    assert describe("custom_table", {"a": "1", "b": "2"}) == "custom_table: a=1, b=2"


def test_hostile_values_are_escaped_and_clipped():
    assert clip("evil\x1b[31m\nline") == "evil\\x1b[31m\\x0aline"
    long = clip("x" * 10_000)
    assert len(long) <= 120 and long.endswith("…")
    text = explain("users", "added", {"username": "a\x00b", "uid": "9" * 100_000, "shell": "/bin/sh"}, PEERS)
    assert "\x00" not in text and len(text) < 1000
