#!/usr/bin/env python3
"""A HOSTILE osqueryi STAND-IN for Diffy's fault tests (it is NOT osquery).

It answers like `osqueryi --json` (an empty array on stdout), but first forks a child that escapes
with setsid() into its own session and keeps stdout and stderr open for a long time, as a
daemonising plugin or a compromised binary would.  Modes (env DIFFY_HOSTILE_MODE):
  exit  - the parent answers and exits at once; only the escaped child lingers
  hang  - the parent hangs too (the per-query timeout must end both)
The child writes its PID to $DIFFY_HOSTILE_PIDFILE so the test can check it was killed.
"""

import os
import sys
import time

LINGER_S = 60  # bounded: even if nobody kills it, it ends by itself

if "--version" in sys.argv:
    print("osqueryi version 0.0.0-hostile-standin (STAND-IN for tests, not osquery)")
    sys.stdout.flush()
if os.fork() == 0:
    os.setsid()
    with open(os.environ["DIFFY_HOSTILE_PIDFILE"], "w") as handle:
        handle.write(str(os.getpid()))
    time.sleep(LINGER_S)  # stdout/stderr inherited and held open all along
    os._exit(0)
time.sleep(0.3)  # let the child record itself
if "--version" not in sys.argv:
    sys.stdout.write("[\n\n]\n")
    sys.stderr.write("hostile stand-in: child escaped with setsid\n")
    sys.stdout.flush()
    sys.stderr.flush()
if os.environ.get("DIFFY_HOSTILE_MODE") == "hang":
    time.sleep(LINGER_S)
sys.exit(0)
