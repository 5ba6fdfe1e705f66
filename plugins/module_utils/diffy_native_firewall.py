# Diffy native collector: `diffy_firewall_rules`, Diffy's own table (not an osquery table) that shows
# a host's packet filter whatever its backend: nftables (`nft -s -j list ruleset`, the backend of
# iptables-nft on Debian >= 10, Ubuntu >= 21.04, RHEL >= 8) and legacy x_tables iptables where the
# kernel has legacy tables loaded.  Every collector answers it (diffy_run_pack runs Diffy's own tables
# with this engine even when osqueryi collects the rest).  Columns: docs/native-fidelity.md.
#
# It also tells diffy_run_pack when osquery's `iptables` table cannot see this host's rules
# (osquery issue #7323): `nftables_blind_spot()`.

import json
import os
import re
import shlex

try:
    from ansible.module_utils.diffy_native_base import Context, TableUnavailable, read_text, run_tool, which
    from ansible.module_utils.diffy_native_iptables import legacy_save_texts
except ImportError:
    try:
        from ansible_collections.diffy.diffy.plugins.module_utils.diffy_native_base import (
            Context,
            TableUnavailable,
            read_text,
            run_tool,
            which,
        )
        from ansible_collections.diffy.diffy.plugins.module_utils.diffy_native_iptables import (
            legacy_save_texts,
        )
    except ImportError:
        from diffy_native_base import Context, TableUnavailable, read_text, run_tool, which
        from diffy_native_iptables import legacy_save_texts


FIREWALL_COLUMNS = [
    "backend",
    "family",
    "table_name",
    "kind",
    "chain",
    "chain_type",
    "hook",
    "priority",
    "policy",
    "position",
    "rule",
    "elements",
]

_HANDLE = re.compile(r"\s*# handle \d+\s*$")


def _rule_texts(text):
    """(family, table, chain, handle) -> the rule as `nft -s -a list ruleset` prints it, handle cut."""
    texts, family, table, chain = {}, None, None, None
    for line in text.splitlines():
        stripped = line.strip()
        header = re.match(r"^table (\S+) (\S+) \{", stripped)
        if header:
            family, table, chain = header.group(1), header.group(2), None
            continue
        header = re.match(r"^chain (\S+) \{", stripped)
        if header:
            chain = header.group(1)
            continue
        if re.match(r"^(set|map|flowtable|counter|quota|limit|ct \S+|secmark|synproxy) \S+ \{", stripped):
            chain = None  # a named object's block: its lines are not rules
            continue
        handle = re.search(r"# handle (\d+)\s*$", stripped)
        if handle and chain is not None and not stripped.endswith("{"):
            texts[(family, table, chain, int(handle.group(1)))] = _HANDLE.sub("", stripped)
    return texts


def _nft_document(output):
    """The JSON object of `nft -j` output.  A library in /etc/ld.so.preload that prints into every
    process's stdout (T1574.006-1: "Loaded Atomic Red Team Library successfully!") puts text before
    and after it; the object is decoded from the first line starting with '{', the rest ignored, so
    the table (and the whole module with it) does not fail on such a host."""
    start = 0 if output.startswith("{") else output.find("\n{") + 1
    if start == 0 and not output.startswith("{"):
        return json.loads(output)  # no object at all: the parse error says what nft printed
    return json.JSONDecoder().raw_decode(output, start)[0]


def rows_from_nft(ruleset_json, ruleset_text=""):
    """Rows for `nft -s -j list ruleset` (and, for readable rule text, `nft -s -a list ruleset`)."""
    items = _nft_document(ruleset_json).get("nftables", [])
    texts = _rule_texts(ruleset_text)
    rows, positions = [], {}
    for item in items:
        kind = next(iter(item), None)
        obj = item.get(kind) or {}
        base = {"backend": "nftables", "family": obj.get("family", ""), "kind": kind}
        if kind == "chain":
            base.update(
                table_name=obj.get("table", ""),
                chain=obj.get("name", ""),
                chain_type=obj.get("type", ""),
                hook=obj.get("hook", ""),
                priority=str(obj.get("prio", "")),
                policy=obj.get("policy", ""),
                position=0,
            )
        elif kind == "rule":
            key = (obj.get("family"), obj.get("table"), obj.get("chain"))
            positions[key] = positions.get(key, 0) + 1
            # Counters are volatile, handles are per-host numbering: neither is compared.
            exprs = [{"counter": None} if "counter" in e else e for e in obj.get("expr", [])]
            text = texts.get((*key, obj.get("handle"))) or json.dumps(exprs, sort_keys=True)
            base.update(
                table_name=obj.get("table", ""),
                chain=obj.get("chain", ""),
                position=positions[key],
                rule=text,
            )
        elif kind in ("set", "map"):
            elements = obj.get("elem", [])
            base.update(
                table_name=obj.get("table", ""),
                chain=obj.get("name", ""),
                chain_type=str(obj.get("type", "")),
                elements=",".join(
                    sorted(json.dumps(e, sort_keys=True) if not isinstance(e, str) else e for e in elements)
                ),
            )
        else:
            continue  # metainfo, table headers, stateful objects
        rows.append(base)
    return rows


