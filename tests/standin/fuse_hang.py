"""A HUNG FUSE MOUNT for Diffy's fault tests: a FUSE "daemon" that mounts and never answers.

It opens /dev/fuse, mounts it with mount(2) (type fuse.diffyhang, like a stuck s3fs) and then never
reads a request: the kernel's INIT stays unanswered, so every stat/statvfs on the mount blocks in
the kernel until this process dies (FUSE waits are killable, so the blocked caller can be killed).
Standard library only (ctypes).  Run it inside a private mount namespace (unshare -m, or a lab
host's namespace via nsenter) so that nothing else on the machine ever sees the mount.

    python3 fuse_hang.py MOUNTPOINT      # prints "mounted" once the mount is in place, then sleeps
"""

import ctypes
import os
import sys
import time


def main(mountpoint):
    os.makedirs(mountpoint, exist_ok=True)
    fd = os.open("/dev/fuse", os.O_RDWR)
    libc = ctypes.CDLL(None, use_errno=True)
    options = "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other" % fd
    if libc.mount(b"diffyhang", mountpoint.encode(), b"fuse.diffyhang", 0, options.encode()) != 0:
        err = ctypes.get_errno()
        sys.stderr.write("mount failed: %s\n" % os.strerror(err))
        return 1
    sys.stdout.write("mounted\n")
    sys.stdout.flush()
    deadline = time.monotonic() + float(os.environ.get("DIFFY_FUSE_HANG_S", "120"))
    while time.monotonic() < deadline:  # bounded: the mount goes away when this process ends
        time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
