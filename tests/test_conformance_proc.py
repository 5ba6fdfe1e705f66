"""Conformance: processes, listening_ports, kernel_modules, kernel_info from a fixture /proc
(osquery/tables/system/linux/processes.cpp, osquery/filesystem/linux/proc.cpp,
osquery/tables/networking/linux/process_open_sockets.cpp, osquery/tables/networking/listening_ports.cpp
at 5.23.1)."""

from __future__ import annotations

import os

from conformance_helpers import query, tree

HZ = os.sysconf("SC_CLK_TCK")
TCP_HEADER = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
)
TAIL = " 00000000:00000000 00:00000000 00000000     0        0 {inode} 1 0000000000000000 100 0 0 10 0\n"


def _sock(n, local, remote, state, inode):
    return f"   {n}: {local} {remote} {state}" + TAIL.format(inode=inode)


def _proc_tree(tmp_path):
    files = {
        "/proc/stat": "cpu  1 2 3\nbtime 1700000000\nprocesses 99\n",
        "/proc/1/stat": "1 (init (x)) S 0 1 1 0 -1 4194560 100 0 0 0 250 130 0 0 20 0 1 0 500 1000 200\n",
        "/proc/1/status": "Name:\tinit\nUmask:\t0022\nState:\tS (sleeping)\n"
        "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n"
        "VmSize:\t  169000 kB\nVmRSS:\t   12000 kB\nThreads:\t1\n",
        "/proc/1/cmdline": b"/sbin/init\0splash\0\0",
        "/proc/10/stat": "10 (bash) R 1 10 10 34816 10 4194304 500 0 0 0 7 3 0 0 20 5 2 0 900 9000 300\n",
        "/proc/10/status": "Name:\tbash\nUid:\t1000\t1001\t1002\t1003\nGid:\t100\t101\t102\t103\n"
        "VmSize:\t  9000 kB\nVmRSS:\t   4000 kB\n",
        "/proc/10/cmdline": b"  -bash\0",
        "/proc/2/stat": "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 2 0 0\n",
        "/proc/2/status": "Name:\tkthreadd\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n",
        "/proc/3/stat": "3 (odd) S 0 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 2 0 0\n",
        "/proc/3/status": "Name:\todd\nVmRSS:\tbogus kB\n",
        "/proc/abc/stat": "not a pid\n",
        "/usr/sbin/init": "ELF",
        # network: namespace 4026531840 seen first through pid "1"
        "/proc/1/net/tcp": TCP_HEADER
        + _sock(0, "00000000:0016", "00000000:0000", "0A", 1111)
        + _sock(1, "0100007F:1F90", "0100007F:D431", "01", 2222)
        + _sock(2, "0100007F:0019", "00000000:0000", "07", 3333),
        "/proc/1/net/tcp6": TCP_HEADER + _sock(0, "0" * 32 + ":0050", "0" * 32 + ":0000", "0A", 4444),
        "/proc/1/net/udp": TCP_HEADER
        + _sock(123, "00000000:0044", "00000000:0000", "07", 5555)
        + _sock(124, "0100007F:A000", "0100007F:0035", "01", 6666),
        "/proc/1/net/raw": TCP_HEADER + _sock(1, "00000000:0001", "00000000:0000", "07", 7777),
        "/proc/1/net/unix": "Num       RefCount Protocol Flags    Type St Inode Path\n"
        "0000000000000000: 00000002 00000000 00010000 0001 01 8888 /run/sshd.sock\n"
        "0000000000000000: 00000003 00000000 00000000 0001 03 9999 /run/sshd.sock\n"
        "0000000000000000: 00000002 00000000 00000000 0002 01 1010\n"
        "0000000000000000: 00000002 00000000 00010000 0001 01 1212 @abstract\n",
        "/proc/1/net/packet": "sk       RefCnt Type Proto  Iface R Rmem   User   Inode\n"
        "ffff888003 3      3    0003   2     1 0      0      1313\n",
        # a second namespace, first seen through pid "20"
        "/proc/20/stat": "20 (srv) S 1 20 20 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 50 0 0\n",
        "/proc/20/status": "Name:\tsrv\n",
        "/proc/20/net/tcp": TCP_HEADER + _sock(0, "05C0D50A:1F90", "00000000:0000", "0A", 1414),
    }
    links = {
        "/proc/self": "1",
        "/proc/1/exe": "/usr/sbin/init",
        "/proc/1/cwd": "/",
        "/proc/1/root": "/",
        "/proc/10/exe": "/opt/gone (deleted)",
        "/proc/10/cwd": "/home/alice",
        "/proc/1/ns/net": "net:[4026531840]",
        "/proc/10/ns/net": "net:[4026531840]",
        "/proc/2/ns/net": "net:[4026531840]",
        "/proc/20/ns/net": "net:[4026532000]",
        "/proc/1/fd/3": "socket:[1111]",
        "/proc/1/fd/0": "/dev/null",
        "/proc/10/fd/4": "socket:[1111]",
        "/proc/10/fd/5": "socket:[8888]",
        "/proc/2/fd/7": "socket:[1111]",
        "/proc/20/fd/3": "socket:[1414]",
    }
    return tree(tmp_path, files, links)


