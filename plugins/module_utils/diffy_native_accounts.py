# Diffy native collector: users, groups, authorized_keys, logged_in_users - as osquery 5.x prints them.
#
# osquery >= 5.13 reads users from /etc/passwd with glibc's fgetpwent_r (osquery/tables/system/linux/
# users.cpp:96-159; up to 5.12 it enumerated NSS with getpwent_r, so LDAP/SSSD users appeared too).
# Diffy follows the current release: /etc/passwd only.  The line parser below is glibc's
# (pwd/fgetpwent_r.c LINE_PARSER with nss/nss_files/files-parse.c STRING_FIELD / INT_FIELD /
# INT_FIELD_MAYBE_NULL), so a malformed line is skipped exactly where glibc skips it.

import grp
import os
import pwd
import struct

try:
    from ansible.module_utils.diffy_native_base import C_SPACE, osq_split, read_bytes, read_text
except ImportError:
    try:
        from ansible_collections.diffy.diffy.plugins.module_utils.diffy_native_base import (
            C_SPACE,
            osq_split,
            read_bytes,
            read_text,
        )
    except ImportError:
        from diffy_native_base import C_SPACE, osq_split, read_bytes, read_text


def _string_field(rest):
    """STRING_FIELD(var, ISCOLON, 0): up to the next ':' (which is consumed)."""
    index = rest.find(":")
    if index < 0:
        return rest, ""
    return rest[:index], rest[index + 1 :]


def _strtoul(rest):
    """The uid/gid number glibc accepts: strtoul() digits after optional blanks; a value that does not
    fit 32 bits (which includes every negative one, as strtoul wraps it) rejects the line.  (Checked
    against glibc 2.36's getpwent: "-2" and "99999999999" lines are dropped, "00001" is uid 1.)
    Returns (value, remainder) or None."""
    i = 0
    while i < len(rest) and rest[i] in C_SPACE:
        i += 1
    negative = False
    if i < len(rest) and rest[i] in "+-":
        negative, i = rest[i] == "-", i + 1
    start = i
    while i < len(rest) and rest[i] in "0123456789":
        i += 1
    if i == start:
        return None
    value = int(rest[start:i])
    if value > 0xFFFFFFFF or (negative and value != 0):
        return False
    return value, rest[i:]


def _int_field(rest, maybe_null):
    """INT_FIELD / INT_FIELD_MAYBE_NULL (default 0) with ISCOLON: (value, remainder) or None."""
    if maybe_null and rest == "":
        return None  # "We expect some more input, so skip the line."
    parsed = _strtoul(rest)
    if parsed is False:
        return None  # out of range
    if parsed is None:
        if not maybe_null:
            return None
        value, tail = 0, rest
    else:
        value, tail = parsed
    if tail.startswith(":"):
        return value, tail[1:]
    if tail != "":
        return None
    return value, tail


def _nss_lines(text):
    """The lines glibc's getter hands to the parser: leading blanks skipped, empty and '#' lines dropped."""
    for raw in text.split("\n"):
        line = raw.lstrip(C_SPACE)
        if line and not line.startswith("#"):
            yield line


def parse_passwd_line(line):
    """One /etc/passwd line as glibc parses it, or None when glibc rejects it."""
    name, rest = _string_field(line)
    special = name[:1] in ("+", "-")
    if rest == "" and special:
        return {"name": name, "uid": 0, "gid": 0, "gecos": None, "dir": None, "shell": None}
    _passwd, rest = _string_field(rest)
    uid = _int_field(rest, special)
    if uid is None:
        return None
    gid = _int_field(uid[1], special)
    if gid is None:
        return None
    gecos, rest = _string_field(gid[1])
    directory, rest = _string_field(rest)
    return {"name": name, "uid": uid[0], "gid": gid[0], "gecos": gecos, "dir": directory, "shell": rest}


def parse_group_line(line):
    """One /etc/group line as glibc parses it (grp/fgetgrent_r.c), or None."""
    name, rest = _string_field(line)
    special = name[:1] in ("+", "-")
    if rest == "" and special:
        return {"name": name, "gid": 0}
    _passwd, rest = _string_field(rest)
    gid = _int_field(rest, special)
    if gid is None:
        return None
    return {"name": name, "gid": gid[0]}


def passwd_entries(ctx):
    text = read_text(ctx, "/etc/passwd")
    entries = []
    for line in _nss_lines(text or ""):
        entry = parse_passwd_line(line)
        if entry is not None:
            entries.append(entry)
    return entries


def group_entries(ctx):
    text = read_text(ctx, "/etc/group")
    entries = []
    for line in _nss_lines(text or ""):
        entry = parse_group_line(line)
        if entry is not None:
            entries.append(entry)
    return entries


def _signed32(value):
    return value - (1 << 32) if value >= (1 << 31) else value


def table_users(ctx):
    """osquery/tables/system/linux/users.cpp:22-49 (genUser), 96-159 (the /etc/passwd loop)."""
    rows = []
    for entry in passwd_entries(ctx):
        rows.append(
            {
                "uid": entry["uid"],
                "gid": entry["gid"],
                "uid_signed": _signed32(entry["uid"]),
                "gid_signed": _signed32(entry["gid"]),
                "username": entry["name"],
                "description": entry["gecos"] or "",
                "directory": entry["dir"] or "",
                "shell": entry["shell"] or "",
                "uuid": "",
            }
        )
    return rows


