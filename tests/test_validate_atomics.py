"""Atomic Red Team selection (diffy_analysis/validate/atomics.py) and `diffy validate`, on
atomic-format procedures written for these tests (tests/data/atomics)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diffy_analysis.cli.main import diffy, run
from diffy_analysis.errors import UsageError
from diffy_analysis.validate.atomics import fill, plan

DATA = Path(__file__).parent / "data" / "atomics"


def test_selection_keeps_durable_offline_linux_tests_and_gives_every_exclusion_a_reason():
    result = plan(DATA)
    assert result.techniques == 3
    assert [a.test_id for a in result.selected] == ["T1136.001-1", "T1546.004-1", "T1546.004-2"]
    reasons = {(e.technique, e.number): e.reason for e in result.excluded}
    assert reasons[("T1546.004", 3)].startswith("needs the network (curl")
    assert reasons[("T1546.004", 4)].startswith("not a Linux test")
    assert reasons[("T1082", 1)] == "leaves no durable state: discovery"
    assert reasons[("T1136.001", 2)] == "executor manual cannot run unattended"
    assert len(result.selected) + len(result.excluded) == 7


def test_input_arguments_and_prerequisites_are_filled_in():
    useradd = next(a for a in plan(DATA).selected if a.technique == "T1136.001")
    assert useradd.command.strip() == "useradd -M -s /bin/bash diffyevil"
    assert useradd.cleanup.strip() == "userdel diffyevil"
    assert useradd.prereqs == (("command -v useradd", 'echo "install the passwd package"'),)
    assert useradd.elevation and useradd.source == "atomics/T1136.001/T1136.001.yaml"
    assert fill("#{a} #{missing}", {"a": 1}) == "1 #{missing}"


def test_technique_filter_and_bad_checkouts(tmp_path):
    assert [a.test_id for a in plan(DATA, techniques=["t1082"]).selected] == []
    with pytest.raises(UsageError, match="not an Atomic Red Team checkout"):
        plan(tmp_path)
    bad = tmp_path / "atomics" / "T1" / "T1.yaml"
    bad.parent.mkdir(parents=True)
    bad.write_text("atomic_tests: 3\n")
    with pytest.raises(UsageError, match="no atomic_tests list"):
        plan(tmp_path)


def test_cli_prints_the_plan_and_json(capsys, tmp_path):
    assert run(diffy, ["validate", "--atomics", str(DATA), "--show-excluded"], prog_name="diffy") == 0
    text = capsys.readouterr().out
    assert "3 technique files; 3 tests selected, 4 excluded" in text
    assert "run  T1546.004-2" in text and "skip T1082-1" in text
    assert run(diffy, ["validate", "--atomics", str(DATA), "--format", "json"], prog_name="diffy") == 0
    doc = json.loads(capsys.readouterr().out)
    assert [s["technique"] for s in doc["selected"]] == ["T1136.001", "T1546.004", "T1546.004"]
    assert all(e["reason"] for e in doc["excluded"])
    assert run(diffy, ["validate", "--atomics", str(tmp_path)], prog_name="diffy") == 2
    assert "not an Atomic Red Team checkout" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("command", "excluded"),
    [
        ("echo b > /proc/sysrq-trigger", True),
        ("sudo insmod /tmp/x.ko", True),
        ("sysctl -w kernel.randomize_va_space=0", True),
        ("swapoff -a", True),
        ("sudo reboot", True),
        ("sysctl -w net.ipv4.ip_forward=1", False),  # the host's own network namespace
        ("echo '# no reboot needed' >> /etc/motd", False),
    ],
)
def test_tests_acting_on_the_shared_kernel_are_excluded_with_their_reason(command, excluded):
    from diffy_analysis.validate.atomics import _judge

    test = {"name": "t", "supported_platforms": ["linux"], "executor": {"name": "sh", "command": command}}
    reason, atomic = _judge(test, "T1562.001")
    assert (reason is not None and reason.startswith("acts on the kernel")) is excluded
    assert (atomic is None) is excluded
