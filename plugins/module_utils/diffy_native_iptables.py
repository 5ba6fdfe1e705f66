# Diffy native collector: osquery's `iptables` table (osquery/tables/networking/linux/iptables.cpp and
# iptc_proxy.c), rebuilt from `iptables-legacy-save -c -t <table>`.
#
# osquery reads the legacy x_tables kernel tables through libiptc, for the tables listed in
# /proc/net/ip_tables_names (iptables.cpp:149-168).  On an iptables-nft host that file is absent or
# empty and osquery prints no rows (osquery issue #7323); this table does the same - the nft rules
# are in Diffy's own `diffy_nftables_rules` table (diffy_native_firewall.py).  It never runs a save
# tool for a table the kernel has not loaded (asking for one would load kernel modules).
#
# Row shape (iptables.cpp:110-147): every rule of a chain is a row carrying the CHAIN's policy and
# policy counters (rule counters are never printed), followed by one row for the chain itself.

import shlex
import struct

try:
    from ansible.module_utils.diffy_native_base import TableUnavailable, read_text, run_tool, which
except ImportError:
    try:
        from ansible_collections.diffy.diffy.plugins.module_utils.diffy_native_base import (
            TableUnavailable,
            read_text,
            run_tool,
            which,
        )
    except ImportError:
        from diffy_native_base import TableUnavailable, read_text, run_tool, which


# iptables-save prints protocol names (xtables_chain_protos, then getprotobynumber); the kernel
# stores numbers, which is what osquery prints (iptables.cpp:67-68).
_PROTOCOLS = {
    "all": 0,
    "icmp": 1,
    "igmp": 2,
    "tcp": 6,
    "udp": 17,
    "gre": 47,
    "esp": 50,
    "ah": 51,
    "ipv6-icmp": 58,
    "icmpv6": 58,
    "sctp": 132,
    "mh": 135,
    "udplite": 136,
}
# enum ipt_reject_with (linux/netfilter_ipv4/ipt_REJECT.h)
_REJECT_WITH = {
    "icmp-net-unreachable": 0,
    "icmp-host-unreachable": 1,
    "icmp-proto-unreachable": 2,
    "icmp-port-unreachable": 3,
    "icmp-echo-reply": 4,
    "icmp-net-prohibited": 5,
    "icmp-host-prohibited": 6,
    "tcp-reset": 7,
    "icmp-admin-prohibited": 8,
}
# Standard verdicts (-NF_x - 1) as libiptc stores them for built-in targets.
_VERDICTS = {"ACCEPT": -2, "DROP": -1, "QUEUE": -4, "RETURN": -5}
# XT_STATE_BIT(ctinfo) = 1 << (ctinfo + 1); INVALID = 1; UNTRACKED = 1 << (IP_CT_NUMBER + 1)
_STATE_BITS = {"INVALID": 1, "ESTABLISHED": 2, "RELATED": 4, "NEW": 8, "UNTRACKED": 64}


def _protocol_number(name, protocols):
    if name.isdigit():
        return int(name)
    return protocols.get(name.lower(), _PROTOCOLS.get(name.lower()))


def _etc_protocols(ctx):
    table = {}
    for line in (read_text(ctx, "/etc/protocols") or "").splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and fields[1].isdigit():
            for name in [fields[0], *fields[2:]]:
                table.setdefault(name.lower(), int(fields[1]))
    return table


