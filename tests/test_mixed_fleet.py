"""A mixed fleet: ten hosts in ONE machine state, nine collected one way and one the other, in both
directions, must give 0 outliers and 0 strong findings.

What this proves, exactly: the "osquery" hosts' files hold the rows osquery 5.23.1 PRINTS for the
fixture state below - written by hand from osquery's C++, with the same derivations (and citations)
as tests/test_conformance_*.py - NOT output of the test suite's osqueryi stand-in (which is the native
engine itself, so a 9+1 test with it would prove nothing).  The "native" hosts' files are what the
native engine prints for the default pack's SQL on that state.  So the test shows that, for these
inputs and these pack queries, the analysis cannot tell the collectors apart.  It does not prove
fidelity on inputs the fixtures do not cover (docs/native-fidelity.md lists the known differences),
and no real osqueryi was run (none can be installed here).
"""

from __future__ import annotations

import io
import json
import platform
from pathlib import Path

import pytest
from conformance_helpers import query, tree
from runbuilder import build_run

from diffy_analysis.api import analyze
from diffy_analysis.report import terminal

PACK = json.loads((Path(__file__).parents[1] / "roles/diffy_collect/files/packs/linux-dfir.json").read_text())

STATE = {
    "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\ndaemon:x:00001:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "bad:x:notanumber:10:x:/x:/bin/sh\n+::::::\nalice:x:1000:1000:Alice A,,,:/home/alice:/bin/bash\n",
    "/etc/group": "root:x:0:\nwheel:x:10:a,b\nother:x:10:\nstaff:x:50:\n",
    "/etc/crontab": "SHELL=/bin/sh\n17 *\t* * *\troot    cd / &&  run-parts --report /etc/cron.hourly\n"
    "@reboot\troot /usr/local/bin/boot.sh   --fast\n",
    "/etc/sudoers": "Defaults\tenv_reset\nroot\tALL=(ALL:ALL) ALL\n%admin ALL=(ALL) \\\n    NOPASSWD: ALL\n"
    "@includedir /etc/sudoers.d\n",
    "/etc/sudoers.d/ops": "bob ALL=(ALL) NOPASSWD: /bin/systemctl\n",
    "/etc/hosts": "127.0.0.1\tlocalhost\n10.0.0.6 db#1 db # primary\n",
    "/etc/os-release": 'NAME="Ubuntu"\nVERSION_ID="22.04"\nVERSION="22.04.4 LTS (Jammy Jellyfish)"\n'
    "VERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\n",
    "/proc/cmdline": "BOOT_IMAGE=/boot/vmlinuz-6.1.0 root=UUID=1234-abcd ro  quiet\n",
    "/proc/version": "Linux version 6.1.0-13-amd64 (debian-kernel@lists.debian.org) #1\n",
    "/proc/modules": "xt_conntrack 16384 2 nf_conntrack, Live 0xffffffffc0a00000\n",
}

# What osquery 5.23.1 prints for STATE, per default-pack query (columns as the pack selects them).
OSQUERY_PRINTS = {
    # users.cpp:26-45 via glibc fgetpwent_r: "00001" -> 1, "bad" rejected, "+" a 0/0 user
    "users": [
        {
            "uid": "0",
            "gid": "0",
            "username": "root",
            "description": "root",
            "directory": "/root",
            "shell": "/bin/bash",
        },
        {
            "uid": "1",
            "gid": "1",
            "username": "daemon",
            "description": "daemon",
            "directory": "/usr/sbin",
            "shell": "/usr/sbin/nologin",
        },
        {"uid": "0", "gid": "0", "username": "+", "description": "", "directory": "", "shell": ""},
        {
            "uid": "1000",
            "gid": "1000",
            "username": "alice",
            "description": "Alice A,,,",
            "directory": "/home/alice",
            "shell": "/bin/bash",
        },
    ],
    # groups.cpp:62-68: the first group of each gid
    "groups": [
        {"gid": "0", "groupname": "root"},
        {"gid": "10", "groupname": "wheel"},
        {"gid": "50", "groupname": "staff"},
    ],
    # crontab.cpp:67-99: tokens re-joined with one space; @reboot keeps its command; SHELL= has none
    "crontab": [
        {
            "event": "",
            "minute": "17",
            "hour": "*",
            "day_of_month": "*",
            "month": "*",
            "day_of_week": "*",
            "command": "root cd / && run-parts --report /etc/cron.hourly",
            "path": "/etc/crontab",
        },
        {
            "event": "@reboot",
            "minute": "",
            "hour": "",
            "day_of_month": "",
            "month": "",
            "day_of_week": "",
            "command": "root /usr/local/bin/boot.sh --fast",
            "path": "/etc/crontab",
        },
    ],
    # sudoers.cpp:68-153
    "sudoers": [
        {"source": "/etc/sudoers", "header": "Defaults", "rule_details": "env_reset"},
        {"source": "/etc/sudoers", "header": "root", "rule_details": "ALL=(ALL:ALL) ALL"},
        {"source": "/etc/sudoers", "header": "%admin", "rule_details": "ALL=(ALL) NOPASSWD: ALL"},
        {"source": "/etc/sudoers", "header": "@includedir", "rule_details": "/etc/sudoers.d"},
        {
            "source": "/etc/sudoers.d/ops",
            "header": "bob",
            "rule_details": "ALL=(ALL) NOPASSWD: /bin/systemctl",
        },
    ],
    # etc_hosts.cpp:40-59
    "etc_hosts": [
        {"address": "127.0.0.1", "hostnames": "localhost"},
        {"address": "10.0.0.6", "hostnames": "db#1 db"},
    ],
    # os_version.cpp:74-98 + the INTEGER columns: minor "04" prints 4, patch the default 0
    "os_version": [
        {
            "name": "Ubuntu",
            "version": "22.04.4 LTS (Jammy Jellyfish)",
            "major": "22",
            "minor": "4",
            "patch": "0",
            "codename": "jammy",
            "platform": "ubuntu",
            "arch": platform.machine(),
        }
    ],
    # kernel_info.cpp:30-46: root= is the device, not an argument
    "kernel_info": [{"version": "6.1.0-13-amd64", "arguments": "ro quiet", "path": "/boot/vmlinuz-6.1.0"}],
    # kernel_modules.cpp:51-63
    "kernel_modules": [
        {
            "name": "xt_conntrack",
            "size": "16384",
            "used_by": "nf_conntrack",
            "status": "Live",
            "address": "0xffffffffc0a00000",
        }
    ],
}


