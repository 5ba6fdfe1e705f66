# Diffy native collector: file and hash, for the paths and patterns the query names - as osquery 5.x.
#
# osquery resolves `path = '...'`, `path LIKE '...'`, `directory = '...'` and `directory LIKE '...'`
# constraints (osquery/tables/utility/file.cpp:210-262, osquery/tables/system/hash.cpp:233-297):
# a LIKE pattern becomes a glob(3) pattern ('%' -> '*', a trailing '%%' recurses up to 64 levels,
# osquery/filesystem/filesystem.cpp:364-424), directories come back with a trailing '/' (GLOB_MARK).
# SQLite then applies the whole WHERE clause to the rows, as it does for osquery's virtual tables.

import glob
import hashlib
import os
import stat

_MAX_RECURSIVE_GLOBS = 64  # kMaxRecursiveGlobs, filesystem.cpp:50


def _glob_marked(ctx, pattern):
    """platformGlob (osquery/filesystem/posix/fileops.cpp:302-315): GLOB_MARK, sorted."""
    found = []
    for real in sorted(glob.glob(ctx.host(pattern))):
        shown = ctx.visible(real)
        if os.path.isdir(real) and not shown.endswith("/"):
            shown += "/"
        found.append(shown)
    return found


def _dfs(ctx, shown_dir, visited, out, depth):
    """dfsTraverseDirectories (filesystem.cpp:325-362)."""
    if depth >= _MAX_RECURSIVE_GLOBS:
        return
    try:
        inode = os.lstat(ctx.host(shown_dir)).st_ino
    except OSError:
        inode = None
    if inode is not None:
        if inode in visited:
            return
        visited.add(inode)
    if not os.path.isdir(ctx.host(shown_dir)):
        return
    try:
        entries = list(os.scandir(ctx.host(shown_dir)))
    except OSError:
        return
    for entry in entries:
        ctx.check_deadline()
        shown = shown_dir.rstrip("/") + "/" + entry.name
        is_dir = os.path.isdir(entry.path)
        if is_dir:
            shown += "/"
        out.append(shown)
        if is_dir:
            _dfs(ctx, shown, visited, out, depth + 1)


def resolve_pattern(ctx, like, folders_only=False):
    """resolveFilePattern(pattern, GLOB_ALL or GLOB_FOLDERS | GLOB_NO_CANON) for one LIKE literal."""
    pattern = like.replace("%", "*")
    if not pattern.startswith("/"):
        return []  # relative patterns resolve against osqueryi's cwd (Diffy's empty temp dir)
    results = []
    if pattern.endswith("**"):
        visited = set()
        for base in _glob_marked(ctx, pattern[:-1]):
            results.append(base)
            if base.endswith("/"):
                _dfs(ctx, base, visited, results, 0)
    else:
        results = _glob_marked(ctx, pattern)
    if folders_only:
        return [r for r in results if r.endswith("/")]
    return results


def _parent(path):
    """boost::filesystem (v3) parent_path(): "/etc/ssh/" -> "/etc/ssh", "/etc/ssh" -> "/etc"."""
    if path.endswith("/") and path != "/":
        return path[:-1]
    return os.path.dirname(path)


def _filename(path):
    """boost::filesystem (v3) filename(): a trailing '/' gives "."."""
    if path.endswith("/") and path != "/":
        return "."
    return os.path.basename(path) or path


def _paths(ctx):
    paths = set(ctx.paths)
    for pattern in ctx.path_patterns:
        paths.update(resolve_pattern(ctx, pattern))
    return sorted(paths)  # a std::set<std::string>


def _directories(ctx):
    directories = set(ctx.directories)
    for pattern in ctx.directory_patterns:
        directories.update(resolve_pattern(ctx, pattern, folders_only=True))
    return sorted(directories)


def _join(directory, name):
    return directory + name if directory.endswith("/") else directory + "/" + name


_KINDS = (
    (stat.S_ISREG, "regular"),
    (stat.S_ISDIR, "directory"),
    (stat.S_ISLNK, "symlink"),
    (stat.S_ISBLK, "block"),
    (stat.S_ISCHR, "character"),
    (stat.S_ISFIFO, "fifo"),
    (stat.S_ISSOCK, "socket"),
)


def _file_row(ctx, path, directory):
    """genFileInfoPosix (file.cpp:372-444)."""
    real = ctx.host(path)
    try:
        link = os.lstat(real)
    except OSError:
        return None
    try:
        info = os.stat(real)
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "unknown")
    except OSError:
        info, kind = link, "unknown"  # fs::status() of a dangling link: file_not_found -> "unknown"
    mode = info.st_mode
    return {
        "path": path,
        "directory": directory,
        "filename": _filename(path),
        "inode": info.st_ino,
        "uid": info.st_uid,
        "gid": info.st_gid,
        "mode": "%d%d%d%d" % ((mode >> 9) & 7, (mode >> 6) & 7, (mode >> 3) & 7, mode & 7),  # lsperms
        "device": info.st_rdev,
        "size": info.st_size,
        "block_size": getattr(info, "st_blksize", 0),
        "atime": int(info.st_atime),
        "mtime": int(info.st_mtime),
        "ctime": int(info.st_ctime),
        "btime": 0,  # file.cpp:415-418: "No 'birth' or create time in Linux"
        "hard_links": info.st_nlink,
        "symlink": 1 if stat.S_ISLNK(link.st_mode) else 0,
        "type": kind,
    }


def table_file(ctx):
    rows = []
    for path in _paths(ctx):
        ctx.check_deadline()
        row = _file_row(ctx, path, _parent(path))
        if row is not None:
            rows.append(row)
    for directory in _directories(ctx):
        real = ctx.host(directory)
        if not (os.path.isdir(real) and os.access(real, os.R_OK)):
            continue
        try:
            names = [entry.name for entry in os.scandir(real)]
        except OSError:
            continue
        for name in names:
            ctx.check_deadline()
            row = _file_row(ctx, _join(directory, name), directory)
            if row is not None:
                rows.append(row)
    return rows


def _hash_row(ctx, path, directory):
    digests = [hashlib.md5(), hashlib.sha1(), hashlib.sha256()]
    try:
        with open(ctx.host(path), "rb") as handle:
            while True:
                ctx.check_deadline()
                block = handle.read(1 << 20)
                if not block:
                    break
                for digest in digests:
                    digest.update(block)
    except OSError:
        return None
    return {
        "path": path,
        "directory": directory,
        "md5": digests[0].hexdigest(),
        "sha1": digests[1].hexdigest(),
        "sha256": digests[2].hexdigest(),
    }


def table_hash(ctx):
    """hash.cpp:253-297: regular files only (links followed)."""
    rows = []
    for path in _paths(ctx):
        if os.path.isfile(ctx.host(path)) and not path.endswith("/"):
            row = _hash_row(ctx, path, _parent(path))
            if row is not None:
                rows.append(row)
    for directory in _directories(ctx):
        real = ctx.host(directory)
        if not os.path.isdir(real):
            continue
        try:
            names = [entry.name for entry in os.scandir(real)]
        except OSError:
            continue
        for name in names:
            path = _join(directory, name)
            if os.path.isfile(ctx.host(path)):
                row = _hash_row(ctx, path, directory)
                if row is not None:
                    rows.append(row)
    return rows