def table_groups(ctx):
    """osquery/tables/system/linux/groups.cpp:52-70: getgrent_r, the first group of every gid only."""
    rows, seen = [], set()
    for entry in group_entries(ctx):
        if entry["gid"] in seen:
            continue
        seen.add(entry["gid"])
        rows.append({"gid": entry["gid"], "gid_signed": _signed32(entry["gid"]), "groupname": entry["name"]})
    return rows


class Names:
    """getpwuid/getgrgid for tables that print owner names (suid_bin): NSS on the real root, the
    fixture's /etc/passwd and /etc/group under any other root."""

    def __init__(self, ctx):
        self.ctx = ctx
        self._users = self._groups = None

    def user(self, uid):
        if self.ctx.root == "/":
            try:
                return pwd.getpwuid(uid).pw_name
            except KeyError:
                return str(uid)
        if self._users is None:
            self._users = {}
            for entry in passwd_entries(self.ctx):
                self._users.setdefault(entry["uid"], entry["name"])
        return self._users.get(uid, str(uid))

    def group(self, gid):
        if self.ctx.root == "/":
            try:
                return grp.getgrgid(gid).gr_name
            except KeyError:
                return str(gid)
        if self._groups is None:
            self._groups = {}
            for entry in group_entries(self.ctx):
                self._groups.setdefault(entry["gid"], entry["name"])
        return self._groups.get(gid, str(gid))


# osquery/tables/system/posix/authorized_keys.cpp:26-37
_KEY_FILES = (".ssh/authorized_keys", ".ssh/authorized_keys2")
_KEY_TYPES = (
    "ssh-rsa",
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ssh-ed25519@openssh.com",
)
_WS = "\t "


def _find_first_not_of(text, chars, start):
    for index in range(start, len(text)):
        if text[index] not in chars:
            return index
    return -1


def _find_first_of(text, chars, start):
    for index in range(start, len(text)):
        if text[index] in chars:
            return index
    return -1


def parse_authorized_key(line):
    """authorized_keys.cpp:117-153: the first known key type (in list order) found ANYWHERE in the line
    and followed by a blank; options are what precedes it, the comment is kept verbatim.  Returns a
    row fragment, or None for a line osquery ignores."""
    for key_type in _KEY_TYPES:
        pos = line.find(key_type)
        if pos < 0:
            continue
        end = pos + len(key_type)
        if end >= len(line) or line[end] not in " \t":
            continue
        row = {"algorithm": key_type, "options": "", "comment": "", "key": ""}
        if pos > 0:  # authorized_keys.cpp:60-63
            options = line[:pos]
            row["options"] = options[: len(options.rstrip(_WS))]
        key_start = _find_first_not_of(line, _WS, end)
        if key_start < 0:
            return None  # authorized_keys.cpp:68-70: no row at all
        key_end = _find_first_of(line, _WS, key_start)
        if key_end >= 0:
            row["comment"] = line[_find_first_not_of(line, _WS, key_end) :]
            row["key"] = line[key_start:key_end]
        else:
            row["key"] = line[key_start:]
        return row
    # authorized_keys.cpp:147-153: a zos-key-ring-label option with no key gives an options-only row
    if any(o.startswith("zos-key-ring-label=") for o in osq_split(line, ",")):
        return {"algorithm": "", "key": "", "options": line, "comment": ""}
    return None


def table_authorized_keys(ctx):
    """authorized_keys.cpp:91-175: for every users row (no de-duplication of shared homes)."""
    rows = []
    for user in table_users(ctx):
        directory = user["directory"]
        if not directory:
            continue  # boost::path("") / ".ssh/..." is relative to osqueryi's cwd (Diffy's empty temp dir)
        for name in _KEY_FILES:
            key_file = os.path.join(directory, name)
            if not os.path.exists(ctx.host(key_file)):  # pathExists follows links
                continue
            content = read_text(ctx, key_file)
            if content is None:
                break  # authorized_keys.cpp:107-112: an unreadable file ends this user's files
            for line in osq_split(content, "\n"):
                if not line or line.startswith("#"):
                    continue
                parsed = parse_authorized_key(line)
                if parsed is not None:
                    parsed.update(uid=user["uid"], key_file=key_file)
                    rows.append(parsed)
    return rows


# osquery/tables/system/posix/logged_in_users.cpp:21-34 (utmp.h numbering)
_UTMP_TYPES = {
    0: "empty",
    1: "runlevel",
    2: "boot_time",
    3: "new_time",
    4: "old_time",
    5: "init",
    6: "login",
    7: "user",
    8: "dead",
    9: "accounting",
}
# glibc struct utmp on x86_64/aarch64: 384 bytes.
UTMP = struct.Struct("<hxxi32s4s32s256shhiii4i20s")


def _cstr(raw):
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def table_logged_in_users(ctx):
    """logged_in_users.cpp:36-65: every getutxent() record of _PATH_UTMPX except pid 1 (EMPTY
    records included)."""
    data = read_bytes(ctx, "/var/run/utmp")
    if data is None:
        data = read_bytes(ctx, "/run/utmp") or b""
    rows = []
    for offset in range(0, len(data) - UTMP.size + 1, UTMP.size):
        rec = UTMP.unpack_from(data, offset)
        if rec[1] == 1:
            continue
        rows.append(
            {
                "type": _UTMP_TYPES.get(rec[0], "unknown"),
                "user": _cstr(rec[4]),
                "tty": _cstr(rec[2]),
                "host": _cstr(rec[5]),
                "time": rec[9],
                "pid": rec[1],
            }
        )
    return rows