@pytest.fixture(scope="module")
def native_prints(tmp_path_factory):
    root = tree(tmp_path_factory.mktemp("state"), STATE)
    return {name: query(root, PACK["queries"][name]["query"]) for name in OSQUERY_PRINTS}


def test_native_prints_what_osquery_prints_for_the_fleet_state(native_prints):
    assert native_prints == OSQUERY_PRINTS


def _fleet(tmp_path, native_prints, *, natives, run_id):
    hosts, identities = {}, {}
    for index in range(10):
        host = f"web-{index:02d}"
        native = host in natives
        hosts[host] = native_prints if native else OSQUERY_PRINTS
        identities[host] = (
            {
                "collector": "native",
                "collector_version": "0.1.0",
                "collector_reason": "osquery absent: no osqueryi on the host",
            }
            if native
            else {}
        )
    return build_run(tmp_path, hosts, identities=identities, run_id=run_id)


@pytest.mark.parametrize(
    ("natives", "label"),
    [({"web-09"}, "9 osquery + 1 native"), ({f"web-{i:02d}" for i in range(9)}, "9 native + 1 osquery")],
)
def test_nine_plus_one_mixed_fleet_has_no_finding(tmp_path, native_prints, natives, label):
    analysis = analyze([_fleet(tmp_path, native_prints, natives=natives, run_id="20261201T000000Z-a1b2c3")])
    assert [h.host for h in analysis.hosts if h.outlier] == [], label
    strong = [(h.host, f.query) for h in analysis.hosts for f in h.findings if f.strength == "strong"]
    assert strong == [], label
    collectors = {h.host: h.identity.get("collector") for h in analysis.hosts}
    assert {h for h, c in collectors.items() if c == "native"} == natives  # the analysis says who was how
    out = io.StringIO()
    terminal.render(analysis, out, color=False)
    assert f"collected with native on {len(natives)}, osquery on {10 - len(natives)} hosts" in out.getvalue()
    assert "osquery absent: no osqueryi on the host" in out.getvalue()


def test_the_same_fleet_with_the_old_native_values_is_caught(tmp_path, native_prints):
    """Control: the values the native collector printed before (minor "04", the crontab remainder
    with its tabs, kernel_info's root=) make the odd host stand out - so the test above can fail."""
    old = json.loads(json.dumps(native_prints))
    old["os_version"][0]["minor"] = "04"
    old["crontab"][0]["command"] = "root    cd / &&  run-parts --report /etc/cron.hourly"
    old["kernel_info"][0]["arguments"] = "root=UUID=1234-abcd ro  quiet"
    analysis = analyze([_fleet(tmp_path, old, natives={"web-09"}, run_id="20261201T000001Z-a1b2c4")])
    odd = next(h for h in analysis.hosts if h.host == "web-09")
    assert odd.findings, "the old native values are findings on the odd host"
    assert all(not h.findings for h in analysis.hosts if h.host != "web-09")
