"""The analysis progress line (cli/progress.py): counts every host, shown only to people."""

from __future__ import annotations

import io
import threading

from runbuilder import build_run

from diffy_analysis.cli.progress import CountingSource, LoadProgress, wanted
from diffy_analysis.load import open_results

USERS = [{"username": "root", "uid": "0", "shell": "/bin/bash"}]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(tmp_path):
    return build_run(tmp_path, {h: {"users": USERS} for h in ("web-1", "web-2", "web-3", "web-4")})


def test_counts_read_and_skipped_hosts_up_to_the_total(tmp_path):
    run = _run(tmp_path)
    (run / "hosts" / "web-2" / "users.json").write_text('[{"username": "evil"}]')  # hash differs
    calls: list[tuple[int, int]] = []
    source = CountingSource(open_results([run]), lambda done, total: calls.append((done, total)))
    hosts = [h.ref.host_id for h in source.iter_hosts()]
    assert hosts == ["web-1", "web-3", "web-4"]
    assert calls[0] == (0, 4) and calls[-1] == (4, 4)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)  # never goes back
    assert (3, 4) in calls  # web-3 counted after web-2's skip
    assert source.skipped[0].host_id == "web-2"  # the rest is the wrapped source's
    assert source.run_ids == open_results([run]).run_ids


def test_shown_only_on_a_terminal_and_never_with_json():
    assert wanted("table", _Tty())
    assert not wanted("json", _Tty())
    assert not wanted("table", io.StringIO())


def test_describes_loading_then_analysing():
    stream = _Tty()
    with LoadProgress(stream) as shown:
        shown.on_host(2, 5)
        assert shown.progress.tasks[0].description == "loading 2 of 5 hosts"
        shown.on_host(5, 5)
        assert shown.progress.tasks[0].description == "analysing 5 hosts"


def test_the_bar_runs_no_thread():
    """Hosts may be read by forked workers, which is safe only in a one-thread process."""
    before = threading.active_count()
    with LoadProgress(_Tty()) as shown:
        assert threading.active_count() == before
        shown.on_host(1, 3)
        shown.on_host(3, 3)
        assert shown.progress.tasks[0].completed == 3
    assert threading.active_count() == before
