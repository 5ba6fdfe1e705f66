# Diffy: the native engine behind a deadline that a blocked system call cannot defeat.
# Standard library only: this runs on the target's Python 3 (imported by diffy_run_pack).
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import queue
import threading

try:
    from ansible.module_utils.diffy_native_engine import Engine, QueryFailed
except ImportError:  # the role used from the diffy.diffy collection
    try:
        from ansible_collections.diffy.diffy.plugins.module_utils.diffy_native_engine import (
            Engine,
            QueryFailed,
        )
    except ImportError:  # imported directly (tests)
        from diffy_native_engine import Engine, QueryFailed


class BoundedEngine:
    """The native engine in a worker thread that owns it (SQLite wants one thread per connection).

    A table builder can block in a system call that no deadline check reaches (stat on a hung FUSE
    or NFS mount).  The caller waits at most the query's timeout plus a grace period; a worker
    that does not answer is abandoned (a daemon thread: it does not keep the module alive) and the
    next query gets a fresh worker and engine."""

    GRACE_S = 2.0

    def __init__(self):
        self._worker = None

    def _start(self):
        jobs, answers = queue.Queue(), queue.Queue()

        def work():
            engine = Engine()
            try:
                while True:
                    job = jobs.get()
                    if job is None:
                        return
                    sql, timeout = job
                    try:
                        answers.put(("ok", engine.query(sql, timeout=timeout)))
                    except QueryFailed as exc:
                        answers.put(("failed", exc))
                    except Exception as exc:  # a builder bug must not hang the caller
                        answers.put(("failed", QueryFailed("error", "%s: %s" % (type(exc).__name__, exc))))
            finally:
                engine.close()

        thread = threading.Thread(target=work, name="diffy-native", daemon=True)
        thread.start()
        self._worker = (thread, jobs, answers)

    def query(self, sql, timeout):
        if self._worker is None:
            self._start()
        _dummy, jobs, answers = self._worker
        jobs.put((sql, timeout))
        try:
            kind, value = answers.get(timeout=timeout + self.GRACE_S)
        except queue.Empty:
            self._worker = None  # stuck in the kernel: abandon it, the next query starts afresh
            raise QueryFailed(
                "timeout",
                "query timed out after %ss (a table builder blocked, e.g. on a hung mount)" % timeout,
            ) from None
        if kind == "failed":
            raise value
        return value

    def close(self):
        if self._worker is not None:
            self._worker[1].put(None)
            self._worker = None
