"""STAND-IN for osqueryi, for Diffy's tests only.  It is NOT osquery.

No osqueryi binary can be installed on the test machine (no osquery package in any reachable
registry), so the osquery code paths of the Ansible roles (package_file / ephemeral installs,
`osqueryi --json` with stdout to a file, per-query timeouts, error and unsupported statuses) are
exercised against this stand-in.  It answers the two ways Diffy calls osqueryi:

    osqueryi --version                    ->  "osqueryi version 0.0.0-diffy-standin (STAND-IN ...)"
    osqueryi [--flag[=value] ...] '<SQL>'  ->  the rows as a JSON array on stdout, like --json

by reusing the native collector's table code (plugins/module_utils), which is bundled
next to this file when tests build the stand-in as a zipapp (tests/collection_helpers.py).
Errors go to stderr as "Error: ..." with exit code 1, as osqueryi does.
"""

import sys

STANDIN_VERSION = "0.0.0-diffy-standin"


def main(argv):
    if "--version" in argv:
        print("osqueryi version %s (STAND-IN for tests, not osquery)" % STANDIN_VERSION)
        return 0
    statements = [a for a in argv if not a.startswith("--")]
    if not statements:
        sys.stderr.write("Error: the stand-in osqueryi needs a SQL statement (no interactive shell)\n")
        return 1
    from diffy_native_engine import Engine, QueryFailed, osquery_json

    engine = Engine()
    try:
        columns, rows = engine.query(statements[-1])
    except QueryFailed as exc:
        sys.stderr.write("Error: %s\n" % exc.message)
        return 1
    finally:
        engine.close()
    sys.stdout.flush()
    sys.stdout.buffer.write(osquery_json(columns, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
