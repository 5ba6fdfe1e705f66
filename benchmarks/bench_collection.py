"""Collection benchmark (issue 3): the native collector and one localhost collection, timed.

    python benchmarks/bench_collection.py                  # native engine, default pack, 5 repetitions
    python benchmarks/bench_collection.py --playbook 3     # plus 3 runs of playbooks/collect.yml on localhost
    python benchmarks/bench_collection.py --compare main   # footprint: this pack vs the pack at a git ref
    python benchmarks/bench_collection.py --compare REF --results DIR   # the same, from real collections

Prints, per repetition, the wall time of running every query of the default pack with the native
collector in-process (fresh engine each time, so every table is built), rows returned, and the
slowest table builds; with --playbook, the wall time of `ansible-playbook playbooks/collect.yml`
against inventory/localhost.yml (native collector), which includes Ansible's own overhead.
With --compare REF, both packs (the one at git REF, "before", and the working tree's, "after") run
alternately on fresh engines; it prints per-host collection time and result size (the bytes
diffy_run_pack writes: osqueryi --json's format per query) with their ratios, the largest queries of the new
pack, and whether both stay within the 2x budget of issue 13.  Both are written in osqueryi --json's
format (what an osquery host writes either way); --old-writer writes the "before" pack's rows as the
native collector did until 2026-12-05 (json.dumps indent=2), to compare with that collector whole.
With --results DIR (a results root or run directory, e.g. a `diffy validate --run` work dir), the
figures come from real collections instead: every host's host.json records each query's duration
and each query's file its size; per host, the whole pack is compared with the subset of queries the
pack at REF has (an approximation of "before": those queries ran in the same engine, which may have
shared table builds with the new ones).
Figures depend on the machine's load: run it on an idle machine to compare.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins" / "module_utils"))

import diffy_native_engine  # noqa: E402

PACK = REPO / "roles" / "diffy_collect" / "files" / "packs" / "linux-dfir.json"


def bench_engine(repetitions: int) -> None:
    pack = json.loads(PACK.read_text())
    times = []
    for rep in range(repetitions):
        engine = diffy_native_engine.Engine()
        started = time.perf_counter()
        rows = 0
        for query in pack["queries"].values():
            rows += len(engine.query(query["query"], timeout=60)[1])
        elapsed = time.perf_counter() - started
        times.append(elapsed)
        slowest = sorted(engine.build_seconds.items(), key=lambda kv: -kv[1])[:3]
        engine.close()
        builds = ", ".join(f"{name} {seconds:.3f}s" for name, seconds in slowest)
        print(
            f"native engine, {len(pack['queries'])} queries: {elapsed:.3f}s, {rows} rows "
            f"(rep {rep + 1}; slowest builds: {builds})"
        )
    print(f"native engine median: {statistics.median(times):.3f}s")


def _indented(columns: list[str], rows: list[list[str]]) -> bytes:
    """What diffy_run_pack wrote until 2026-12-05: json.dumps(indent=2) (its pure-Python encoder)."""
    return json.dumps(diffy_native_engine.rows_as_objects(columns, rows), indent=2).encode("utf-8")


def _collect(pack: dict, sizes: dict[str, int] | None = None, writer=None) -> tuple[float, int]:
    """One host's collection with a fresh engine: (seconds, bytes written), as diffy_run_pack does."""
    write = writer or diffy_native_engine.osquery_json
    engine = diffy_native_engine.Engine()
    started = time.perf_counter()
    total = 0
    for name, query in pack["queries"].items():
        try:
            columns, rows = engine.query(query["query"], timeout=query.get("timeout", 60))
        except diffy_native_engine.QueryFailed as exc:
            print(f"  {name}: {exc.status}: {exc.message}")
            continue
        data = write(columns, rows)  # by default what diffy_run_pack writes
        total += len(data)
        if sizes is not None:
            sizes[name] = len(data)
    elapsed = time.perf_counter() - started
    engine.close()
    return elapsed, total


def bench_compare(ref: str, repetitions: int, old_writer: bool = False) -> None:
    relative = PACK.relative_to(REPO).as_posix()
    before = json.loads(
        subprocess.run(
            ["git", "-C", str(REPO), "show", f"{ref}:{relative}"], capture_output=True, check=True
        ).stdout
    )
    after = json.loads(PACK.read_text())
    timings: dict[str, list[float]] = {"before": [], "after": []}
    size = {"before": 0, "after": 0}
    sizes: dict[str, int] = {}
    for _ in range(repetitions):  # alternate, so load drift hits both alike
        for label, pack in (("before", before), ("after", after)):
            writer = _indented if old_writer and label == "before" else None
            elapsed, total = _collect(pack, sizes if label == "after" else None, writer)
            timings[label].append(elapsed)
            size[label] = total
    t_before, t_after = statistics.median(timings["before"]), statistics.median(timings["after"])
    written = "json.dumps(indent=2), the old writer" if old_writer else "osqueryi --json's format"
    print(
        f"before ({ref}, {written}): {len(before['queries'])} queries, median {t_before:.3f}s, "
        f"{size['before']} bytes"
    )
    print(
        f"after (working tree): {len(after['queries'])} queries, median {t_after:.3f}s, {size['after']} bytes"
    )
    time_ratio, size_ratio = t_after / t_before, size["after"] / max(1, size["before"])
    print(f"ratio: time {time_ratio:.2f}x, size {size_ratio:.2f}x (budget 2x)")
    new = {n: b for n, b in sizes.items() if n not in before["queries"]}
    for name, count in sorted(new.items(), key=lambda kv: -kv[1])[:8]:
        print(f"  new query {name}: {count} bytes")
    print("within budget" if time_ratio <= 2 and size_ratio <= 2 else "OVER BUDGET")