def test_processes_rows_as_osquery_prints_them(tmp_path):
    root = _proc_tree(tmp_path)
    rows = query(
        root,
        "SELECT pid, name, path, cmdline, state, cwd, root, uid, gid, euid, egid, suid, sgid, on_disk, "
        "wired_size, resident_size, total_size, user_time, system_time, start_time, parent, pgroup, "
        "threads, nice FROM processes",
    )
    ms = 1000 // HZ  # kMSIn1CLKTCK, processes.cpp:39
    # getProcList -> std::set<std::string>: string order 1, 10, 2, 20; "abc" is not a pid (proc.h:201);
    # pid 3 is dropped: VmRSS does not convert (processes.cpp:310-316)
    assert [r["pid"] for r in rows] == ["1", "10", "2", "20"]
    init, bash, kthread = rows[0], rows[1], rows[2]
    assert init == {
        "pid": "1",
        "name": "init",
        "path": "/usr/sbin/init",
        "cmdline": "/sbin/init splash",  # processes.cpp:46-60: NUL -> ' ', then trimmed
        "state": "S",
        "cwd": "/",
        "root": "/",
        "uid": "0",
        "gid": "0",
        "euid": "0",
        "egid": "0",
        "suid": "0",
        "sgid": "0",
        "on_disk": "1",
        "wired_size": "0",  # processes.cpp:487
        "resident_size": str(12000 * 1024),
        "total_size": str(169000 * 1024),  # :307-334
        "user_time": str(250 * ms),
        "system_time": str(130 * ms),  # :492-495
        "start_time": str(1700000000 + 500 // HZ),  # :497-503
        "parent": "0",
        "pgroup": "1",
        "threads": "1",
        "nice": "0",  # stat fields 1, 2, 17, 16 (:281-288)
    }
    # getOnDisk (processes.cpp:409-425): a " (deleted)" exe that is gone -> 0, suffix removed
    assert (bash["path"], bash["on_disk"], bash["cmdline"]) == ("/opt/gone", "0", "-bash")
    assert (bash["uid"], bash["euid"], bash["suid"], bash["gid"], bash["egid"], bash["sgid"]) == (
        "1000",
        "1001",
        "1002",
        "100",
        "101",
        "102",
    )
    assert (bash["nice"], bash["threads"], bash["parent"]) == ("5", "2", "1")
    # a kernel thread: no exe (-1), no Vm* lines -> resident/total_size unset, printed ""
    assert (kthread["path"], kthread["on_disk"], kthread["resident_size"], kthread["total_size"]) == (
        "",
        "-1",
        "",
        "",
    )
    assert kthread["cwd"] == "" and kthread["cmdline"] == ""


def test_listening_ports_rows_as_osquery_prints_them(tmp_path):
    root = _proc_tree(tmp_path)
    rows = query(
        root,
        "SELECT pid, port, protocol, family, address, fd, socket, path, net_namespace FROM listening_ports",
    )
    ns1, ns2 = "4026531840", "4026532000"

    def row(pid, port, protocol, family, address, fd, socket, path="", ns=ns1):  # noqa: PLR0917
        return {
            "pid": pid,
            "port": port,
            "protocol": protocol,
            "family": family,
            "address": address,
            "fd": fd,
            "socket": socket,
            "path": path,
            "net_namespace": ns,
        }

    assert rows == [
        # proc.cpp:354-355: the inode -> (pid, fd) map is overwritten by every later pid, pids in STRING
        # order ("1", "10", "2"): pid 2 owns the socket pids 1, 10 and 2 share
        row("2", "22", "6", "2", "0.0.0.0", "7", "1111"),
        # listening_ports.cpp:33-37 keeps every inet socket whose remote port is 0 (a CLOSE socket too);
        # the connected 127.0.0.1:8080 one is dropped
        row("-1", "25", "6", "2", "127.0.0.1", "-1", "3333"),
        row("-1", "80", "6", "10", "::", "-1", "4444"),
        # unconnected UDP only (the connected one has remote port 53)
        row("-1", "68", "17", "2", "0.0.0.0", "-1", "5555"),
        # raw sockets are listed with protocol IPPROTO_RAW (proc.cpp:211 uses the file's protocol)
        row("-1", "1", "255", "2", "0.0.0.0", "-1", "7777"),
        # unix sockets with a path, listening or not; socket "0", no address (listening_ports.cpp:42-46)
        row("10", "0", "0", "1", "", "5", "0", "/run/sshd.sock"),
        row("-1", "0", "0", "1", "", "-1", "0", "/run/sshd.sock"),
        row("-1", "0", "0", "1", "", "-1", "0", "@abstract"),
        # AF_PACKET (17) sockets pass listening_ports' filters (proc.cpp:126-170)
        row("-1", "0", "3", "17", "", "-1", "1313"),
        # every network namespace, read once from its first pid (process_open_sockets.cpp:81-135)
        row("20", "8080", "6", "2", "10.213.192.5", "3", "1414", ns=ns2),
    ]


def test_kernel_modules_and_kernel_info(tmp_path):
    root = tree(
        tmp_path,
        {
            "/proc/modules": "nf_tables 331776 0 - Live 0x0000000000000000\n"
            "xt_conntrack 16384 2 nf_conntrack, Live 0xffffffffc0a00000\n"
            "bad line\n"
            "vfat 20480 1 fat,  Live 0x0 (E)\n",
            "/proc/cmdline": "BOOT_IMAGE=/boot/vmlinuz-6.1.0-13-amd64 root=UUID=1234-abcd ro  quiet\n",
            "/proc/version": "Linux version 6.1.0-13-amd64 (debian-kernel@lists.debian.org) (gcc-12) #1\n",
        },
    )
    # kernel_modules.cpp:43-64: lines with < 6 fields dropped, trailing ',' removed
    assert query(root, "SELECT name, size, used_by, status, address FROM kernel_modules") == [
        {
            "name": "nf_tables",
            "size": "331776",
            "used_by": "-",
            "status": "Live",
            "address": "0x0000000000000000",
        },
        {
            "name": "xt_conntrack",
            "size": "16384",
            "used_by": "nf_conntrack",
            "status": "Live",
            "address": "0xffffffffc0a00000",
        },
        {"name": "vfat", "size": "20480", "used_by": "fat", "status": "Live", "address": "0x0"},
    ]
    # kernel_info.cpp:30-46: BOOT_IMAGE= -> path, root= -> device (removed from arguments); :58-61
    assert query(root, "SELECT version, arguments, path, device FROM kernel_info") == [
        {
            "version": "6.1.0-13-amd64",
            "arguments": "ro quiet",
            "path": "/boot/vmlinuz-6.1.0-13-amd64",
            "device": "UUID=1234-abcd",
        }
    ]


def test_process_binaries_hash_every_running_executable_once(tmp_path):
    """The registry's process_binaries query (diffy_analysis/tables/runtime.py). osquery answers the
    hash side of `hash AS h ON h.path = p.path` per processes row: hash.path is a REQUIRED/INDEX
    column (specs/hash.table:4), so xBestIndex hands the join's value to hash as an EQUALS path
    constraint (osquery/sql/virtual_table.cpp:762-791, xFilter :921-967) and genHashImpl hashes
    each regular file named so (osquery/tables/system/hash.cpp:260-272); a path that is not a
    regular file gives no hash row, so the LEFT JOIN prints sha256 "". on_disk and the stripped
    " (deleted)" suffix are getOnDisk's (osquery/tables/system/linux/processes.cpp:409-445)."""
    import hashlib

    from diffy_analysis.tables import REGISTRY

    root = _proc_tree(tmp_path)
    extra = {"/proc/30/stat": "30 (init2) S 1 30 30 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 60 0 0\n",
             "/proc/30/status": "Name:\tinit2\n",
             "/proc/40/stat": "40 (x) S 1 40 40 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 70 0 0\n",
             "/proc/40/status": "Name:\tx\n"}  # fmt: skip
    tree(root, extra, {"/proc/30/exe": "/usr/sbin/init", "/proc/40/exe": "/memfd:payload (deleted)"})
    rows = query(root, REGISTRY["process_binaries"].sql)
    init_sha = hashlib.sha256(b"ELF").hexdigest()  # the fixture's /usr/sbin/init
    by_path = {r["path"]: r for r in rows}
    # pids 1 and 30 run one binary: one row (DISTINCT); the kernel thread (no exe, path "") is left out
    assert sorted(by_path) == ["/memfd:payload", "/opt/gone", "/usr/sbin/init"]
    assert by_path["/usr/sbin/init"] == {"path": "/usr/sbin/init", "on_disk": "1", "sha256": init_sha}
    assert by_path["/opt/gone"] == {"path": "/opt/gone", "on_disk": "0", "sha256": ""}
    assert by_path["/memfd:payload"] == {"path": "/memfd:payload", "on_disk": "0", "sha256": ""}
    from diffy_analysis.analyze.explain import DESCRIBERS

    describe = DESCRIBERS["process_binaries"]
    assert describe(by_path["/memfd:payload"]) == "running binary /memfd:payload is memory-only (memfd)"
    assert describe(by_path["/opt/gone"]) == "running binary /opt/gone is deleted from disk"
    assert describe(by_path["/usr/sbin/init"]).startswith(
        f"running binary /usr/sbin/init (sha256 {init_sha[:12]}"
    )


def test_join_constraint_sources_and_cap():
    from diffy_native_engine import MAX_JOIN_PATHS, join_sources

    assert join_sources("SELECT * FROM processes AS p LEFT JOIN hash AS h ON h.path = p.path", "hash") == [
        ("processes", "path")
    ]
    assert join_sources("SELECT * FROM processes p JOIN hash h ON p.path = h.path", "hash") == [
        ("processes", "path")
    ]
    assert join_sources("SELECT * FROM hash WHERE path = '/x'", "hash") == []
    assert MAX_JOIN_PATHS >= 1024
