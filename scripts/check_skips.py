"""Fail when a test was skipped that must run in CI (everything but the opt-in real-cluster tests).

Reads pytest's JUnit XML.  Skips whose message names DIFFY_TEST_ES_URL (tests against a real
Elasticsearch cluster, opt-in by design) are allowed; any other skip fails the run, so the lab and
browser tests cannot silently stop running.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

ALLOWED = ("DIFFY_TEST_ES_URL",)


def main(path: str) -> int:
    root = ET.parse(path).getroot()
    ran = bad = 0
    for case in root.iter("testcase"):
        ran += 1
        skipped = case.find("skipped")
        if skipped is None:
            continue
        message = (skipped.get("message") or "") + (skipped.text or "")
        if not any(word in message for word in ALLOWED):
            bad += 1
            print(
                f"not allowed to skip in CI: {case.get('classname')}::{case.get('name')}: {message.strip()}"
            )
    if ran == 0:
        print("no test ran")
        return 1
    if bad:
        print(f"{bad} test(s) skipped that must run in CI")
        return 1
    print(f"skip check: {ran} tests, no forbidden skips")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
