# Diffy native collector: the table registry - every table's columns with osquery's column types
# (osquery 5.x specs/**/*.table) and the function that builds its rows.
#
# Runs on the TARGET host's Python 3 (3.6+), standard library only: shipped inside the diffy_run_pack
# module (Ansible module_utils) and reused, as a plain module, by the test-only stand-in osqueryi
# (tests/standin/).  The builders live in diffy_native_<group>.py; each follows osquery's C++ and cites
# it.  A builder takes a Context and returns row dicts; values may be str or int - the engine turns
# them into what osquery's typed virtual-table columns hold (diffy_native_engine.py).

try:  # inside Ansible (role module_utils) ...
    from ansible.module_utils import diffy_native_accounts as _accounts
    from ansible.module_utils import diffy_native_caps as _caps
    from ansible.module_utils import diffy_native_config as _config
    from ansible.module_utils import diffy_native_files as _files
    from ansible.module_utils import diffy_native_firewall as _firewall
    from ansible.module_utils import diffy_native_iptables as _iptables
    from ansible.module_utils import diffy_native_proc as _proc
    from ansible.module_utils import diffy_native_system as _system
    from ansible.module_utils import diffy_native_units as _units
    from ansible.module_utils.diffy_native_base import Context, TableUnavailable
except ImportError:
    try:  # ... the role used from the diffy.diffy collection ...
        from ansible_collections.diffy.diffy.plugins.module_utils import diffy_native_accounts as _accounts
        from ansible_collections.diffy.diffy.plugins.module_utils import diffy_native_caps as _caps
        from ansible_collections.diffy.diffy.plugins.module_utils import diffy_native_config as _config
        from ansible_collections.diffy.diffy.plugins.module_utils import diffy_native_files as _files
        from ansible_collections.diffy.diffy.plugins.module_utils import diffy_native_firewall as _firewall
        from ansible_collections.diffy.diffy.plugins.module_utils import diffy_native_iptables as _iptables
        from ansible_collections.diffy.diffy.plugins.module_utils import diffy_native_proc as _proc
        from ansible_collections.diffy.diffy.plugins.module_utils import diffy_native_system as _system
        from ansible_collections.diffy.diffy.plugins.module_utils import diffy_native_units as _units
        from ansible_collections.diffy.diffy.plugins.module_utils.diffy_native_base import (
            Context,
            TableUnavailable,
        )
    except ImportError:  # ... and as plain modules (the stand-in osqueryi, the tests)
        import diffy_native_accounts as _accounts
        import diffy_native_caps as _caps
        import diffy_native_config as _config
        import diffy_native_files as _files
        import diffy_native_firewall as _firewall
        import diffy_native_iptables as _iptables
        import diffy_native_proc as _proc
        import diffy_native_system as _system
        import diffy_native_units as _units
        from diffy_native_base import Context, TableUnavailable


__all__ = ["BUILDERS", "COLUMNS", "CONSTRAINED", "DIFFY_TABLES", "TYPES", "Context", "TableUnavailable"]

I_, B_, T_ = "INTEGER", "BIGINT", "TEXT"

