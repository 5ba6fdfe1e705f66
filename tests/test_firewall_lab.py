"""Firewall rules compared on nftables lab hosts: every lab host gets a real nftables ruleset in its
own network namespace (one host an extra rule), the collect playbook runs over SSH, and the analysis
flags the odd host through Diffy's diffy_firewall_rules table - while osquery's iptables table, blind
to nftables (osquery issue #7323), is recorded as a gap on every host, never "ok, 0 rows".

Manual runs: lab name `fid`, subnet 10.213.192.0/24 (run under flock /tmp/diffy-lab.lock)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from diffy_analysis.contract import new_run_id
from diffy_lab import LabConfig
from diffy_lab.hosts import nsenter
from diffy_lab.testing import running_lab, unique_name

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ODD = "app-x-03"
RULESET = (
    "table inet filter {\n"
    "  chain input { type filter hook input priority 0; policy accept;\n"
    "    ct state established,related accept\n"
    "    tcp dport 22 accept\n"
    "    tcp dport 8080 accept\n"
    "  }\n"
    "}\n"
)


@pytest.fixture(scope="module")
def lab():
    if shutil.which("nft") is None:
        pytest.fail("nft is not installed (scripts/setup.sh installs nftables)")
    config = LabConfig(name=unique_name("fid"), apps=[("app_x", 4)], subnet="10.213.192.0/24")
    with running_lab(config) as the_lab:
        for host in the_lab.hosts:
            nsenter(
                host, ["nft", "-f", "-"] if False else ["sh", "-c", f"printf '%s' '{RULESET}' | nft -f -"]
            )
            if host.name == ODD:  # a backdoor port opened in the firewall of one host only
                nsenter(
                    host, ["nft", "add", "rule", "inet", "filter", "input", "tcp", "dport", "4444", "accept"]
                )
        yield the_lab


def test_nft_rules_are_compared_and_osquery_iptables_is_a_gap(lab, tmp_path):
    run_id = new_run_id()
    argv = [
        "ansible-playbook", "playbooks/collect.yml", "-i", str(lab.inventory), "-l", "app_x",
        "-e", f"diffy_results_root={tmp_path}", "-e", "diffy_collect_collector=native",
        "-e", f"diffy_run_id={run_id}",
    ]  # fmt: skip
    proc = lab.run_controller(argv, timeout=600, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    run_dir = tmp_path / run_id
    for host_json in run_dir.glob("hosts/*/host.json"):
        record = json.loads(host_json.read_text())
        assert record["queries"]["firewall_rules"]["status"] == "ok"
        gap = record["queries"]["iptables"]
        assert gap["status"] == "gap" and "nftables" in gap["error"], gap
        rules = json.loads((host_json.parent / "firewall_rules.json").read_text())
        assert {"backend": "nftables", "kind": "rule", "rule": "tcp dport 22 accept"}.items() <= next(
            r for r in rules if r["rule"] == "tcp dport 22 accept"
        ).items()
    out = tmp_path / "analysis.json"
    analysed = subprocess.run(
        [str(BIN / "diffy-analyze"), str(run_dir), "--format", "json", "-o", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert analysed.returncode in (0, 1), analysed.stderr
    doc = json.loads(out.read_text())
    odd = next(
        h for h in doc["hosts"] if h["host"].endswith(ODD) or h.get("identity", {}).get("hostname") == ODD
    )
    assert any(f["query"] == "firewall_rules" and "4444" in json.dumps(f) for f in odd["findings"]), odd
    others = [h for h in doc["hosts"] if h is not odd]
    assert not any(f["query"] == "firewall_rules" for h in others for f in h["findings"])
    assert all(
        any(g["query"] == "iptables" and g["status"] == "gap" for g in h["gaps"]) for h in doc["hosts"]
    )
