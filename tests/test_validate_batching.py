"""diffy_analysis/validate/batching.py: tests that write the same place never share a batch."""

from __future__ import annotations

from diffy_analysis.validate.atomics import Atomic
from diffy_analysis.validate.batching import batches, places


def _atomic(number: int, command: str) -> Atomic:
    return Atomic("T1686", number, f"test {number}", "g", "sh", command, "", True, (), "T1686.yaml")


def _places(command: str) -> frozenset[str]:
    # No look at this machine: /bin and /usr/bin paths are programs, /etc/ufw is a tool's directory.
    return places(
        _atomic(1, command),
        is_program=lambda p: p.startswith(("/bin/", "/usr/bin/")),
        config_dir=lambda p: p == "/etc/ufw",
    )


def test_a_named_file_a_tools_configuration_and_not_what_is_only_read_or_run():
    assert _places('echo "# x" >> /etc/ufw/user.rules\ngrep x /etc/ufw/user.rules') == {"/etc/ufw"}
    assert _places("ufw prepend deny from 1.2.3.4\nufw status numbered") == {"/etc/ufw"}
    assert _places("sudo ufw disable") == {"/etc/ufw"}
    assert _places("cp /bin/sh /tmp/crond; /tmp/crond -c id > /dev/null 2>&1") == {"/tmp/crond"}
    assert _places("cat /proc/self/status; ls /tmp") == frozenset()


def test_two_tests_changing_one_file_go_to_different_batches_and_order_is_kept():
    tests = [
        _atomic(11, "ufw prepend deny from 1.2.3.4"),
        _atomic(12, "echo x > /tmp/a"),
        _atomic(13, 'echo "# c" >> /etc/ufw/user.rules'),
        _atomic(14, "echo y > /tmp/b"),
    ]
    fake = {t.number: _places(t.command) for t in tests}
    got = batches(tests, 3, places_of=lambda a: fake[a.number])
    assert [[t.number for t in b] for b in got] == [[11, 12, 14], [13]]
    # with room for one only, every test has its own batch; with no conflict, plain chunks
    assert len(batches(tests, 1, places_of=lambda a: fake[a.number])) == 4
    assert [len(b) for b in batches(tests[1::2], 2, places_of=lambda a: fake[a.number])] == [2]