def rows_from_legacy(table, save_text):
    """Rows for one legacy table's `iptables-legacy-save -t table` (rule counters dropped)."""
    rows, positions = [], {}
    for line in save_text.splitlines():
        if line.startswith(":"):
            parts = line[1:].split()
            rows.append(
                {
                    "backend": "iptables-legacy",
                    "family": "ip",
                    "table_name": table,
                    "kind": "chain",
                    "chain": parts[0],
                    "policy": "" if len(parts) < 2 or parts[1] == "-" else parts[1],
                    "position": 0,
                }
            )
        elif line.startswith(("[", "-A ")):
            rule = line.partition(" ")[2] if line.startswith("[") else line
            chain = shlex.split(rule)[1]
            positions[chain] = positions.get(chain, 0) + 1
            rows.append(
                {
                    "backend": "iptables-legacy",
                    "family": "ip",
                    "table_name": table,
                    "kind": "rule",
                    "chain": chain,
                    "position": positions[chain],
                    "rule": rule,
                }
            )
    return rows


def _nft_outputs(ctx):
    tool = which("nft")
    if tool is None:
        return None
    return run_tool([tool, "-s", "-j", "list", "ruleset"], ctx), run_tool(
        [tool, "-s", "-a", "list", "ruleset"], ctx
    )


def _nf_tables_loaded(ctx):
    modules = read_text(ctx, "/proc/modules") or ""
    return any(line.split(" ", 1)[0] == "nf_tables" for line in modules.splitlines())


def table_diffy_firewall_rules(ctx, nft_outputs=None, legacy_texts=None):
    rows = []
    outputs = nft_outputs if nft_outputs is not None else _nft_outputs(ctx)
    if outputs is None:
        if _nf_tables_loaded(ctx):
            raise TableUnavailable("nf_tables is loaded but the nft tool is not installed")
    else:
        rows.extend(rows_from_nft(*outputs))
    texts = legacy_texts if legacy_texts is not None else legacy_save_texts(ctx)
    for table, text in texts:
        rows.extend(rows_from_legacy(table, text))
    return rows


def nftables_blind_spot(ctx, nft_outputs=None):
    """Why osquery's `iptables` table cannot show this host's firewall, or None when it can: the host
    has an nftables ruleset (which libiptc cannot read), or nf_tables is loaded but unreadable."""
    try:
        outputs = nft_outputs if nft_outputs is not None else _nft_outputs(ctx)
    except (TableUnavailable, TimeoutError) as exc:
        return "nftables ruleset could not be read: %s" % exc
    if outputs is None:
        if _nf_tables_loaded(ctx):
            return "nf_tables is loaded but nft is not installed, so its rules cannot be checked"
        return None
    counted = {}
    for row in rows_from_nft(*outputs):
        counted[row["kind"]] = counted.get(row["kind"], 0) + 1
    if not counted:
        return None
    return (
        "this host's packet filter is nftables (%s); osquery's iptables table reads only legacy "
        "x_tables (osquery issue #7323) - see Diffy's diffy_firewall_rules table"
        % ", ".join("%d %s%s" % (n, k, "s" if n != 1 else "") for k, n in sorted(counted.items()))
    )


_IPTABLES_SQL = re.compile(r"\biptables\b", re.IGNORECASE)
_DIFFY_TABLE_SQL = re.compile(r"\bdiffy_[a-z0-9_]+\b", re.IGNORECASE)


def answered_natively(sql, collector):
    """Diffy's own tables (diffy_*) are answered by the native engine under every collector."""
    return collector == "native" or bool(_DIFFY_TABLE_SQL.search(sql))


def mark_iptables_gaps(queries, results, out_dir, ctx=None):
    """A query on osquery's `iptables` table that ran "ok" on a host whose rules it cannot see is a
    `gap`, not "ok, N rows": its status says why, its (misleading) file is removed.  `queries` maps
    names to SQL; `results` is the per-query status dict diffy_run_pack writes to host.json."""
    ctx = ctx or Context()
    reason = None
    for name, sql in sorted(queries.items()):
        entry = results.get(name)
        if not entry or entry["status"] != "ok" or not _IPTABLES_SQL.search(sql):
            continue
        if reason is None:
            reason = nftables_blind_spot(ctx) or ""
        if not reason:
            return
        entry.update(status="gap", error=reason, sha256=None)
        path = os.path.join(out_dir, name + ".json")
        if os.path.exists(path):
            os.remove(path)