def _mask(bits_or_dotted):
    if "." in bits_or_dotted:
        return bits_or_dotted
    number = (0xFFFFFFFF << (32 - int(bits_or_dotted))) & 0xFFFFFFFF
    return ".".join(str((number >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def _iface_mask(name):
    """xtables_parse_interface: 0xFF for every character (a trailing '+' excluded) and for the NUL
    when the name is exact; osquery prints the bytes up to the first 0x00 in hex (iptables.cpp:90-107)."""
    count = len(name) - 1 if name.endswith("+") else len(name) + 1
    return "FF" * min(count, 16)


def _ports(value):
    low, sep, high = value.partition(":")
    if not sep:
        return int(low), int(low)
    return int(low or 0), int(high or 65535)


def _first_match_words(matches, target, target_args):
    """The four u16 words osquery reads as spts/dpts from the FIRST xt_entry_match's data
    (iptc_proxy.c:90-119) - whatever module that match is.  Little-endian hosts.  None when the bytes
    are not knowable from iptables-save output (an unlisted module, or a jump whose verdict is a
    blob offset)."""
    if matches:
        module, args = matches[0]
        if module in ("tcp", "udp"):
            sport, dport = (0, 65535), (0, 65535)
            for index, token in enumerate(args[:-1]):
                if token in ("--sport", "--source-port"):
                    sport = _ports(args[index + 1])
                elif token in ("--dport", "--destination-port"):
                    dport = _ports(args[index + 1])
            return sport + dport
        if module == "state":
            mask = 0
            for index, token in enumerate(args[:-1]):
                if token == "--state":
                    for state in args[index + 1].split(","):
                        mask |= _STATE_BITS.get(state, 0)
            return (mask & 0xFFFF, mask >> 16, 0, 0)
        if module == "conntrack" and not any(t.startswith("--ctorig") for t in args):
            return (0, 0, 0, 0)  # xt_conntrack_mtinfo3 starts with origsrc_addr: zero unless set
        if module == "multiport":
            return _multiport_words(args)
        if module == "comment":
            raw = b""
            for index, token in enumerate(args[:-1]):
                if token == "--comment":
                    raw = args[index + 1].encode("utf-8")
            return struct.unpack("<4H", (raw + b"\0" * 8)[:8])
        return None
    # No match: the bytes after the header are the target's own data.
    if target in _VERDICTS:
        return struct.unpack("<4H", struct.pack("<i", _VERDICTS[target]) + b"\0" * 4)
    if target == "REJECT":
        with_name = "icmp-port-unreachable"
        for index, token in enumerate(target_args[:-1]):
            if token == "--reject-with":
                with_name = target_args[index + 1]
        return struct.unpack("<4H", struct.pack("<I", _REJECT_WITH.get(with_name, 3)) + b"\0" * 4)
    return None


def _multiport_words(args):
    """struct xt_multiport_v1 (libxt_multiport revision 1): u8 flags (0 source, 1 destination,
    2 either), u8 count, u16 ports[15] - a range takes two slots."""
    flags, ports = 2, []
    for index, token in enumerate(args[:-1]):
        if token in ("--sports", "--source-ports"):
            flags = 0
        elif token in ("--dports", "--destination-ports"):
            flags = 1
        elif token == "--ports":
            flags = 2
        else:
            continue
        for item in args[index + 1].split(","):
            low, sep, high = item.partition(":")
            ports.extend([int(low or 0), int(high or 65535)] if sep else [int(low)])
    padded = [*ports, 0, 0, 0][:3]
    return (flags | (len(ports) << 8), padded[0], padded[1], padded[2])


def parse_rule(tokens, protocols):
    """One `-A CHAIN ...` line of iptables-save (after the chain) -> osquery's rule columns."""
    row = {
        "target": "",
        "match": "yes",
        "src_port": "",
        "dst_port": "",
        "protocol": 0,
        "iniface": "all",
        "outiface": "all",
        "src_ip": "0.0.0.0",
        "dst_ip": "0.0.0.0",
        "src_mask": "0.0.0.0",
        "dst_mask": "0.0.0.0",
        "iniface_mask": "",
        "outiface_mask": "",
    }
    matches, target_args, proto_number = [], [], 0
    invert, index, current = "", 0, None
    while index < len(tokens):
        token = tokens[index]
        value = tokens[index + 1] if index + 1 < len(tokens) else ""
        if token == "!":
            invert, index = "!", index + 1
            continue
        if token in ("-s", "-d"):
            address, _dummy, mask = value.partition("/")
            key = "src" if token == "-s" else "dst"
            row[key + "_ip"] = invert + address
            row[key + "_mask"] = _mask(mask) if mask else "255.255.255.255"
            index += 2
        elif token in ("-i", "-o"):
            key = "iniface" if token == "-i" else "outiface"
            row[key], row[key + "_mask"] = invert + value, _iface_mask(value)
            index += 2
        elif token == "-p":
            proto_number = _protocol_number(value, protocols)
            row["protocol"] = invert + str(proto_number if proto_number is not None else value)
            index += 2
        elif token == "-m":
            current = (value, [])
            matches.append(current)
            index += 2
        elif token in ("-j", "-g"):
            row["target"], current = value, None
            target_args = tokens[index + 2 :]
            break
        else:
            if current is not None:
                current[1].append(token)
            index += 1
        invert = ""
    if proto_number in (6, 17):  # iptc_proxy.c:99-118: only TCP and UDP rules have ports
        words = _first_match_words(matches, row["target"], target_args)
        if words is not None:
            row["src_port"] = "%d:%d" % (words[0], words[1])
            row["dst_port"] = "%d:%d" % (words[2], words[3])
    return row


def _save_tool():
    tool = which("iptables-legacy-save")
    if tool:
        return tool
    tool = which("iptables-save")
    if tool and "nf_tables" not in run_tool([tool, "--version"], _NoDeadline(), check=False):
        return tool
    return None


class _NoDeadline:
    deadline = None


def rows_from_save(table, text, protocols):
    """iptables.cpp:110-147 for one table's `iptables-save -c -t table` text."""
    chains, rules = [], {}
    for line in text.splitlines():
        if line.startswith(":"):
            parts = line[1:].split()
            name, policy = parts[0], parts[1] if len(parts) > 1 else "-"
            packets = byte_count = 0
            if len(parts) > 2 and parts[2].startswith("["):
                packets, _dummy, byte_count = parts[2].strip("[]").partition(":")
            chains.append((name, "" if policy == "-" else policy, packets, byte_count))
            rules.setdefault(name, [])
        elif line.startswith(("[", "-A ")):
            rule = line.partition(" ")[2] if line.startswith("[") else line
            tokens = shlex.split(rule)
            rules.setdefault(tokens[1], []).append(tokens[2:])
    rows = []
    for name, policy, packets, byte_count in chains:
        base = {
            "filter_name": table,
            "chain": name,
            "policy": policy,
            "packets": packets if policy else 0,
            "bytes": byte_count if policy else 0,
        }
        for tokens in rules.get(name, []):
            row = dict(base)
            row.update(parse_rule(tokens, protocols))
            rows.append(row)
        rows.append(dict(base))
    return rows


def legacy_tables(ctx):
    """The legacy tables the kernel has loaded, in /proc/net/ip_tables_names order (None: no file)."""
    names = read_text(ctx, "/proc/net/ip_tables_names")
    if names is None:
        return None
    return [line.strip() for line in names.split("\n") if line.strip()]


def legacy_save_texts(ctx):
    """[(table, iptables-legacy-save -c -t table)] for every loaded legacy table."""
    tables = legacy_tables(ctx) or []
    if not tables:
        return []
    tool = _save_tool()
    if tool is None:
        raise TableUnavailable("legacy iptables tables are loaded but no legacy iptables-save is installed")
    return [(table, run_tool([tool, "-c", "-t", table], ctx)) for table in tables]


def table_iptables(ctx, save_texts=None):
    """iptables.cpp:149-168.  `save_texts` replaces legacy_save_texts() in the conformance tests.
    No /proc/net/ip_tables_names (not loaded, or an nft-only host) means no rows, as in osquery."""
    texts = save_texts if save_texts is not None else legacy_save_texts(ctx)
    protocols = _etc_protocols(ctx)
    rows = []
    for table, text in texts:
        rows.extend(rows_from_save(table, text, protocols))
    return rows
