"""The held-out fleet generator (benchmarks/heldout): contract, truth, determinism, catalogues."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

HELDOUT = Path(__file__).resolve().parents[1] / "benchmarks" / "heldout"
sys.path.insert(0, str(HELDOUT))

import generate  # noqa: E402
from synth import attacks, noise  # noqa: E402
from synth.fleet import build_fleet  # noqa: E402
from synth.host import derive_seed  # noqa: E402
from synth.pack import load_pack  # noqa: E402
from synth.scenarios import SCENARIOS  # noqa: E402
from synth.validate import FleetInvalid, validate_fleet  # noqa: E402

NOISE, ATTACKS = generate.load_catalogues()


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("heldout")
    generate.generate(out, [3], ["fleet_6", "clean_small"], "dev")
    return out


def test_files_validate_and_truth_holds(small: Path) -> None:
    for name in ("fleet_6-s3", "clean_small-s3"):
        summary = validate_fleet(small / name)
        assert summary["hosts"] >= 6
    truth = json.loads((small / "fleet_6-s3" / "truth.json").read_text())
    assert truth["options"]["generator"] == "heldout-synth/1"
    assert truth["options"]["scenario"] == "fleet_6" and truth["options"]["seed"] == 3
    assert len(truth["compromised"]) == 1
    assert json.loads((small / "clean_small-s3" / "truth.json").read_text())["compromised"] == {}
    canary = build_fleet(SCENARIOS["canary"], 3, NOISE, ATTACKS)
    assert len(canary.populations["canary"]) == 2
    assert not set(canary.populations["canary"]) & set(canary.compromised)


def test_truth_loads_with_the_projects_truth_reader(small: Path) -> None:
    from diffy_fleetgen.truth import FleetTruth, evidence_matches

    truth = FleetTruth.load(small / "fleet_6-s3" / "truth.json")
    assert truth.run_dir.is_dir() and truth.baseline_dir and (truth.baseline_dir / "host.json").is_file()
    assert truth.baseline_run_dir and (truth.baseline_run_dir / "manifest.json").is_file()
    ((host, entries),) = truth.compromised.items()
    for e in (e for entry in entries for e in entry["evidence"] if e["kind"] != "missing"):
        rows = json.loads((truth.run_dir / "hosts" / host / f"{e['query']}.json").read_text())
        assert any(evidence_matches(e, e["query"], r) for r in rows)


def test_every_row_has_the_pack_columns_as_strings(small: Path) -> None:
    pack = load_pack()
    run = next((small / "fleet_6-s3" / "results").iterdir())
    for hdir in (run / "hosts").iterdir():
        for query, columns in pack.columns.items():
            for row in json.loads((hdir / f"{query}.json").read_text()):
                assert set(row) == set(columns)
                assert all(isinstance(v, str) for v in row.values())


def test_false_evidence_is_caught(small: Path, tmp_path: Path) -> None:
    import shutil

    fdir = tmp_path / "fleet"
    shutil.copytree(small / "fleet_6-s3", fdir)
    truth = json.loads((fdir / "truth.json").read_text())
    host = next(iter(truth["compromised"]))
    truth["compromised"][host][0]["evidence"].append(
        {"query": "users", "kind": "added", "match": {"username": "root", "uid": "0"}}
    )
    (fdir / "truth.json").write_text(json.dumps(truth))
    with pytest.raises(FleetInvalid, match="does not hold"):
        validate_fleet(fdir)


def test_tampered_file_is_caught(small: Path, tmp_path: Path) -> None:
    import shutil

    fdir = tmp_path / "fleet"
    shutil.copytree(small / "clean_small-s3", fdir)
    run = next((fdir / "results").iterdir())
    target = next((run / "hosts").iterdir()) / "users.json"
    target.write_text(target.read_text().replace('"root"', '"r00t"', 1))
    with pytest.raises(FleetInvalid, match="hash"):
        validate_fleet(fdir)


def test_same_seed_same_bytes_different_seed_differs(small: Path, tmp_path: Path) -> None:
    generate.generate(tmp_path / "a", [3], ["fleet_6"], "dev", validate=False)
    generate.generate(tmp_path / "b", [4], ["fleet_6"], "dev", validate=False)
    assert files_of(tmp_path / "a" / "fleet_6-s3") == files_of(small / "fleet_6-s3")
    other = files_of(tmp_path / "b" / "fleet_6-s4")
    mine = files_of(small / "fleet_6-s3")
    assert set(other) != set(mine)  # host ids and run ids differ


def test_noise_catalogue_matches_implementations() -> None:
    kinds = NOISE["kinds"]
    assert len(kinds) >= 20
    for name, spec in kinds.items():
        assert spec["citations"] and all(c["url"].startswith("http") and c["says"] for c in spec["citations"])
        module, _, attr = spec["realized_by"].partition(":")
        obj = __import__(module, fromlist=["x"])
        for part in attr.split("."):
            obj = getattr(obj, part)
        if spec["variation"] in ("transient", "cohort"):
            assert name in noise.REGISTRY
    assert set(noise.REGISTRY) <= set(kinds)


def test_noise_functions_touch_only_declared_queries() -> None:
    fleet = build_fleet(SCENARIOS["fleet_4"], 5, NOISE, ATTACKS)
    from synth.base_runtime import build_runtime
    from synth.base_system import build_system
    from synth.fleet import make_host

    for kind, fn in sorted(noise.REGISTRY.items()):
        host = make_host(0, 5, SCENARIOS["fleet_4"], fleet.fleet, ("2.4.0", "m5.large", False))
        build_system(host, fleet.fleet)
        ctx = build_runtime(host, fleet.fleet)
        ctx.update({"fleet": fleet.fleet, "usns": ["usn-sudo"], "kernel_update": True})
        before = json.dumps(host.tables, sort_keys=True)
        touched = fn(host, ctx, random.Random(derive_seed(kind)))
        changed = {
            q
            for q in host.tables
            if json.dumps(host.tables[q], sort_keys=True)
            != json.dumps(json.loads(before).get(q), sort_keys=True)
        }
        assert changed, kind
        assert changed <= touched <= set(NOISE["kinds"][kind]["touches"]), kind


def test_attack_catalogue_matches_implementations() -> None:
    arts = ATTACKS["artifacts"]
    assert set(arts) == set(attacks.REGISTRY) and len(arts) >= 16
    fleet = build_fleet(SCENARIOS["fleet_4"], 6, NOISE, ATTACKS)
    from synth.base_runtime import build_runtime
    from synth.base_system import build_system
    from synth.fleet import make_host

    for name, spec in arts.items():
        assert all(t["id"].startswith("T1") for t in spec["techniques"])
        host = make_host(1, 6, SCENARIOS["fleet_4"], fleet.fleet, ("2.4.0", "m5.large", False))
        build_system(host, fleet.fleet)
        ctx = build_runtime(host, fleet.fleet)
        p = attacks.choose_params(name, random.Random(derive_seed(name)), fleet.fleet)
        evidence = attacks.REGISTRY[name](host, ctx, p)
        declared = {(e["query"], e["kind"]) for e in spec["evidence"]}
        assert evidence and {(e["query"], e["kind"]) for e in evidence} <= declared, name
        for e in evidence:
            cols = next(
                d["match_columns"]
                for d in spec["evidence"]
                if (d["query"], d["kind"]) == (e["query"], e["kind"])
            )
            assert set(e["match"]) == set(cols), name


def test_seed_sets_are_frozen_and_disjoint() -> None:
    held = generate.read_seed_file("HELDOUT_SEEDS")
    dev = generate.read_seed_file("DEV_SEEDS")
    assert held and dev and not set(held) & set(dev)
    assert "No threshold" in (HELDOUT / "HELDOUT_SEEDS").read_text()
    assert generate.parse_seeds("heldout") == ("heldout", held)
    assert generate.parse_seeds(",".join(map(str, dev[:2]))) == ("dev", dev[:2])


def test_index_lists_every_fleet(small: Path) -> None:
    index = generate.write_index(small)
    assert {f["fleet"] for f in index["fleets"]} == {"fleet_6-s3", "clean_small-s3"}
    assert index["bytes"] > 0 and index["scenarios"] == ["clean_small", "fleet_6"]


def test_cli_rejects_unknown_scenario(tmp_path: Path) -> None:
    assert generate.main(["--out", str(tmp_path), "--seeds", "1", "--scenarios", "nope"]) == 2
