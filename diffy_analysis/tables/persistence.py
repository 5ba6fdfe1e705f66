"""Files attackers change: persistence, authentication and trust configuration, staging areas,
shell history and logs, read through osquery's ``file`` and ``hash`` tables.

The SQL names every path, directory or LIKE pattern it reads, as a ``UNION`` of one constraint per
arm: osquery's ``file`` table needs a ``path`` or ``directory`` constraint in each SELECT (an ``OR``
hides it from the planner), and the native collector reads only the paths the SQL names, never
walking the filesystem. ``directory = X`` lists one level, like osquery. ``LIKE`` patterns cover
every user's home (``/home/%/...``); a native collector without LIKE support reads the named paths
and directories only (reported in docs/collection.md).

Caps (also in docs/collection.md): staging areas are read one level deep (osquery's ``directory``
semantics), at most ``STAGING_LIMIT`` rows, and ``staging_dir_counts`` records how many entries each
directory really holds, so a hit cap shows in the results instead of passing silently.
Shell history is described by size, mtime and type (a link to /dev/null reads as a character device),
never by contents.
"""

# ruff: noqa: E501  (SQL and pack texts are data)

from __future__ import annotations

from collections.abc import Mapping, Sequence

from diffy_analysis.tables import severity
from diffy_analysis.tables.spec import TableSpec
from diffy_analysis.tables.text import clip, short_hash

FILE_COLUMNS = "f.path, f.type, f.size, f.mode, f.uid, f.gid, f.mtime, f.symlink"
STAGING_LIMIT = 2000


