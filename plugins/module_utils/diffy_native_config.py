# Diffy native collector: crontab, sudoers, suid_bin - as osquery 5.x prints them.

import os
import stat

try:
    from ansible.module_utils.diffy_native_accounts import Names
    from ansible.module_utils.diffy_native_base import c_trim, glob_files, osq_split, read_text
except ImportError:
    try:
        from ansible_collections.diffy.diffy.plugins.module_utils.diffy_native_accounts import Names
        from ansible_collections.diffy.diffy.plugins.module_utils.diffy_native_base import (
            c_trim,
            glob_files,
            osq_split,
            read_text,
        )
    except ImportError:
        from diffy_native_accounts import Names
        from diffy_native_base import c_trim, glob_files, osq_split, read_text


# osquery/tables/system/posix/crontab.cpp:25-32
_SYSTEM_CRON = "/etc/crontab"
_CRON_DIRS = ("/etc/cron.d/", "/var/at/tabs/", "/var/spool/cron/", "/var/spool/cron/crontabs/")
_CRON_FIELDS = ("minute", "hour", "day_of_month", "month", "day_of_week")


def cron_line(path, line):
    """crontab.cpp:61-104 (genCronLine): tokens split on blanks and tabs; an '@' first token is the
    event and the command starts right after it; the command is the tokens re-joined with ONE space.
    A line without a command (a variable, a short line) has no row."""
    row = {"path": path, "event": "", "command": ""}
    for field in _CRON_FIELDS:
        row[field] = ""
    index = 0
    for token in osq_split(line, " \t"):
        if index == 0 and token.startswith("@"):
            row["event"] = token
            index = 5
            continue
        if index < 5:
            row[_CRON_FIELDS[index]] = token
        elif index == 5:
            row["command"] = token
        else:
            row["command"] += " " + token
        index += 1
    return row if row["command"] else None


def table_crontab(ctx):
    """crontab.cpp:106-124: /etc/crontab, then every file glob(3) lists in each search dir."""
    files = [_SYSTEM_CRON]
    for directory in _CRON_DIRS:
        files.extend(glob_files(ctx, directory))
    rows = []
    for path in files:
        if not os.access(ctx.host(path), os.R_OK):
            continue
        for piece in osq_split(read_text(ctx, path) or "", "\n"):  # crontab.cpp:47-56
            line = c_trim(piece)
            if line and not line.startswith("#"):
                row = cron_line(path, line)
                if row is not None:
                    rows.append(row)
    return rows


# osquery/tables/system/posix/sudoers.cpp:28-36
_SUDOERS = "/etc/sudoers"
_SUDO_WS = "\t\v "
_MAX_NEST = 128


def _sudoers_file(ctx, filename, level, rows):
    """sudoers.cpp:38-155 (genSudoersFile)."""
    if level > _MAX_NEST:
        return
    content = read_text(ctx, filename)
    if content is None:
        return
    long_line = False
    for piece in osq_split(content, "\n"):
        line = piece.strip(_SUDO_WS)
        if not line:
            continue
        if long_line:  # sudoers.cpp:68-78: a continuation is glued on without a separator
            long_line = line.endswith("\\")
            last = rows[-1]
            if last["rule_details"] == "":
                last["header"] = last["header"][:-1]
            else:
                last["rule_details"] = last["rule_details"][:-1]
            last["rule_details"] += line
            continue
        # sudoers.cpp:81-83: the header ends at the first tab, vertical tab or space
        cut = min([i for i in (line.find(c) for c in _SUDO_WS) if i >= 0] or [len(line)])
        header = line[:cut].strip(_SUDO_WS)
        is_include = header in ("#include", "@include")
        is_includedir = header in ("#includedir", "@includedir")
        if line.startswith("#") and not (is_include or is_includedir):
            continue
        details = line[cut:].strip(_SUDO_WS) if cut < len(line) else ""
        if not details and (is_include or is_includedir):
            continue
        if not (is_include or is_includedir) and line.endswith("\\"):
            long_line = True
        rows.append({"header": header, "source": filename, "rule_details": details})
        if is_include or is_includedir:
            target = details
            if not target.startswith("/"):  # relative to the including file's directory
                target = os.path.join(os.path.dirname(filename), target)
            if is_include:
                level += 1
                _sudoers_file(ctx, target, level, rows)
                continue
            for included in glob_files(ctx, target):
                base = os.path.basename(included)
                # sudoers(5): files whose name holds a '.' or ends in '~' are skipped (sudoers.cpp:134-140)
                if not base or "." in base or base.endswith("~"):
                    continue
                level += 1
                _sudoers_file(ctx, included, level, rows)


def table_sudoers(ctx):
    if not os.access(ctx.host(_SUDOERS), os.R_OK):  # sudoers.cpp:160-162
        return []
    rows = []
    _sudoers_file(ctx, _SUDOERS, 1, rows)
    return rows


# osquery/tables/system/posix/suid_bin.cpp:29-37
_SUID_DIRS = ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/tmp")


def _walk(ctx, real_dir, shown_dir, found):
    """boost recursive_directory_iterator with skip_permission_denied: depth first, readdir order,
    symlinked sub-directories listed but never entered."""
    try:
        entries = list(os.scandir(real_dir))
    except OSError:
        return
    for entry in entries:
        ctx.check_deadline()
        shown = shown_dir.rstrip("/") + "/" + entry.name
        found.append((entry.path, shown))
        try:
            descend = entry.is_dir(follow_symlinks=False)
        except OSError:
            descend = False
        if descend:
            _walk(ctx, entry.path, shown, found)


def table_suid_bin(ctx):
    """suid_bin.cpp:39-122.  Each search dir is opened even when it is a symlink (/bin -> usr/bin on
    merged-/usr hosts lists every file twice, as /bin/x and /usr/bin/x); a symlink to a setuid file is
    a row (is_regular_file and status() follow links); the owner is the target's."""
    names = Names(ctx)
    rows = []
    for top in _SUID_DIRS:
        real_top = ctx.host(top)
        if not os.path.exists(real_top):
            continue
        found = []
        _walk(ctx, real_top, top, found)
        for real, shown in found:
            try:
                info = os.stat(real)  # follows links, like fs::is_regular_file / status()
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            perms = stat.S_IMODE(info.st_mode)
            if not perms & 0o6000:
                continue
            rows.append(
                {
                    "path": shown,
                    "username": names.user(info.st_uid),
                    "groupname": names.group(info.st_gid),
                    "permissions": ("S" if perms & 0o4000 else "") + ("G" if perms & 0o2000 else ""),
                }
            )
    return rows