def _ref_queries(ref: str) -> set[str]:
    relative = PACK.relative_to(REPO).as_posix()
    shown = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{ref}:{relative}"], capture_output=True, check=True
    )
    return set(json.loads(shown.stdout)["queries"])


def bench_results(ref: str, results: Path) -> None:
    before = _ref_queries(ref)
    time_all, time_ref, size_all, size_ref = [], [], [], []
    per_query: dict[str, list[float]] = {}
    for host_json in sorted(results.glob("**/hosts/*/host.json")):
        queries = json.loads(host_json.read_text()).get("queries", {})
        durations = {n: float(q.get("duration_s") or 0) for n, q in queries.items()}
        sizes = {n: (host_json.parent / f"{n}.json").stat().st_size for n in queries
                 if (host_json.parent / f"{n}.json").is_file()}  # fmt: skip
        time_all.append(sum(durations.values()))
        time_ref.append(sum(d for n, d in durations.items() if n in before))
        size_all.append(sum(sizes.values()))
        size_ref.append(sum(b for n, b in sizes.items() if n in before))
        for name, seconds in durations.items():
            per_query.setdefault(name, []).append(seconds)
    if not time_all:
        print(f"no hosts/*/host.json under {results}")
        return
    t_all, t_ref = statistics.median(time_all), statistics.median(time_ref)
    s_all, s_ref = statistics.median(size_all), statistics.median(size_ref)
    print(f"{len(time_all)} host collections under {results}")
    print(
        f"per host (median): all queries {t_all:.3f}s, {s_all:.0f} bytes; "
        f"{ref}'s queries {t_ref:.3f}s, {s_ref:.0f} bytes"
    )
    print(f"ratio: time {t_all / max(t_ref, 1e-9):.2f}x, size {s_all / max(s_ref, 1):.2f}x (budget 2x)")
    slowest = sorted(per_query.items(), key=lambda kv: -statistics.median(kv[1]))[:8]
    print("slowest queries (median s): " + ", ".join(f"{n} {statistics.median(v):.3f}" for n, v in slowest))


def bench_playbook(repetitions: int) -> None:
    venv_bin = Path(sys.executable).parent
    times = []
    for rep in range(repetitions):
        with tempfile.TemporaryDirectory() as root:
            started = time.perf_counter()
            proc = subprocess.run(
                [
                    str(venv_bin / "ansible-playbook"),
                    "-i",
                    str(REPO / "inventory/localhost.yml"),
                    str(REPO / "playbooks/collect.yml"),
                    "-e",
                    f"diffy_results_root={root}",
                    "-e",
                    "diffy_collect_collector=native",
                ],
                capture_output=True,
                text=True,
                cwd=REPO,
                check=False,
                env={
                    "PATH": f"{venv_bin}:/usr/bin:/bin",
                    "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
                    "ANSIBLE_DEPRECATION_WARNINGS": "False",
                    "HOME": str(Path.home()),
                },
            )
            elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            print(f"playbook run {rep + 1} failed (rc {proc.returncode}):\n{proc.stdout[-2000:]}")
            return
        times.append(elapsed)
        print(f"ansible-playbook collect.yml on localhost (native): {elapsed:.2f}s (rep {rep + 1})")
    print(f"playbook median: {statistics.median(times):.2f}s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repetitions", type=int, default=5, help="native engine repetitions")
    parser.add_argument("--playbook", type=int, default=0, help="localhost playbook runs (0: skip)")
    parser.add_argument("--compare", metavar="REF", help="compare footprint with the pack at git REF")
    parser.add_argument("--results", type=Path, help="with --compare: figures from the collections in DIR")
    parser.add_argument(
        "--old-writer",
        action="store_true",
        help="with --compare: write the REF pack's rows as diffy_run_pack did before 2026-12-05 "
        "(indented JSON), i.e. compare with that collector as it was, not only with its pack",
    )
    args = parser.parse_args()
    if args.compare and args.results:
        bench_results(args.compare, args.results)
        return
    if args.compare:
        bench_compare(args.compare, args.repetitions, args.old_writer)
        return
    bench_engine(args.repetitions)
    if args.playbook:
        bench_playbook(args.playbook)


if __name__ == "__main__":
    main()
