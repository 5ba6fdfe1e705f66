"""tools/diffy_lab/validate/execute.py without a lab: what a command gets from its prerequisites."""

from __future__ import annotations

from diffy_lab.validate.execute import carried_variables


def test_only_plain_assignments_of_the_checks_are_carried_to_the_command():
    checks = [
        "which_gpg=`which gpg`\n",
        "if [ -x /usr/bin/7z ]; then exit 0; fi\nzip_path=$(which 7z)\n",
        "x=1; rm -rf /\n",  # not a lone assignment of a command's output: never replayed
        "",
    ]
    assert carried_variables(checks) == "which_gpg=`which gpg`\nzip_path=$(which 7z)\n"
    assert carried_variables(["exit 0"]) == ""


def test_every_step_runs_without_the_kernel_wide_capabilities(tmp_path, monkeypatch):
    from diffy_lab.validate import execute as ex

    calls = []
    monkeypatch.setattr(ex.hosts, "init_pid", lambda host: 4242)
    monkeypatch.setattr(
        ex.subprocess, "run", lambda argv, **kw: calls.append(argv) or type("P", (), {"returncode": 0})
    )
    assert ex._run(object(), "/bin/sh", "true", tmp_path / "log", 1.0) == 0
    argv = calls[0]
    dropped = argv.index("setpriv")
    assert argv[dropped : dropped + 4] == [
        "setpriv",
        "--bounding-set",
        "-sys_module,-sys_boot,-sys_time",
        "--",
    ]
    assert argv[dropped + 4 :] == ["/bin/sh", "-c", "true"]
