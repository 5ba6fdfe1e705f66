"""Conformance: osquery's iptables table (osquery/tables/networking/linux/iptables.cpp and
iptc_proxy.c at 5.23.1) for a real `iptables-legacy-save -c` dump, and Diffy's own
diffy_firewall_rules table (docs/native-fidelity.md) for real `nft` output."""

from __future__ import annotations

from pathlib import Path

from conformance_helpers import tree
from diffy_native_base import Context
from diffy_native_engine import BUILDERS, Engine, rows_as_objects
from diffy_native_firewall import nftables_blind_spot, table_diffy_firewall_rules
from diffy_native_iptables import table_iptables

DATA = Path(__file__).parent / "data" / "conformance"
SAVE = (DATA / "iptables-legacy-save.txt").read_text()
NFT = ((DATA / "nft-ruleset.json").read_text(), (DATA / "nft-ruleset.txt").read_text())
COLUMNS = (
    "filter_name, chain, policy, target, protocol, src_port, dst_port, src_ip, src_mask, iniface, "
    "iniface_mask, dst_ip, dst_mask, outiface, outiface_mask, match, packets, bytes"
)


def _query(root, sql, builder, name):
    """Run SQL with one builder fed the fixture tool output (the tool itself is not run)."""
    engine = Engine(root=str(root))
    original = BUILDERS[name]
    BUILDERS[name] = builder
    try:
        return rows_as_objects(*engine.query(sql))
    finally:
        BUILDERS[name] = original
        engine.close()


def _rule(chain, policy, packets, bytes_, **values):
    base = dict.fromkeys(COLUMNS.replace(" ", "").split(","), "")
    base.update(filter_name="filter", chain=chain, policy=policy, packets=packets, bytes=bytes_)
    if values:  # a rule row: iptc_proxy.c / iptables.cpp:44-108 fill every rule column
        base.update(
            target="",
            protocol="0",
            src_port="",
            dst_port="",
            src_ip="0.0.0.0",
            src_mask="0.0.0.0",
            dst_ip="0.0.0.0",
            dst_mask="0.0.0.0",
            iniface="all",
            outiface="all",
            iniface_mask="",
            outiface_mask="",
            match="yes",
        )
        base.update(values)
    return base


def test_iptables_rows_as_osquery_prints_them(tmp_path):
    root = tree(tmp_path, {"/proc/net/ip_tables_names": "filter\n"})
    rows = _query(
        root,
        f"SELECT {COLUMNS} FROM iptables",
        lambda ctx: table_iptables(ctx, save_texts=[("filter", SAVE)]),
        "iptables",
    )
    # iptables.cpp:121-144: rule rows copy the chain row - policy AND the policy counters (rule
    # counters are never printed) - then the chain row itself follows its rules.
    inp = ("INPUT", "DROP", "1200", "98000")
    assert rows == [
        # iptables.cpp:51-55 match is "yes" for every rule (target_offset is never 0); :69-74 the
        # interface, or "all"; :92-99 the mask bytes in hex (xtables_parse_interface: len+1 0xFF)
        _rule(*inp, target="ACCEPT", iniface="lo", iniface_mask="FFFFFF"),
        # :67-68 the protocol NUMBER; iptc_proxy.c:99-107 + iptables.cpp:57-61 tcp ports "lo:hi"
        _rule(
            *inp,
            target="ACCEPT",
            protocol="6",
            src_ip="10.0.0.0",
            src_mask="255.0.0.0",
            src_port="0:65535",
            dst_port="22:22",
        ),
        # :83-86 a negated address keeps its "!"
        _rule(
            *inp,
            target="DROP",
            protocol="17",
            src_ip="!192.168.1.0",
            src_mask="255.255.255.0",
            src_port="1000:2000",
            dst_port="0:65535",
        ),
        # iptc_proxy.c:97-107 reads the FIRST match's data as ports whatever the module: conntrack
        # (xt_conntrack_mtinfo3 starts with a zero origsrc address)
        _rule(*inp, target="ACCEPT", protocol="6", src_port="0:0", dst_port="0:0"),
        # eth+: the '+' stays in the name, the mask covers the 3 characters before it
        _rule(*inp, target="ACCEPT", protocol="1", iniface="eth+", iniface_mask="FFFFFF"),
        # no match at all: the target's data (ipt_reject_info.with = IPT_TCP_RESET = 7)
        _rule(*inp, target="REJECT", protocol="6", src_port="7:0", dst_port="0:0"),
        # state first: xt_state_info.statemask, NEW = XT_STATE_BIT(IP_CT_NEW) = 8
        _rule(*inp, target="ACCEPT", protocol="6", src_port="8:0", dst_port="0:0"),
        # multiport first: xt_multiport_v1 {flags=1 (destination), count=2, ports 80, 443}
        _rule(*inp, target="ACCEPT", protocol="6", src_port="513:80", dst_port="443:0"),
        # comment first: the bytes of "ssh in" as little-endian u16 words
        _rule(*inp, target="ACCEPT", protocol="6", src_port="29555:8296", dst_port="28265:0"),
        _rule(*inp),
        # "! -p tcp" is "!6" in a column the spec types INTEGER: std::stol fails, SQLite gets NULL,
        # osqueryi prints "" (dynamic_table_row.cpp:117-125); DROP's verdict -1 is read as ports
        _rule(
            "FORWARD",
            "ACCEPT",
            "0",
            "0",
            target="DROP",
            protocol="",
            outiface="eth0",
            outiface_mask="FFFFFFFFFF",
            src_port="65535:65535",
            dst_port="0:0",
        ),
        _rule("FORWARD", "ACCEPT", "0", "0"),
        _rule("OUTPUT", "ACCEPT", "5", "300"),
        # a user chain has no policy: "", 0, 0 (iptables.cpp:129-133)
        _rule("LOGDROP", "", "0", "0", target="LOG"),
        _rule("LOGDROP", "", "0", "0", target="DROP"),
        _rule("LOGDROP", "", "0", "0"),
    ]


