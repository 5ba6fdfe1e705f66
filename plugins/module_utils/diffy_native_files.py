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


ALGORITHMS = ("md5", "sha1", "sha256")
# Digests of the files this process has hashed, by what identifies an unchanged file: a file that
# several queries read (a binary that runs, is a unit's target and sits in /usr/bin) is read and
# hashed once per collection.  Any write changes ctime (which no caller can set), so a changed file
# misses the cache.  Bounded: cleared when it reaches _CACHE_MAX entries.
_DIGESTS = {}
_CACHE_MAX = 50000


def _file_digests(ctx, real, wanted):
    """{algorithm: hex} for `wanted` (a subset of ALGORITHMS) or None when the file cannot be read."""
    try:
        info = os.stat(real)
    except OSError:
        return None
    key = (real, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    known = _DIGESTS.get(key, {})
    missing = [name for name in wanted if name not in known]
    if missing or key not in _DIGESTS:
        digests = [hashlib.new(name) for name in missing]
        try:
            with open(real, "rb") as handle:
                while digests:
                    ctx.check_deadline()
                    block = handle.read(1 << 20)
                    if not block:
                        break
                    for digest in digests:
                        digest.update(block)
        except OSError:
            return None
        known = dict(known, **{name: d.hexdigest() for name, d in zip(missing, digests)})
        if len(_DIGESTS) >= _CACHE_MAX:
            _DIGESTS.clear()
        _DIGESTS[key] = known
    return known


def _hash_row(ctx, path, directory):
    """One row of hash.cpp's genHashForFile: osquery computes md5, sha1 and sha256 of every file;
    here only the digests the query names (ctx.digests, set by the engine from the SQL; all three
    when unknown) are computed, so the selected columns hold the same values at a third of the work;
    an unnamed digest column is ''."""
    wanted = getattr(ctx, "digests", None)
    if wanted is None:
        wanted = ALGORITHMS
    found = _file_digests(ctx, ctx.host(path), wanted)
    if found is None:
        return None
    row = {"path": path, "directory": directory}
    row.update((name, found.get(name, "")) for name in ALGORITHMS)
    return row


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
