"""Scale benchmark (issues 8, 17): analysis time vs. bare JSON parsing, peak RSS and accuracy, by fleet size.

    python benchmarks/bench_scale.py                       # 1k, 10k hosts, both kinds, all methods
    python benchmarks/bench_scale.py --sizes 1000,10000 --methods peers,baseline --kinds unique
    python benchmarks/bench_scale.py --sizes 100000 --methods peers --kinds unique   # 100k: minutes

Two kinds of fleet (``--kinds``): ``reuse`` is fleetgen's default, where most result files are
byte-identical across the hosts of a population (the loader skips re-parsing them); ``unique`` adds
per-host volatile values to every file whose real osquery output has them (fleetgen's
``per_host_volatile``: mount sizes and free blocks, file times and inodes, on top of the pids,
ports, fds, counters, module addresses and session times every fleet has), so 8 of the 20 files of
every host differ from every other host's. Fleets come from diffy_fleetgen and are cached
under ``--cache`` (default benchmarks/.fleets/, git-ignored).
Every measurement runs in a fresh Python process, so its peak RSS (ru_maxrss) is its own. In that
process the bare parse (``json.load`` of every file of the run: manifest, host records, results) is
timed first, then the analysis; the ratio is analysis / bare parse. Every file is read once before
either timing, so both start from the same page cache (warm where the fleet fits in RAM).
Naive and baseline methods run only up to ``--max-naive`` / ``--max-baseline`` hosts (10k default).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))  # diffy_fleetgen: dev tooling outside the package

from diffy_fleetgen import FleetOptions, generate_fleet  # noqa: E402
from diffy_fleetgen.evaluate import run_method, score  # noqa: E402

CACHE = REPO / "benchmarks" / ".fleets"
SEED = 7


def bare_parse(run_dir: Path, loads=json.loads) -> tuple[float, int]:
    """Seconds to parse every file of a run (what reading the collected data costs at least).

    Issue 8's reference is the standard library's ``json``; ``loads=orjson.loads`` gives the
    stricter reference of the fastest parser available (the engine may use it too)."""
    started = time.perf_counter()
    files = 0
    with open(run_dir / "manifest.json", "rb") as handle:
        loads(handle.read())
    for host_dir in os.scandir(run_dir / "hosts"):
        for entry in os.scandir(host_dir.path):
            with open(entry.path, "rb") as handle:
                loads(handle.read())
            files += 1
    return time.perf_counter() - started, files


def orjson_parse(run_dir: Path) -> float | None:
    try:
        import orjson
    except ImportError:
        return None
    return bare_parse(run_dir, orjson.loads)[0]


def warm(run_dir: Path) -> tuple[float, int]:
    """Read every file once, untimed for the ratio: both timings then start from the same page cache
    (without it the bare parse would pay the disk reads and the analysis would not)."""
    started = time.perf_counter()
    size = 0
    for root, _dirs, names in os.walk(run_dir):
        for name in names:
            with open(os.path.join(root, name), "rb") as handle:  # noqa: PTH118
                size += len(handle.read())
    return time.perf_counter() - started, size


KINDS = ("reuse", "unique")


def fleet_options(hosts: int, kind: str) -> FleetOptions:
    return FleetOptions(hosts=hosts, seed=SEED, per_host_volatile=kind == "unique")


def _analyze(fleet, method: str, jobs: int) -> tuple[object, float]:
    """``run_method``, with ``jobs`` reader processes (LoadOptions.jobs) for the engine's methods."""
    if jobs == 1 or method == "naive":
        return run_method(fleet, method)
    from diffy_analysis.api import analyze
    from diffy_analysis.load import LoadOptions

    started = time.perf_counter()
    baseline = fleet.baseline_dir if method == "baseline" else None
    found = analyze([fleet.run_dir], baseline=baseline, method=method, load_options=LoadOptions(jobs=jobs))
    return found, time.perf_counter() - started


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def measure(hosts: int, method: str, kind: str = "reuse", cache: Path = CACHE, jobs: int = 1) -> dict:
    """One measurement, in this process (called in a child by ``main``). With ``jobs`` > 1 the
    analysis's CPU seconds include its reader processes' (and their peak RSS is reported apart)."""
    fleet = generate_fleet(cache, fleet_options(hosts, kind), reuse=True)
    read_s, size = warm(fleet.run_dir)
    # CPU seconds next to wall seconds: on a shared machine (load average far above the cores) wall
    # time measures the other jobs as much as this one; process time is this process's own work
    cpu = time.process_time()
    parse_s, files = bare_parse(fleet.run_dir)
    parse_cpu = time.process_time() - cpu
    cpu = time.process_time()
    orjson_s = orjson_parse(fleet.run_dir)
    orjson_cpu = time.process_time() - cpu
    cpu, children = time.process_time(), _children_cpu()
    analysis, analysis_s = _analyze(fleet, method, jobs)
    analysis_cpu = time.process_time() - cpu + _children_cpu() - children
    scores = score(analysis, fleet.truth(), method=method)
    return {
        "hosts": hosts,
        "kind": kind,
        "method": method,
        "jobs": jobs,
        "files": files,
        "bytes": size,
        "read_s": round(read_s, 2),
        "parse_s": round(parse_s, 2),
        "analysis_s": round(analysis_s, 2),
        "ratio": round(analysis_s / parse_s, 2),
        "orjson_s": None if orjson_s is None else round(orjson_s, 2),
        "ratio_orjson": None if not orjson_s else round(analysis_s / orjson_s, 2),
        "parse_cpu_s": round(parse_cpu, 2),
        "orjson_cpu_s": None if orjson_s is None else round(orjson_cpu, 2),
        "analysis_cpu_s": round(analysis_cpu, 2),
        "ratio_orjson_cpu": None if not orjson_s else round(analysis_cpu / orjson_cpu, 2),
        "load_average": round(os.getloadavg()[0], 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "reader_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "precision": round(scores.precision, 4),
        "recall": round(scores.recall, 4),
        "f1": round(scores.f1, 4),
        "top3": round(scores.top_rate, 4),
        "flagged": scores.flagged,
        "compromised": scores.compromised,
    }


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(
            next(
                x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")
            ).split()[1]
        )
    except (OSError, StopIteration, ValueError):
        mem_kb = 0
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {mem_kb / 1024 / 1024:.1f} GiB RAM, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def commit() -> str:
    """The checkout's HEAD (and whether the analysis code has uncommitted changes)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "diffy_analysis"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (+ uncommitted changes under diffy_analysis/)" if dirty else "")


HEADER = (
    "hosts",
    "fleet",
    "method",
    "analysis s",
    "bare json.load s",
    "ratio",
    "bare orjson s",
    "ratio vs orjson",
    "CPU s (analysis / orjson)",
    "CPU ratio vs orjson",
    "peak RSS MB",
    "precision",
    "recall",
    "F1",
    "top-3",
)


def row(r: dict) -> str:
    if "error" in r:
        return f"| {r['hosts']} | {r['kind']} | {r['method']} | {r['error']} |" + " |" * (len(HEADER) - 4)
    orj = "- | -" if r.get("orjson_s") is None else f"{r['orjson_s']:.1f} | {r['ratio_orjson']:.2f}"
    if r.get("orjson_cpu_s") is None:
        orj += " | - | -"
    else:
        orj += f" | {r['analysis_cpu_s']:.1f} / {r['orjson_cpu_s']:.1f} | {r['ratio_orjson_cpu']:.2f}"
    return (
        f"| {r['hosts']} | {r['kind']} | {r['method']} | {r['analysis_s']:.1f} | {r['parse_s']:.1f} "
        f"| {r['ratio']:.2f} | "
        f"{orj} | {r['peak_rss_mb']} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} "
        f"| {r['top3']:.0%} |"
    )


def _child(args: argparse.Namespace, hosts: int, method: str, kind: str) -> dict:
    """One measurement in a fresh process (its peak RSS is its own)."""
    failed = {"hosts": hosts, "kind": kind, "method": method}
    command = [sys.executable, __file__, "--one", str(hosts), method, kind, "--cache", str(args.cache)]
    command += ["--jobs", str(args.jobs)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout, check=False)
    except subprocess.TimeoutExpired:
        return failed | {"error": f"timed out after {args.timeout} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        err = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return failed | {"error": f"failed: {err[:160]}"}
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated fleet sizes (100000 too)")
    parser.add_argument("--kinds", default="reuse,unique", help="fleet kinds: reuse and/or unique")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where generated fleets are kept")
    parser.add_argument("--methods", default="peers,baseline,naive", help="peers, baseline and/or naive")
    parser.add_argument("--max-naive", type=int, default=10_000, help="largest fleet for the naive diff")
    parser.add_argument("--max-baseline", type=int, default=10_000, help="largest fleet for baseline mode")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per measurement")
    parser.add_argument("--json", type=Path, help="also append results as JSON lines to this file")
    parser.add_argument(
        "--jobs", type=int, default=1, help="reader processes for the analysis (LoadOptions.jobs; 1: none)"
    )
    parser.add_argument("--one", nargs=3, metavar=("HOSTS", "METHOD", "KIND"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:  # child mode: one measurement, JSON on stdout
        print(json.dumps(measure(int(args.one[0]), args.one[1], args.one[2], args.cache, args.jobs)))
        return 0
    print(f"machine: {machine()}")
    print(f"commit: {commit()}, load average at start: {os.getloadavg()[0]:.1f}, jobs: {args.jobs}")
    print("| " + " | ".join(HEADER) + " |\n|" + "---|" * len(HEADER), flush=True)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown fleet kind(s) {unknown}; known: {', '.join(KINDS)}")
    for hosts in (int(s) for s in args.sizes.split(",")):
        for kind in kinds:
            started = time.perf_counter()
            generate_fleet(args.cache, fleet_options(hosts, kind), reuse=True)  # outside the timed child
            took = time.perf_counter() - started
            print(f"<!-- {kind} fleet of {hosts} hosts ready in {took:.0f} s -->", flush=True)
            for method in methods:
                limit = {"naive": args.max_naive, "baseline": args.max_baseline}.get(method)
                if limit is not None and hosts > limit:
                    continue
                result = _child(args, hosts, method, kind)
                print(row(result), flush=True)
                if args.json:
                    with open(args.json, "a", encoding="utf-8") as out:
                        out.write(json.dumps(result | {"machine": machine()}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
