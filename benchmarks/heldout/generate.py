"""Generate held-out evaluation fleets (dev tooling, not part of the diffy_analysis package).

    python benchmarks/heldout/generate.py --out DIR --seeds dev|heldout|N,M [--scenarios a,b]

Writes one directory per (scenario, seed): ``<out>/<scenario>-s<seed>/truth.json`` plus a
``diffy-results/1`` run and a baseline run, and validates every file against the schemas.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from synth.fleet import build_fleet  # noqa: E402
from synth.pack import load_pack  # noqa: E402
from synth.scenarios import SCENARIOS  # noqa: E402
from synth.validate import FleetInvalid, validate_fleet  # noqa: E402
from synth.writer import write_fleet  # noqa: E402


def read_seed_file(name: str) -> list[int]:
    lines = (HERE / name).read_text("utf-8").splitlines()
    return [int(x) for x in (line.split("#")[0].strip() for line in lines) if x]


def parse_seeds(text: str) -> tuple[str, list[int]]:
    if text == "dev":
        return "dev", read_seed_file("DEV_SEEDS")
    if text == "heldout":
        return "heldout", read_seed_file("HELDOUT_SEEDS")
    seeds = [int(x) for x in text.split(",") if x.strip()]
    for name, path in (("heldout", "HELDOUT_SEEDS"), ("dev", "DEV_SEEDS")):
        if seeds and set(seeds) <= set(read_seed_file(path)):
            return name, seeds
    return "custom", seeds


def load_catalogues() -> tuple[dict, dict]:
    noise = json.loads((HERE / "noise_catalogue.json").read_text("utf-8"))
    attacks = json.loads((HERE / "attack_catalogue.json").read_text("utf-8"))
    return noise, attacks


def generate(
    out: Path, seeds: list[int], scenarios: list[str], seed_set: str, validate: bool = True
) -> list[dict]:
    noise, attacks = load_catalogues()
    pack = load_pack()
    summary = []
    for name in scenarios:
        for seed in seeds:
            fleet = build_fleet(SCENARIOS[name], seed, noise, attacks)
            fdir = write_fleet(out, f"{name}-s{seed}", fleet, pack, {"seed_set": seed_set})
            info = validate_fleet(fdir) if validate else {}
            summary.append(
                {"fleet": fdir.name, "scenario": name, "seed": seed, "hosts": len(fleet.hosts), **info}
            )
    return summary


def write_index(out: Path) -> dict:
    """``<out>/index.json``: every fleet's scenario, seed, size and counts, read from its truth."""
    fleets = []
    for truth_path in sorted(out.glob("*/truth.json")):
        t = json.loads(truth_path.read_text("utf-8"))
        fleets.append(
            {
                "fleet": truth_path.parent.name,
                "scenario": t["options"]["scenario"],
                "seed": t["options"]["seed"],
                "seed_set": t["options"].get("seed_set"),
                "hosts": len(t["hosts"]),
                "unreachable": len(t["unreachable"]),
                "compromised": len(t["compromised"]),
                "artifacts": sorted({e["artifact"] for es in t["compromised"].values() for e in es}),
            }
        )
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file() and p.name != "index.json")
    index = {
        "generator": "heldout-synth/1",
        "fleets": fleets,
        "bytes": size,
        "scenarios": sorted({f["scenario"] for f in fleets}),
    }
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n", "utf-8")
    return index


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--seeds", default="dev", help="dev, heldout, or a comma list of integers")
    ap.add_argument("--scenarios", default="all", help="all, or a comma list: " + ",".join(SCENARIOS))
    ap.add_argument("--no-validate", action="store_true", help="skip the schema/truth checks")
    args = ap.parse_args(argv)
    seed_set, seeds = parse_seeds(args.seeds)
    names = list(SCENARIOS) if args.scenarios == "all" else args.scenarios.split(",")
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown or not seeds:
        print(f"unknown scenarios {unknown} or no seeds", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        summary = generate(args.out, seeds, names, seed_set, not args.no_validate)
    except FleetInvalid as exc:
        print(f"invalid fleet: {exc}", file=sys.stderr)
        return 2
    size = write_index(args.out)["bytes"]
    hosts = sum(s.get("hosts", 0) for s in summary)
    print(
        f"{len(summary)} fleets, {hosts} hosts, {size / 1e6:.1f} MB in {args.out} "
        f"({time.perf_counter() - start:.1f} s, seed set {seed_set})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