def _quoted(values: Sequence[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def file_sql(
    *,
    paths: Sequence[str] = (),
    directories: Sequence[str] = (),
    patterns: Sequence[str] = (),
    hashed: bool = True,
    where: str = "",
    limit: int | None = None,
    emptiness: bool = False,
) -> str:
    """file (+ hash) rows for the named paths, directories (one level) and LIKE patterns.

    ``emptiness`` adds ``empty`` (1 for a zero-byte file): for files whose size grows on every
    healthy host (logs, history) the fact that one was emptied is the evidence, not the size.
    """
    columns = FILE_COLUMNS + (", h.sha256" if hashed else "")
    if emptiness:
        columns += ", CASE WHEN CAST(f.size AS INTEGER) = 0 THEN 1 ELSE 0 END AS empty"
    source = "file AS f" + (" LEFT JOIN hash AS h ON h.path = f.path" if hashed else "")
    arms = []
    if paths:
        arms.append(f"f.path IN ({_quoted(paths)})")
    if directories:
        arms.append(f"f.directory IN ({_quoted(directories)})")
    arms.extend(f"f.path LIKE {_quoted([p])}" for p in patterns)
    extra = f" AND ({where})" if where else ""
    sql = " UNION ".join(f"SELECT {columns} FROM {source} WHERE {arm}{extra}" for arm in arms)
    return sql + (f" LIMIT {limit}" if limit else "") + ";"


def _home(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """root's copies as fixed paths, every other user's as /home/%/name patterns."""
    return [f"/root/{n}" for n in names], [f"/home/%/{n}" for n in names]


def _file(r: Mapping[str, str]) -> str:
    kind = r.get("type") or "file"
    details = []
    if r.get("symlink") == "1":
        details.append(f"a link to a {kind}")
    elif kind != "regular":
        details.append(kind)
    if r.get("sha256"):
        details.append(f"sha256 {short_hash(r.get('sha256'))}")
    if r.get("mode"):
        details.append(f"mode {clip(r.get('mode'))}")
    if r.get("empty") == "1":
        details.append("empty")
    elif r.get("size"):
        details.append(f"{clip(r.get('size'))} bytes")
    return f"file {clip(r.get('path'))}" + (f" ({', '.join(details)})" if details else "")


def _history(r: Mapping[str, str]) -> str:
    if r.get("symlink") == "1":
        return f"shell history {clip(r.get('path'))} is a link to a {clip(r.get('type'))} (history discarded)"
    state = "empty" if r.get("empty") == "1" else "not empty"
    return f"shell history {clip(r.get('path'))} ({state}; contents not collected)"


def _unit_exec(r: Mapping[str, str]) -> str:
    if r.get("status") == "capped":
        return "systemd Exec*= listing was cut at its row cap"
    runs = f"{clip(r.get('unit'))} {clip(r.get('directive'))} runs {clip(r.get('target'))}"
    if r.get("sha256"):
        return f"{runs} (sha256 {short_hash(r.get('sha256'))})"
    return f"{runs} ({clip(r.get('status')) or 'not hashed'})"


def _dir_count(r: Mapping[str, str]) -> str:
    return f"{clip(r.get('directory'))} holds {clip(r.get('entries'))} entries"


_PROFILE_NAMES = (
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".profile",
    ".shrc",
    ".kshrc",
    ".zshrc",
    ".zprofile",
    ".zshenv",
    ".zlogin",
    ".cshrc",
    ".tcshrc",
    ".config/fish/config.fish",
)
_root_profiles, _home_profiles = _home(_PROFILE_NAMES)
_HISTORY_NAMES = (
    ".bash_history",
    ".zsh_history",
    ".sh_history",
    ".history",
    ".ash_history",
    ".python_history",
    ".mysql_history",
    ".psql_history",
    ".viminfo",
    ".lesshst",
)
_root_history, _home_history = _home(_HISTORY_NAMES)
_STAGING_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/root", "/run/user", "/var/www", "/opt")
# What Ansible, shells and editors leave in every home and temp dir during any collection: the
# collection itself must not look like an attacker (the history and profile files have their own
# queries above).
_STAGING_SKIP = (
    ".ansible",
    ".cache",
    ".ssh",
    ".bash_history",
    ".bashrc",
    ".profile",
    ".bash_logout",
    ".bash_profile",
    ".viminfo",
    ".lesshst",
    ".python_history",
    ".wget-hsts",
    ".local",
    ".config",
    ".X11-unix",
    ".ICE-unix",
    ".font-unix",
    ".XIM-unix",
    ".Test-unix",
)
_FILE_NUMERIC = ("size", "uid", "gid", "mtime", "symlink", "empty")
_FILE_NEVER_VARIANT = ("sha256", "mode", "uid", "gid")


def _hashed_files(
    *, name: str, sql: str, description: str, value: str, significance: float, caps: str = ""
) -> TableSpec:
    """A table of files read with ``file_sql`` (one row per path, hashed): what its rows are keyed
    on, which columns are numbers, that mtime is not compared and that sha256/mode/owner never vary
    benignly is the same for all of them; only the selection and the words differ."""
    return TableSpec(
        name=name,
        sql=sql,
        description=description,
        value=value,
        keys=("path",),
        ignore=("mtime",),
        significance=significance,
        describe=_file,
        subject="path",
        numeric=_FILE_NUMERIC,
        never_variant=_FILE_NEVER_VARIANT,
        caps=caps,
    )


# Executable or hidden entries only. "Changed in the last N days" is deliberately not a selection
# rule: it makes a row's presence depend on when the collection ran, so a week-old baseline would
# "miss" every file that has since aged out. Recent changes show as a differing sha256 or a new row.
_STAGING_WHERE = (
    f"f.filename NOT IN ({_quoted(_STAGING_SKIP)}) AND ("
    "(f.type = 'regular' AND substr(f.mode, -3) GLOB '*[1357]*') OR f.filename LIKE '.%')"
)

# Temporary directories: any file an attacker leaves there is worth listing, executable or not (a
# data file, a payload renamed .png, a log of captured commands, a saved rule set). staging_files
# already has the executable and hidden ones; temp_files has the other regular files.
_TEMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
TEMP_LIMIT = 500
_TEMP_WHERE = "f.type = 'regular' AND f.filename NOT LIKE '.%' AND NOT substr(f.mode, -3) GLOB '*[1357]*'"

SPECS = (
    _hashed_files(
        name="shell_profiles",
        sql=file_sql(
            paths=(
                "/etc/profile",
                "/etc/bash.bashrc",
                "/etc/bashrc",
                "/etc/environment",
                "/etc/zsh/zshrc",
                "/etc/zsh/zprofile",
                "/etc/zsh/zshenv",
                "/etc/csh.cshrc",
                "/etc/csh.login",
                *_root_profiles,
            ),
            directories=("/etc/profile.d",),
            patterns=_home_profiles,
        ),
        description="Shell start-up files of the system and of every user, hashed.",
        value="A line added to /etc/profile, /etc/profile.d or a user's .bashrc runs the attacker's code at every login (T1546.004).",
        significance=1.0,
    ),
    _hashed_files(
        name="boot_persistence",
        sql=file_sql(
            paths=("/etc/rc.local", "/etc/rc.common", "/etc/inittab"),
            directories=(
                "/etc/systemd/system",
                "/etc/systemd/system/multi-user.target.wants",
                "/etc/systemd/system/timers.target.wants",
                "/etc/systemd/user",
                "/usr/lib/systemd/system",
                "/usr/local/lib/systemd/system",
                "/run/systemd/system",
                "/etc/init.d",
                "/etc/rc0.d",
                "/etc/rc1.d",
                "/etc/rc2.d",
                "/etc/rc3.d",
                "/etc/rc4.d",
                "/etc/rc5.d",
                "/etc/rc6.d",
                "/etc/rcS.d",
                "/etc/init",
                "/etc/cron.hourly",
                "/etc/cron.daily",
                "/etc/cron.weekly",
                "/etc/cron.monthly",
                "/etc/cron.d",
                "/var/spool/cron/atjobs",
                "/var/spool/at",
                "/etc/udev/rules.d",
                "/usr/lib/udev/rules.d",
                "/etc/xdg/autostart",
                "/root/.config/autostart",
                "/etc/update-motd.d",
            ),
            patterns=("/home/%/.config/autostart/%", "/home/%/.config/systemd/user/%"),
        ),
        description="Boot, service, timer, at, cron-script, udev and autostart files, hashed.",
        value="systemd units and timers, SysV init scripts, rc.local, at jobs, cron script directories, udev rules and XDG autostart entries all start attacker code without a cron line (T1543.002, T1053.006, T1037.004).",
        significance=1.0,
    ),
    TableSpec(
        name="systemd_exec_targets",
        sql="SELECT unit, directive, target, sha256, status FROM diffy_systemd_exec;",
        description="What every service unit file on disk runs: each Exec*= line (and drop-in) with the sha256 of its program. Diffy's own table, answered by the native engine under every collector: osquery's systemd_units has no column for it.",
        value="A trojaned binary behind an existing, unchanged unit shows as that unit's target hash changing; a new unit running from /tmp shows its target (T1543.002, T1574).",
        keys=("unit", "directive", "target"),
        significance=1.0,
        describe=_unit_exec,
        subject="target",
        never_variant=("sha256",),
        caps="unit directories one level deep plus <unit>.d/*.conf drop-ins; at most 4000 rows (then a `capped` row); targets over 64 MiB not hashed (status `too large`)",
        severe=severity.command("target"),
    ),
    _hashed_files(
        name="auth_config_files",
        sql=file_sql(
            paths=(
                "/etc/pam.conf",
                "/etc/ssh/sshd_config",
                "/etc/sudoers",
                "/etc/ld.so.conf",
                "/etc/security/pam_env.conf",
                "/etc/security/access.conf",
                "/etc/nsswitch.conf",
                "/etc/systemd/journald.conf",
                "/etc/rsyslog.conf",
                "/etc/login.defs",
                "/etc/shells",
            ),
            directories=(
                "/etc/pam.d",
                "/etc/ssh/sshd_config.d",
                "/etc/sudoers.d",
                "/etc/ld.so.conf.d",
                "/usr/lib/x86_64-linux-gnu/security",
                "/usr/lib/aarch64-linux-gnu/security",
                "/usr/lib64/security",
                "/etc/rsyslog.d",
                "/etc/security/limits.d",
            ),
        ),
        description="PAM configuration and modules, sshd, sudo, dynamic linker and logging configuration, hashed.",
        value="A PAM rule or module that accepts any password or logs it, an sshd option, a sudoers.d drop-in, an ld.so.conf.d path or silenced logging (T1556.003, T1548.003, T1574.006, T1562).",
        significance=1.0,
    ),
    _hashed_files(
        name="defense_config_files",
        sql=file_sql(
            paths=(
                "/etc/default/ufw",
                "/etc/libaudit.conf",
                "/etc/audisp/audispd.conf",
                "/etc/syslog.conf",
                "/etc/syslog-ng/syslog-ng.conf",
                "/etc/nftables.conf",
                "/etc/sysctl.conf",
            ),
            directories=(
                "/etc/ufw",
                "/etc/audit",
                "/etc/audit/rules.d",
                "/etc/audit/plugins.d",
                "/etc/firewalld",
                "/etc/firewalld/zones",
                "/etc/iptables",
                "/etc/sysctl.d",
            ),
        ),
        description="Firewall (ufw, firewalld, nftables, iptables-persistent), audit (auditd, audisp, libaudit), syslog and sysctl configuration files, hashed.",
        value="Defenses weakened for good rather than for the session: a ufw rule or logging level, an auditd rule or setting, a syslog target, a sysctl.d file turning ASLR off at the next boot (T1562.001, T1562.004, T1562.006).",
        significance=1.0,
    ),
    _hashed_files(
        name="trust_sources",
        sql=file_sql(
            paths=(
                "/etc/apt/sources.list",
                "/etc/ssl/certs/ca-certificates.crt",
                "/etc/pki/tls/certs/ca-bundle.crt",
                "/etc/ca-certificates.conf",
            ),
            directories=(
                "/etc/apt/sources.list.d",
                "/etc/apt/trusted.gpg.d",
                "/etc/apt/apt.conf.d",
                "/etc/yum.repos.d",
                "/usr/local/share/ca-certificates",
                "/etc/pki/ca-trust/source/anchors",
                "/usr/lib/python3/dist-packages",
                "/usr/local/lib/python3.11/dist-packages",
                "/usr/lib/python3.11",
            ),
            where="f.directory NOT LIKE '/usr/lib/python3%' OR f.path LIKE '%.pth' OR f.path LIKE '%customize.py'",
        ),
        description="Package sources, APT hooks, the CA store and Python start-up hooks, hashed.",
        value="A rogue package source or trusted CA intercepts updates and TLS (T1553.004); an APT hook or a Python .pth / sitecustomize file runs code on every apt or python run (T1546.018).",
        significance=0.9,
    ),
    _hashed_files(
        name="staging_files",
        sql=file_sql(
            directories=_STAGING_DIRS, patterns=("/home/%/%",), where=_STAGING_WHERE, limit=STAGING_LIMIT
        ),
        description="Executable and hidden files in /tmp, /var/tmp, /dev/shm, /run/user, /opt, /var/www and home directories (one level deep), hashed.",
        value="Dropped scripts and binaries, masquerading names (trailing space, double extension, a copy named crond) and hidden files and directories (T1027, T1036, T1059.004, T1564.001).",
        significance=0.9,
        caps=f"one level deep; at most {STAGING_LIMIT} rows; totals in staging_dir_counts",
    ),
    _hashed_files(
        name="temp_files",
        sql=file_sql(directories=_TEMP_DIRS, where=_TEMP_WHERE, limit=TEMP_LIMIT),
        description="Regular files that are neither executable nor hidden in /tmp, /var/tmp and /dev/shm (one level deep): metadata and sha256, never contents.",
        value="Dropped data files, archives, saved rule sets, captured-command logs and payloads named as documents (T1027.013, T1036.008, T1546.005, T1486, T1562.004); the executable and hidden ones are in staging_files.",
        significance=0.6,
        caps=f"one level deep; at most {TEMP_LIMIT} rows; totals in staging_dir_counts",
    ),
    TableSpec(
        name="staging_dir_counts",
        sql=f"SELECT f.directory, COUNT(*) AS entries FROM file AS f WHERE f.directory IN ({_quoted(_STAGING_DIRS)}) GROUP BY f.directory;",
        description="How many entries each staging directory holds (whether staging_files hit its cap).",
        value="Records the cap: when a directory holds more entries than staging_files returned, the responder knows the listing was cut.",
        keys=("directory",),
        ignore=("entries",),
        significance=0.1,
        describe=_dir_count,
        numeric=("entries",),
    ),
    TableSpec(
        name="shell_history_files",
        sql=file_sql(paths=_root_history, patterns=_home_history, hashed=False, emptiness=True),
        description="Shell and tool history files: presence, size, mtime and link target type, never contents.",
        value="Cleared, truncated or /dev/null-linked history is an attacker covering tracks (T1070.003).",
        keys=("path",),
        ignore=("size", "mtime"),
        significance=0.9,
        describe=_history,
        subject="path",
        numeric=_FILE_NUMERIC,
        severe=severity.linked_away("shell history"),
        appears_with_use="a history file appears once someone runs a shell or a tool as that user",
    ),
    TableSpec(
        name="log_files",
        sql=file_sql(
            paths=(
                "/var/log/auth.log",
                "/var/log/syslog",
                "/var/log/messages",
                "/var/log/secure",
                "/var/log/kern.log",
                "/var/log/wtmp",
                "/var/log/btmp",
                "/var/log/lastlog",
                "/var/log/faillog",
                "/var/log/audit/audit.log",
                "/var/log/cron",
                "/var/log/dpkg.log",
                "/var/log/apt/history.log",
            ),
            directories=("/var/mail", "/var/spool/mail"),
            hashed=False,
            emptiness=True,
        ),
        description="Log files and mail spools: presence, size, mtime and link target type.",
        value="A wiped, truncated or linked-away log, or a mail spool copied or overwritten, hides what happened (T1070.002, T1485).",
        keys=("path",),
        ignore=("size", "mtime"),
        significance=0.8,
        describe=_file,
        subject="path",
        numeric=_FILE_NUMERIC,
        severe=severity.linked_away("log"),
        appears_with_use="a mail spool or log appears once a job mails its output or a service starts logging",
    ),
)
