"""``python -m diffy_analysis.tables --check | --write``: keep the default pack file in step with the
registry (the pack is generated; edit the registry, never the JSON)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from diffy_analysis.tables import REGISTRY

PACK_PATH = Path(__file__).resolve().parents[2] / "roles/diffy_collect/files/packs/linux-dfir.json"


def render() -> str:
    return json.dumps(REGISTRY.pack(), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m diffy_analysis.tables", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite the pack file from the registry")
    mode.add_argument("--check", action="store_true", help="fail when the pack file differs (default)")
    parser.add_argument("--pack", type=Path, default=PACK_PATH)
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        args.pack.write_text(text, encoding="utf-8")
        return 0
    current = args.pack.read_text(encoding="utf-8") if args.pack.exists() else ""
    if current != text:
        print(f"{args.pack} differs from the registry: run python -m diffy_analysis.tables --write")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
