"""The synthetic fleet generator: contract-valid, deterministic, truthful, and noisy where claimed."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from diffy_analysis import contract
from diffy_fleetgen import ARTIFACTS, FleetOptions, FleetTruth, evidence_matches, generate_fleet
from diffy_fleetgen.__main__ import main as fleetgen_cli
from diffy_fleetgen.artifacts import DEFAULT_KINDS
from diffy_fleetgen.generate import synthetic_pack_bytes
from diffy_fleetgen.hostgen import QUERIES

PACK = json.loads(synthetic_pack_bytes())


def test_the_synthetic_pack_is_the_registrys_core_tables_in_pack_order():
    assert tuple(PACK["queries"]) == QUERIES


def _columns(sql: str) -> list[str]:
    """The result columns of a pack query: what follows the last '.' of each SELECT item."""
    select = re.search(r"SELECT (.*?) FROM", sql, re.S).group(1)
    return [item.strip().split(".")[-1] for item in select.split(",")]


def _rows(run_dir: Path, host: str, query: str) -> list[dict]:
    return json.loads((run_dir / "hosts" / host / f"{query}.json").read_text())


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    out = tmp_path_factory.mktemp("fleet")
    return generate_fleet(out, FleetOptions(hosts=60, seed=11, unreachable=1), workers=1)


@pytest.fixture(scope="module")
def truth(fleet) -> FleetTruth:
    return fleet.truth()


def test_run_validates_against_the_contract(fleet, truth):
    run = fleet.run_dir
    manifest = json.loads((run / "manifest.json").read_text())
    assert contract.schema_errors("manifest", manifest) == []
    assert contract.is_run_id(manifest["run_id"]) and manifest["run_id"] == run.name
    assert contract.schema_errors("pack", json.loads((run / "pack.json").read_text())) == []
    assert (run / "pack.json").read_bytes() == synthetic_pack_bytes()
    assert hashlib.sha256(synthetic_pack_bytes()).hexdigest() == manifest["pack"]["sha256"]
    # every file under hosts/ is listed with its hash and size, and nothing else is listed
    on_disk = {str(p.relative_to(run)) for p in (run / "hosts").rglob("*") if p.is_file()}
    assert on_disk == set(manifest["files"])
    for rel, entry in manifest["files"].items():
        data = (run / rel).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}, rel
    assert sorted(h for h, e in manifest["hosts"].items() if e["status"] == "ok") == sorted(truth.hosts)
    assert [h for h, e in manifest["hosts"].items() if e["status"] == "unreachable"] == truth.unreachable
    assert not (run / "hosts" / truth.unreachable[0]).exists()


def test_every_host_has_every_pack_query_with_the_pack_columns(fleet, truth):
    for host in truth.hosts[:10]:
        record = json.loads((fleet.run_dir / "hosts" / host / "host.json").read_text())
        assert contract.schema_errors("host", record) == []
        assert set(record["queries"]) == set(PACK["queries"])
        assert record["addresses"]["ipv4"] and record["cloud"]["instance_id"] == host
        for name, spec in PACK["queries"].items():
            rows = _rows(fleet.run_dir, host, name)
            assert contract.schema_errors("query-result", rows) == []
            assert record["queries"][name]["rows"] == len(rows)
            columns = _columns(spec["query"])
            for row in rows:
                assert list(row) == columns, (name, row)
                assert all(isinstance(v, str) for v in row.values()), "osquery prints strings"


def test_hosts_are_realistically_sized(fleet, truth):
    counts = {q: len(_rows(fleet.run_dir, truth.hosts[0], q)) for q in PACK["queries"]}
    assert 550 <= sum(counts.values()) <= 1100
    assert counts["processes"] >= 100 and counts["deb_packages"] >= 300
    assert counts["rpm_packages"] == 0  # a Debian host: osquery's rpm_packages is empty
    assert counts["ld_preload"] == 0 or truth.hosts[0] in truth.compromised


def test_same_seed_same_bytes_other_seed_other_fleet(tmp_path):
    a = generate_fleet(tmp_path / "a", FleetOptions(hosts=25, seed=5), workers=1)
    b = generate_fleet(tmp_path / "b", FleetOptions(hosts=25, seed=5), workers=2)
    c = generate_fleet(tmp_path / "c", FleetOptions(hosts=25, seed=6), workers=1)
    assert (a.run_dir / "manifest.json").read_bytes() == (b.run_dir / "manifest.json").read_bytes()
    assert a.truth_path.read_bytes() == b.truth_path.read_bytes()
    assert (a.baseline_dir / "processes.json").read_bytes() == (
        b.baseline_dir / "processes.json"
    ).read_bytes()
    assert c.run_dir.name != a.run_dir.name
    assert json.loads(c.truth_path.read_text())["hosts"] != json.loads(a.truth_path.read_text())["hosts"]


def test_reuse_keeps_a_complete_fleet(tmp_path):
    first = generate_fleet(tmp_path, FleetOptions(hosts=20, seed=2), workers=1)
    marker = first.run_dir / "hosts" / "marker"
    marker.write_text("kept")
    again = generate_fleet(tmp_path, FleetOptions(hosts=20, seed=2), workers=1, reuse=True)
    assert again == first and marker.exists()
    generate_fleet(tmp_path, FleetOptions(hosts=20, seed=2), workers=1)  # no reuse: rewritten
    assert not marker.exists()


def test_truth_matches_the_files(fleet, truth):
    assert len(truth.compromised) == 3  # 5 % of 60
    assert truth.compromised_hosts <= set(truth.hosts)
    assert not (truth.run_dir / "truth.json").exists() and truth.run_dir.name not in truth.run_dir.parent.name
    _check_evidence(fleet, truth)


def test_every_artifact_kind_leaves_the_evidence_it_claims(tmp_path):
    options = FleetOptions(hosts=160, seed=12, inject=tuple(ARTIFACTS), compromised_fraction=0.2)
    fleet = generate_fleet(tmp_path, options, workers=1)
    truth = fleet.truth()
    assert {a["artifact"] for arts in truth.compromised.values() for a in arts} == set(ARTIFACTS)
    _check_evidence(fleet, truth)


def _check_evidence(fleet, truth):
    for host, artifacts in truth.compromised.items():
        assert 1 <= len(artifacts) <= 3
        assert len({a["artifact"] for a in artifacts}) == len(artifacts)
        for artifact in artifacts:
            assert artifact["artifact"] in ARTIFACTS
            for ev in artifact["evidence"]:
                host_rows = _rows(fleet.run_dir, host, ev["query"])
                base_rows = json.loads((truth.baseline_dir / f"{ev['query']}.json").read_text())
                on_host = [r for r in host_rows if evidence_matches(ev, ev["query"], r)]
                in_base = [r for r in base_rows if evidence_matches(ev, ev["query"], r)]
                if ev["kind"] == "added":
                    assert on_host and not in_base, ev
                elif ev["kind"] == "missing":
                    assert in_base and not on_host, ev
                else:  # changed: same key on both sides, different content
                    assert on_host and in_base and on_host != in_base, ev


def test_populations_and_noise_are_recorded(fleet, truth):
    pops = truth.populations
    assert 0.2 < len(pops["app_version:2.4.0"]) / 60 < 0.6
    assert len(pops["instance_type:m6i.2xlarge"]) >= 8
    assert len(pops["canary"]) == 9  # 15 % of 60
    v2 = pops["app_version:2.4.0"][0]
    packages = {r["name"]: r["version"] for r in _rows(fleet.run_dir, v2, "deb_packages")}
    assert packages["acme-orders"] == "2.4.0-1"
    canary = pops["canary"][0]
    assert any(r["port"] == "15001" for r in _rows(fleet.run_dir, canary, "listening_ports"))
    assert set(truth.noise) == {"ssh_session", "cron_running", "extra_kthreads"}


def test_many_kinds_and_lateral_movement_in_a_larger_fleet(tmp_path):
    truth = generate_fleet(tmp_path, FleetOptions(hosts=400, seed=3), workers=2).truth()
    kinds = {a["artifact"] for arts in truth.compromised.values() for a in arts}
    assert kinds == set(DEFAULT_KINDS)
    campaigns: dict[str, set[str]] = {}
    for host, arts in truth.compromised.items():
        for a in arts:
            campaigns.setdefault(a["campaign"], set()).add(host)
    assert max(len(h) for h in campaigns.values()) >= 2, "some artifact spread to several hosts"


def _normalized(rows: list[dict], volatile: set[str], identity: dict[str, str]) -> list[str]:
    out = []
    for row in rows:
        if row.get("name", "").startswith("kworker/"):
            continue
        text = json.dumps({k: v for k, v in row.items() if k not in volatile}, sort_keys=True)
        for value, placeholder in identity.items():
            text = text.replace(value, placeholder)
        out.append(text)
    return sorted(out)


VOLATILE = {
    "processes": {"pid", "parent", "start_time", "resident_size", "user_time", "system_time", "threads"},
    "listening_ports": {"pid", "fd", "socket"},
    "iptables": {"packets", "bytes"},
    "kernel_modules": {"address"},
    "logged_in_users": {"time", "pid"},
}


def test_noise_is_where_we_claim_and_nowhere_else(fleet, truth):
    """Two clean hosts of the same population differ only in volatile columns, identity and the
    random statd port: exactly the noise an engine must ignore."""
    special = truth.compromised_hosts | {h for hosts in truth.noise.values() for h in hosts}
    by_pop: dict[tuple, list[str]] = {}
    for host in truth.hosts:
        if host in special:
            continue
        key = tuple(sorted(p for p, members in truth.populations.items() if host in members))
        by_pop.setdefault(key, []).append(host)
    a, b = next(hosts for hosts in by_pop.values() if len(hosts) >= 2)[:2]
    idents = {}
    for host in (a, b):
        rec = json.loads((fleet.run_dir / "hosts" / host / "host.json").read_text())
        idents[host] = {host: "<iid>", rec["hostname"]: "<hostname>", rec["addresses"]["ipv4"][0]: "<ip>"}
    differing = []
    for query in PACK["queries"]:
        ra, rb = _rows(fleet.run_dir, a, query), _rows(fleet.run_dir, b, query)
        vol = VOLATILE.get(query, set())
        if query == "listening_ports":  # rpc.statd's random port
            ra = [r for r in ra if r["name"] != "rpc.statd"]
            rb = [r for r in rb if r["name"] != "rpc.statd"]
        if _normalized(ra, vol, idents[a]) != _normalized(rb, vol, idents[b]):
            differing.append(query)
        raw_a = sorted(json.dumps(r, sort_keys=True) for r in ra)
        raw_b = sorted(json.dumps(r, sort_keys=True) for r in rb)
        if query in VOLATILE or query in {"etc_hosts", "processes"}:
            assert raw_a != raw_b, f"{query} should carry per-host noise"
    assert differing == []
    pids = {r["name"]: r["pid"] for r in _rows(fleet.run_dir, a, "processes")}
    pids_b = {r["name"]: r["pid"] for r in _rows(fleet.run_dir, b, "processes")}
    assert pids["sshd"] != pids_b["sshd"] or pids["gunicorn"] != pids_b["gunicorn"]
    statd = [
        next(r["port"] for r in _rows(fleet.run_dir, h, "listening_ports") if r["name"] == "rpc.statd")
        for h in (a, b)
    ]
    assert statd[0] != statd[1]


def test_transient_noise_shows_up(fleet, truth):
    host = truth.noise["ssh_session"][0] if truth.noise["ssh_session"] else None
    if host is None:
        pytest.skip("no ssh session drawn for this seed")
    names = {r["cmdline"] for r in _rows(fleet.run_dir, host, "processes")}
    assert "sshd: admin@pts/0" in names
    assert any(r["type"] == "user" for r in _rows(fleet.run_dir, host, "logged_in_users"))


def test_baseline_is_a_clean_majority_host(fleet, truth):
    base = truth.baseline_dir
    assert contract.schema_errors("host", json.loads((base / "host.json").read_text())) == []
    manifest = json.loads((truth.baseline_run_dir / "manifest.json").read_text())
    assert contract.schema_errors("manifest", manifest) == [] and list(manifest["hosts"]) == [base.name]
    packages = {r["name"]: r["version"] for r in json.loads((base / "deb_packages.json").read_text())}
    assert packages["acme-orders"] == "2.3.1-1" and "envoy" not in packages
    assert json.loads((base / "ld_preload.json").read_text()) == []
    assert not any(r["type"] == "user" for r in json.loads((base / "logged_in_users.json").read_text()))


def test_inject_restricts_artifact_kinds(tmp_path):
    truth = generate_fleet(
        tmp_path, FleetOptions(hosts=40, seed=4, inject=("suid_shell",), compromised_fraction=0.1), workers=1
    ).truth()
    assert {a["artifact"] for arts in truth.compromised.values() for a in arts} == {"suid_shell"}
    assert len(truth.compromised) == 4


def test_options_are_checked():
    with pytest.raises(ValueError, match="unknown artifact"):
        FleetOptions(inject=("teleport",))
    with pytest.raises(ValueError, match="at least 1"):
        FleetOptions(hosts=0)


def test_cli(tmp_path):
    result = CliRunner().invoke(
        fleetgen_cli, ["--hosts", "20", "--seed", "9", "--out", str(tmp_path), "-j", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "20 hosts, 1 compromised" in result.output
    assert len(list(tmp_path.glob("*.truth.json"))) == 1
    bad = CliRunner().invoke(fleetgen_cli, ["--out", str(tmp_path), "--inject", "teleport"])
    assert bad.exit_code == 2 and "teleport" in bad.output


def test_patch_drift_population(tmp_path):
    """A security update half rolled out: a benign population whose sudo hash differs."""
    plain = generate_fleet(tmp_path / "a", FleetOptions(hosts=40, seed=8), workers=1)
    drift = generate_fleet(tmp_path / "b", FleetOptions(hosts=40, seed=8, patched_fraction=0.25), workers=1)
    assert plain.run_dir.name != drift.run_dir.name
    truth = drift.truth()
    patched = truth.populations["patched:sudo-security-update"]
    assert len(patched) == 10
    assert "patched:sudo-security-update" not in plain.truth().populations

    def sudo(fleet, host):
        rows = _rows(fleet.run_dir, host, "system_binaries")
        return next(r["sha256"] for r in rows if r["path"] == "/usr/bin/sudo")

    unpatched = next(h for h in truth.hosts if h not in patched)
    assert sudo(drift, patched[0]) != sudo(drift, unpatched) == sudo(plain, unpatched)


def test_cli_trouble_is_one_line_and_exit_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = CliRunner().invoke(fleetgen_cli, ["--hosts", "3", "--out", str(blocker / "sub")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and result.output.startswith("Error:")
