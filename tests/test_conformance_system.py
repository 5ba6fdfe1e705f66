"""Conformance: os_version, etc_hosts, mounts, deb_packages (osquery 5.23.1)."""

from __future__ import annotations

import platform

from conformance_helpers import query, tree

UBUNTU = (
    'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\n'
    'VERSION="22.04.4 LTS (Jammy Jellyfish)"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\n'
    "UBUNTU_CODENAME=jammy\n"
)
ROCKY = (
    'NAME="Rocky Linux"\nVERSION="9.3 (Blue Onyx)"\nID="rocky"\nID_LIKE="rhel centos fedora"\n'
    'VERSION_ID="9.3"\nPLATFORM_ID="platform:el9"\n'
)
COLUMNS = "name, version, major, minor, patch, build, platform, platform_like, codename, arch"


def test_os_version_ubuntu_minor_is_the_integer_4(tmp_path):
    root = tree(tmp_path, {"/etc/os-release": UBUNTU})
    # os_version.cpp:74-85 split(VERSION_ID, '.', 2) -> major "22", minor "04"; the spec types minor
    # INTEGER and dynamic_table_row.cpp:117-125 converts with std::stol(value, base 0): "04" -> 4.
    # patch keeps its default "0" (:98).  UBUNTU_CODENAME lands in codename too (:60-66).
    assert query(root, f"SELECT {COLUMNS} FROM os_version") == [
        {
            "name": "Ubuntu",
            "version": "22.04.4 LTS (Jammy Jellyfish)",
            "major": "22",
            "minor": "4",
            "patch": "0",
            "build": "",
            "platform": "ubuntu",
            "platform_like": "debian",
            "codename": "jammy",
            "arch": platform.machine(),
        }
    ]


def test_os_version_debian_has_no_minor(tmp_path):
    root = tree(
        tmp_path,
        {
            "/etc/os-release": 'NAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\n'
            "VERSION_CODENAME=bookworm\nID=debian\n"
        },
    )
    row = query(root, f"SELECT {COLUMNS} FROM os_version")[0]
    assert (row["major"], row["minor"], row["patch"], row["platform_like"]) == ("12", "0", "0", "")


def test_os_version_red_hat_family_is_rhel(tmp_path):
    root = tree(
        tmp_path, {"/etc/os-release": ROCKY, "/etc/redhat-release": "Rocky Linux release 9.3 (Blue Onyx)\n"}
    )
    # os_version.cpp:118-147: /etc/redhat-release makes platform AND platform_like "rhel" and its
    # regex gives name "Rocky Linux", 9 / 3, patch "0"; version = the trimmed file; build "".
    assert query(root, f"SELECT {COLUMNS} FROM os_version") == [
        {
            "name": "Rocky Linux",
            "version": "Rocky Linux release 9.3 (Blue Onyx)",
            "major": "9",
            "minor": "3",
            "patch": "0",
            "build": "",
            "platform": "rhel",
            "platform_like": "rhel",
            "codename": "",
            "arch": platform.machine(),
        }
    ]


def test_os_version_without_os_release(tmp_path):
    (tmp_path / "etc").mkdir()
    # os_version.cpp:94-100 defaults
    row = query(tmp_path, "SELECT name, major, minor, patch, platform FROM os_version")[0]
    assert row == {"name": "Unknown", "major": "0", "minor": "0", "patch": "0", "platform": "posix"}


def test_etc_hosts_hash_ends_the_names_only_as_a_token(tmp_path):
    root = tree(
        tmp_path,
        {
            "/etc/hosts": "127.0.0.1\tlocalhost\n# comment\n10.0.0.5 web web.lan #  primary\n"
            "10.0.0.6 db#1 db\n::1     ip6-localhost ip6-loopback\n192.0.2.1\n"
        },
    )
    # etc_hosts.cpp:40-59
    assert query(root, "SELECT address, hostnames FROM etc_hosts") == [
        {"address": "127.0.0.1", "hostnames": "localhost"},
        {"address": "10.0.0.5", "hostnames": "web web.lan"},
        {"address": "10.0.0.6", "hostnames": "db#1 db"},
        {"address": "::1", "hostnames": "ip6-localhost ip6-loopback"},
        {"address": "192.0.2.1", "hostnames": ""},
    ]


