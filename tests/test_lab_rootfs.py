"""Full filesystem isolation of lab hosts ("overlay" isolation, lab/rootfs.py): what root writes
inside a host, anywhere, stays in that host. ``diffy validate`` runs attack procedures only on such
hosts, so this test is what allows running them on this machine at all."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest

from diffy_analysis.errors import LabError
from diffy_lab import LabConfig, hosts, rootfs
from diffy_lab.testing import running_lab, unique_name

# Every path the issue names, plus the two per-host mounts the overlay adds.
PATHS = ("/etc", "/usr", "/usr/local/bin", "/var", "/var/spool", "/home", "/root", "/opt", "/tmp", "/dev/shm")
# The machine's own files that an attack procedure typically rewrites; hashed before and after.
WATCHED = ("/etc/passwd", "/etc/crontab", "/etc/profile", "/root/.bashrc", "/usr/bin/python3")
LOWER = "/usr/local/share"  # where the test puts a machine file of its own for a host to modify


def _digest(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def test_unknown_isolation_is_a_clear_error():
    with pytest.raises(LabError, match="bad lab isolation"):
        LabConfig(name="iso", isolation="chroot")


def test_overlay_script_pivots_and_detaches_the_old_root(tmp_path):
    script = rootfs.overlay_script(tmp_path, [("/etc", str(tmp_path / "etc"))])
    assert any(cmd.startswith("mount -t overlay") and "lowerdir=/," in cmd for cmd in script)
    assert script.index(f"pivot_root . {rootfs.OLD_ROOT}") < script.index(f"umount -l /{rootfs.OLD_ROOT}")
    assert any("/dev/shm" in cmd and cmd.startswith("mount -t tmpfs") for cmd in script)


@pytest.mark.lab
def test_writes_inside_an_overlay_host_stay_in_that_host():
    before = {path: _digest(path) for path in WATCHED}
    config = LabConfig(
        name=unique_name("iso"), apps=[("app_x", 2)], subnet="10.213.113.0/24", isolation="overlay"
    )
    token = uuid.uuid4().hex
    # A file of the machine's (made by this test, so a failure cannot damage a real one) that the
    # host then modifies and removes: copy-up and whiteout must stay in the host's upper layer.
    lower = Path(LOWER) / f"diffy-iso-lower-{token}"
    lower.write_text("machine\n")
    try:
        _isolated(config, token, lower)
        assert lower.read_text() == "machine\n"
    finally:
        lower.unlink()
    assert {path: _digest(path) for path in WATCHED} == before


def _isolated(config: LabConfig, token: str, lower: Path) -> None:
    with running_lab(config) as lab:
        one, two = lab.hosts
        assert {h.isolation for h in lab.hosts} == {"overlay"}
        planted = [f"{path}/diffy-iso-{token}" for path in PATHS]
        script = " && ".join(f"echo {token} > {p}" for p in planted)
        # As an attack procedure would: append to files the machine has too.
        script += f" && echo '# iso' >> /etc/passwd && echo '# iso' >> /etc/profile && echo host >> {lower}"
        hosts.nsenter(one, ["/bin/sh", "-c", script])
        seen_in_one = hosts.nsenter(one, ["/bin/sh", "-c", "cat " + " ".join(planted)])
        assert seen_in_one.split() == [token] * len(planted)  # the writes did happen, inside
        for path in planted:
            assert not Path(path).exists(), f"{path} leaked onto the machine"
        probe = " ; ".join(f"test -e {p} || echo gone" for p in planted)
        missing = hosts.nsenter(two, ["/bin/sh", "-c", probe])
        assert missing.split() == ["gone"] * len(planted), "a write leaked into another lab host"
        # The host's root is the overlay; the machine's root is not reachable from inside.
        mounts = hosts.nsenter(one, ["cat", "/proc/self/mountinfo"])
        root_line = next(line for line in mounts.splitlines() if line.split()[4] == "/")
        assert " - overlay " in root_line
        assert rootfs.OLD_ROOT not in mounts
        init = hosts.init_pid(one)
        assert rootfs.upper_view(init, f"/opt/diffy-iso-{token}").read_text().strip() == token
        assert rootfs.upper_view(init, str(lower)).read_text() == "machine\nhost\n"
        assert lower.read_text() == "machine\n"
        hosts.nsenter(two, ["rm", str(lower)])
        assert lower.exists() and rootfs.upper_view(init, str(lower)).exists()
