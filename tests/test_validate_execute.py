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