# (column, osquery type) per table, from osquery 5.23.1's specs (the columns Diffy implements).
SCHEMA = {
    "listening_ports": [
        ("pid", I_),
        ("port", I_),
        ("protocol", I_),
        ("family", I_),
        ("address", T_),
        ("fd", B_),
        ("socket", B_),
        ("path", T_),
        ("net_namespace", T_),
    ],
    "processes": [
        ("pid", B_),
        ("name", T_),
        ("path", T_),
        ("cmdline", T_),
        ("state", T_),
        ("cwd", T_),
        ("root", T_),
        ("uid", B_),
        ("gid", B_),
        ("euid", B_),
        ("egid", B_),
        ("suid", B_),
        ("sgid", B_),
        ("on_disk", I_),
        ("wired_size", B_),
        ("resident_size", B_),
        ("total_size", B_),
        ("user_time", B_),
        ("system_time", B_),
        ("start_time", B_),
        ("parent", B_),
        ("pgroup", B_),
        ("threads", I_),
        ("nice", I_),
    ],
    "crontab": [
        ("event", T_),
        ("minute", T_),
        ("hour", T_),
        ("day_of_month", T_),
        ("month", T_),
        ("day_of_week", T_),
        ("command", T_),
        ("path", T_),
    ],
    "kernel_modules": [("name", T_), ("size", B_), ("used_by", T_), ("status", T_), ("address", T_)],
    "users": [
        ("uid", B_),
        ("gid", B_),
        ("uid_signed", B_),
        ("gid_signed", B_),
        ("username", T_),
        ("description", T_),
        ("directory", T_),
        ("shell", T_),
        ("uuid", T_),
    ],
    "groups": [("gid", B_), ("gid_signed", B_), ("groupname", T_)],
    "authorized_keys": [
        ("uid", B_),
        ("algorithm", T_),
        ("key", T_),
        ("options", T_),
        ("comment", T_),
        ("key_file", T_),
    ],
    "suid_bin": [("path", T_), ("username", T_), ("groupname", T_), ("permissions", T_)],
    "iptables": [
        ("filter_name", T_),
        ("chain", T_),
        ("policy", T_),
        ("target", T_),
        ("protocol", I_),
        ("src_port", T_),
        ("dst_port", T_),
        ("src_ip", T_),
        ("src_mask", T_),
        ("iniface", T_),
        ("iniface_mask", T_),
        ("dst_ip", T_),
        ("dst_mask", T_),
        ("outiface", T_),
        ("outiface_mask", T_),
        ("match", T_),
        ("packets", I_),
        ("bytes", I_),
    ],
    "systemd_units": [
        ("id", T_),
        ("description", T_),
        ("load_state", T_),
        ("active_state", T_),
        ("sub_state", T_),
        ("following", T_),
        ("object_path", T_),
        ("job_id", B_),
        ("job_type", T_),
        ("job_path", T_),
        ("fragment_path", T_),
        ("user", T_),
        ("source_path", T_),
    ],
    "deb_packages": [
        ("name", T_),
        ("version", T_),
        ("source", T_),
        ("size", B_),
        ("arch", T_),
        ("revision", T_),
        ("status", T_),
        ("maintainer", T_),
        ("section", T_),
        ("priority", T_),
        ("admindir", T_),
    ],
    "rpm_packages": [
        ("name", T_),
        ("version", T_),
        ("release", T_),
        ("source", T_),
        ("size", B_),
        ("sha1", T_),
        ("arch", T_),
        ("epoch", I_),
        ("install_time", I_),
        ("vendor", T_),
        ("package_group", T_),
    ],
    "mounts": [
        ("device", T_),
        ("device_alias", T_),
        ("path", T_),
        ("type", T_),
        ("blocks_size", B_),
        ("blocks", B_),
        ("blocks_free", B_),
        ("blocks_available", B_),
        ("inodes", B_),
        ("inodes_free", B_),
        ("flags", T_),
    ],
    "etc_hosts": [("address", T_), ("hostnames", T_)],
    "sudoers": [("source", T_), ("header", T_), ("rule_details", T_)],
    "file": [
        ("path", T_),
        ("directory", T_),
        ("filename", T_),
        ("inode", B_),
        ("uid", B_),
        ("gid", B_),
        ("mode", T_),
        ("device", B_),
        ("size", B_),
        ("block_size", I_),
        ("atime", B_),
        ("mtime", B_),
        ("ctime", B_),
        ("btime", B_),
        ("hard_links", I_),
        ("symlink", I_),
        ("type", T_),
    ],
    "hash": [("path", T_), ("directory", T_), ("md5", T_), ("sha1", T_), ("sha256", T_)],
    "logged_in_users": [("type", T_), ("user", T_), ("tty", T_), ("host", T_), ("time", B_), ("pid", I_)],
    "os_version": [
        ("name", T_),
        ("version", T_),
        ("major", I_),
        ("minor", I_),
        ("patch", I_),
        ("build", T_),
        ("platform", T_),
        ("platform_like", T_),
        ("codename", T_),
        ("arch", T_),
    ],
    "kernel_info": [("version", T_), ("arguments", T_), ("path", T_), ("device", T_)],
    # Diffy's own table (not osquery's): answered by this engine under every collector.
    "diffy_firewall_rules": [(c, I_ if c == "position" else T_) for c in _firewall.FIREWALL_COLUMNS],
    "diffy_file_capabilities": [(c, T_) for c in _caps.COLUMNS],
    "diffy_systemd_exec": [(c, T_) for c in _units.COLUMNS],
}

COLUMNS = {table: [name for name, _dummy in columns] for table, columns in SCHEMA.items()}
TYPES = {table: dict(columns) for table, columns in SCHEMA.items()}

BUILDERS = {
    "listening_ports": _proc.table_listening_ports,
    "processes": _proc.table_processes,
    "kernel_modules": _proc.table_kernel_modules,
    "kernel_info": _proc.table_kernel_info,
    "crontab": _config.table_crontab,
    "sudoers": _config.table_sudoers,
    "suid_bin": _config.table_suid_bin,
    "users": _accounts.table_users,
    "groups": _accounts.table_groups,
    "authorized_keys": _accounts.table_authorized_keys,
    "logged_in_users": _accounts.table_logged_in_users,
    "iptables": _iptables.table_iptables,
    "os_version": _system.table_os_version,
    "etc_hosts": _system.table_etc_hosts,
    "mounts": _system.table_mounts,
    "deb_packages": _system.table_deb_packages,
    "rpm_packages": _system.table_rpm_packages,
    "systemd_units": _system.table_systemd_units,
    "file": _files.table_file,
    "hash": _files.table_hash,
    "diffy_firewall_rules": _firewall.table_diffy_firewall_rules,
    "diffy_file_capabilities": _caps.table_diffy_file_capabilities,
    "diffy_systemd_exec": _units.table_diffy_systemd_exec,
}

# Tables whose rows depend on the query's constraints: rebuilt for every query, never cached.
CONSTRAINED = frozenset(["file", "hash"])

# Diffy's own tables: osqueryi has none of them, so diffy_run_pack answers them natively.
DIFFY_TABLES = frozenset(t for t in SCHEMA if t.startswith("diffy_"))

# --- Tables the DFIR pack added (issue 13): built in diffy_native_dfir.py, registered here. ------
try:  # the same three ways in as the engine: role module_utils, the collection, a plain module
    from ansible.module_utils.diffy_native_dfir import DFIR_BUILDERS, DFIR_COLUMNS
except ImportError:
    try:
        from ansible_collections.diffy.diffy.plugins.module_utils.diffy_native_dfir import (
            DFIR_BUILDERS,
            DFIR_COLUMNS,
        )
    except ImportError:
        from diffy_native_dfir import DFIR_BUILDERS, DFIR_COLUMNS

for _table, _columns in DFIR_COLUMNS.items():
    COLUMNS[_table] = [name for name, _type in _columns]
    TYPES[_table] = dict(_columns)
BUILDERS.update(DFIR_BUILDERS)