def test_iptables_on_an_nft_host_has_no_rows(tmp_path):
    (tmp_path / "proc" / "net").mkdir(parents=True)
    # iptables.cpp:154-165: no /proc/net/ip_tables_names -> no rows (osquery issue #7323)
    assert table_iptables(Context(root=str(tmp_path))) == []


def test_firewall_table_shows_nft_and_legacy_rules(tmp_path):
    rows = table_diffy_firewall_rules(
        Context(root=str(tmp_path)), nft_outputs=NFT, legacy_texts=[("filter", SAVE)]
    )
    nft = [r for r in rows if r["backend"] == "nftables"]
    assert [
        (r["family"], r["table_name"], r["kind"], r["chain"], r.get("position"), r.get("rule", ""))
        for r in nft
    ] == [
        ("inet", "filter", "set", "blk", None, ""),
        ("inet", "filter", "chain", "input", 0, ""),
        ("inet", "filter", "rule", "input", 1, "ct state established,related counter accept"),
        ("inet", "filter", "rule", "input", 2, 'iifname "lo" accept'),
        ("inet", "filter", "rule", "input", 3, "tcp dport { 22, 443 } counter accept"),
        ("inet", "filter", "rule", "input", 4, "ip saddr @blk drop"),
        ("ip", "nat", "chain", "postrouting", 0, ""),
        ("ip", "nat", "rule", "postrouting", 1, 'oifname "eth0" masquerade'),
    ]
    chain = nft[1]
    assert (chain["chain_type"], chain["hook"], chain["priority"], chain["policy"]) == (
        "filter",
        "input",
        "0",
        "drop",
    )
    assert nft[0]["elements"] == "10.0.0.1,10.0.0.2"
    legacy = [r for r in rows if r["backend"] == "iptables-legacy"]
    assert [(r["kind"], r["chain"], r["position"]) for r in legacy][:3] == [
        ("chain", "INPUT", 0),
        ("chain", "FORWARD", 0),
        ("chain", "OUTPUT", 0),
    ]
    assert legacy[4]["rule"] == "-A INPUT -i lo -j ACCEPT"  # rule counters dropped: they are volatile


def test_nft_host_is_a_blind_spot_for_osquery_iptables(tmp_path):
    ctx = Context(root=str(tmp_path))
    reason = nftables_blind_spot(ctx, nft_outputs=NFT)
    assert "osquery issue #7323" in reason and "5 rules" in reason
    empty = ('{"nftables": [{"metainfo": {"version": "1.0.6"}}]}', "")
    assert nftables_blind_spot(ctx, nft_outputs=empty) is None


def test_nft_json_with_a_preload_banner_around_it_still_parses() -> None:
    """T1574.006-1: a preloaded library prints into nft's stdout before and after its JSON."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "module_utils"))
    import diffy_native_firewall as fw

    doc = '{"nftables": [{"metainfo": {"version": "1.0.6"}}]}'
    banner = "Loaded Atomic Red Team Library successfully!\n" + doc + "\nUnloading Atomic Red Team ...\n"
    expected = {"nftables": [{"metainfo": {"version": "1.0.6"}}]}
    assert fw._nft_document(banner) == fw._nft_document(doc) == expected
    assert fw.rows_from_nft(banner) == fw.rows_from_nft(doc)
    import pytest

    with pytest.raises(ValueError):
        fw._nft_document("Loaded Atomic Red Team Library successfully!\n")