def test_mounts_device_alias_and_statfs_fallback(tmp_path):
    root = tree(
        tmp_path,
        {
            "/proc/mounts": "proc /proc proc rw,nosuid 0 0\n"
            "/dev/disk/by-label/data /srv/my\\040data ext4 rw,relatime 0 0\n"
            "systemd-1 /nonexistent-mnt autofs rw 0 0\n",
            "/dev/sdb1": "",
        },
        links={"/dev/disk/by-label/data": "../../sdb1"},
    )
    rows = query(root, "SELECT device, device_alias, path, type, flags, blocks, inodes FROM mounts")
    # mounts.cpp (filesystem/linux):74 device_alias = canonicalize_file_name(): realpath, else the
    # device itself (utils/system/posix/filepath.cpp:19-27); getmntent decodes \040; a path statfs
    # cannot reach, and autofs (never statfs'd, :78-81), print 0 (tables/system/linux/mounts.cpp:49-56)
    assert rows == [
        {
            "device": "proc",
            "device_alias": "proc",
            "path": "/proc",
            "type": "proc",
            "flags": "rw,nosuid",
            "blocks": rows[0]["blocks"],
            "inodes": rows[0]["inodes"],
        },
        {
            "device": "/dev/disk/by-label/data",
            "device_alias": "/dev/sdb1",
            "path": "/srv/my data",
            "type": "ext4",
            "flags": "rw,relatime",
            "blocks": "0",
            "inodes": "0",
        },
        {
            "device": "systemd-1",
            "device_alias": "systemd-1",
            "path": "/nonexistent-mnt",
            "type": "autofs",
            "flags": "rw",
            "blocks": "0",
            "inodes": "0",
        },
    ]


DPKG_STATUS = """Package: zlib1g
Status: install ok installed
Priority: required
Section: libs
Installed-Size: 164
Maintainer: Mark Brown <broonie@debian.org>
Architecture: amd64
Multi-Arch: same
Source: zlib
Version: 1:1.2.13.dfsg-1
Description: compression library - runtime
 zlib is a library implementing the deflate compression method found
 in gzip and PKZIP.

Package: oldpkg
Status: purge ok not-installed
Priority: optional
Architecture: all

Package: adduser
Status: install ok installed
Priority: important
Section: admin
Installed-Size: 849
Maintainer: Debian Adduser Developers <adduser@packages.debian.org>
Architecture: all
Version: 3.134
Description: add and remove users and groups

Package: cfgonly
Status: deinstall ok config-files
Priority: optional
Section: net
Architecture: amd64
Source: cfgsrc (1.0-2)
Version: 0:1.0-2
"""


def test_deb_packages_as_libdpkg_lists_them(tmp_path):
    root = tree(tmp_path, {"/var/lib/dpkg/status": DPKG_STATUS})
    rows = query(
        root,
        "SELECT name, version, source, size, arch, revision, status, section, priority FROM deb_packages",
    )
    # dpkgquery.cpp:43-49: not-installed packages dropped; pkg_array sorted by name; :96-125 fields,
    # status = "<want> <eflag> <status>"; revision = after the last '-'; a zero epoch is not printed
    assert rows == [
        {
            "name": "adduser",
            "version": "3.134",
            "source": "",
            "size": "849",
            "arch": "all",
            "revision": "",
            "status": "install ok installed",
            "section": "admin",
            "priority": "important",
        },
        {
            "name": "cfgonly",
            "version": "1.0-2",
            "source": "cfgsrc (1.0-2)",
            "size": "",
            "arch": "amd64",
            "revision": "2",
            "status": "deinstall ok config-files",
            "section": "net",
            "priority": "optional",
        },
        {
            "name": "zlib1g",
            "version": "1:1.2.13.dfsg-1",
            "source": "zlib",
            "size": "164",
            "arch": "amd64",
            "revision": "1",
            "status": "install ok installed",
            "section": "libs",
            "priority": "required",
        },
    ]
