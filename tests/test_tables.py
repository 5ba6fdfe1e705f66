"""The table registry (diffy_analysis/tables/): one declaration per table, read by every stage, in
step with the pack file and with the native collector that answers the same SQL on the target."""

from __future__ import annotations

import sys

import pytest
from collection_helpers import MODULE_UTILS

from diffy_analysis.analyze import evidence, explain
from diffy_analysis.normalize import default_config, defaults, volatile
from diffy_analysis.store import documents
from diffy_analysis.tables import REGISTRY, Registry, TableSpec
from diffy_analysis.tables.__main__ import main as pack_main
from diffy_analysis.tables.__main__ import render

sys.path.insert(0, str(MODULE_UTILS))
import diffy_native_tables as native


def test_the_pack_file_is_the_registry_rendered():
    assert pack_main(["--check"]) == 0, "run python -m diffy_analysis.tables --write"


def test_check_fails_when_the_pack_file_drifts(tmp_path):
    drifted = tmp_path / "pack.json"
    drifted.write_text(render().replace("FROM crontab", "FROM crontab WHERE 1"))
    assert pack_main(["--check", "--pack", str(drifted)]) == 1


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_table_the_sql_reads_is_built_by_the_native_collector(name):
    spec = REGISTRY[name]
    assert spec.osquery_tables, name
    for table in spec.osquery_tables:
        assert table in native.BUILDERS, f"{name}: native collector has no {table}"
        assert table in native.COLUMNS, f"{name}: native collector declares no columns for {table}"


def test_every_stage_reads_the_registry():
    assert REGISTRY.rules() == defaults.DEFAULT_RULES
    assert set(default_config().rules) == set(REGISTRY)
    assert REGISTRY.describers() == explain.DESCRIBERS
    assert REGISTRY.accounts() == evidence._ACCOUNT_COLUMNS
    assert REGISTRY.numeric_columns() == documents.NUMERIC_COLUMNS
    assert REGISTRY.never_variant() == volatile.NEVER_VARIANT
    for name, spec in REGISTRY.items():
        assert 0 < spec.significance <= 1, name
        assert spec.describe is not None, f"{name} has no plain-English describer"
        assert set(spec.keys).isdisjoint(spec.ignore), name


def test_adding_a_table_is_one_declaration():
    """A new spec flows into the pack, the rules, the describers, subjects, accounts and ES hints."""
    extra = TableSpec(
        name="widgets",
        sql="SELECT name, owner, size FROM widgets;",
        description="Widgets.",
        value="Why widgets matter.",
        keys=("name",),
        ignore=("size",),
        significance=0.5,
        describe=lambda r: f"widget {r.get('name')}",
        subject="name",
        subject_prefix="widget ",
        account="owner",
        numeric=("size",),
        never_variant=("owner",),
    )
    reg = Registry((*REGISTRY.values(), extra))
    assert reg.pack()["queries"]["widgets"]["query"] == extra.sql
    assert reg.rules()["widgets"] == {"keys": ("name",), "ignore": ("size",), "significance": 0.5}
    assert reg.describers()["widgets"]({"name": "w1"}) == "widget w1"
    assert reg.subjects()["widgets"] == ("name", "widget ")
    assert reg.accounts()["widgets"] == "owner"
    assert "size" in reg.numeric_columns() and "owner" in reg.never_variant()
    assert extra.osquery_tables == {"widgets"}
    with pytest.raises(ValueError, match="declared twice"):
        Registry((extra, extra))


def test_describers_of_the_new_tables_name_the_artifact_and_never_a_secret():
    shadow = explain.describe("shadow", {"username": "eve", "password_status": "active", "hash_alg": "6"})
    assert shadow == "password of `eve` is active (6 hash, not collected)"
    history = explain.describe(
        "shell_history_files", {"path": "/root/.bash_history", "type": "character", "symlink": "1"}
    )
    assert "link to a character" in history
    profile = explain.describe(
        "shell_profiles", {"path": "/etc/profile.d/x.sh", "type": "regular", "sha256": "ab" * 32}
    )
    assert profile.startswith("file /etc/profile.d/x.sh (sha256 abababababab")
    env = explain.describe(
        "process_envs", {"name": "bash", "path": "/bin/bash", "key": "HISTFILE", "value": "/dev/null"}
    )
    assert env == "process bash (/bin/bash) runs with HISTFILE=/dev/null"


def test_the_pack_never_selects_secrets():
    sql = " ".join(s.sql.lower() for s in REGISTRY.values())
    assert "shell_history " not in sql and "from shell_history;" not in sql  # contents of history
    assert "e.key like 'ld\\_%'" in REGISTRY["process_envs"].sql.lower()
    assert "password" not in REGISTRY["shadow"].sql.replace("password_status", "")


def test_defense_config_files_hash_the_firewall_audit_and_sysctl_files_atomics_edit(tmp_path):
    # T1686-13 appends to /etc/ufw/user.rules, T1685-63 to /etc/audit/auditd.conf (validation run
    # 2026-12-02): both were edited and not collected before this query existed.
    import sys

    from collection_helpers import MODULE_UTILS

    sys.path.insert(0, str(MODULE_UTILS))
    import diffy_native_engine as engine_mod

    for path in (
        "etc/ufw/user.rules",
        "etc/audit/auditd.conf",
        "etc/sysctl.d/99-aslr.conf",
        "etc/default/ufw",
    ):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("# THIS IS A COMMENT\n")
    engine = engine_mod.Engine(root=str(tmp_path))
    try:
        columns, rows = engine.query(REGISTRY["defense_config_files"].sql)
    finally:
        engine.close()
    found = {r["path"]: r["sha256"] for r in engine_mod.rows_as_objects(columns, rows)}
    assert set(found) == {
        "/etc/ufw/user.rules",
        "/etc/audit/auditd.conf",
        "/etc/sysctl.d/99-aslr.conf",
        "/etc/default/ufw",
    }
    assert len(set(found.values())) == 1 and len(next(iter(found.values()))) == 64


def test_temp_files_list_the_plain_files_staging_files_leaves_out(tmp_path):
    # T1546.005-5 logs commands to /tmp/art-fish.txt, T1686-18 saves /tmp/iptables.rules (validation
    # runs 2026-12-02): non-executable files in /tmp were collected by no query.  osquery semantics
    # (osquery/tables/utility/file.cpp): `directory = X` lists X's entries one level deep; the
    # executable and hidden ones are staging_files' rows, never both tables'.
    import hashlib

    from collection_helpers import MODULE_UTILS

    sys.path.insert(0, str(MODULE_UTILS))
    import diffy_native_engine as engine_mod

    files = {"tmp/art-fish.txt": 0o644, "tmp/run.sh": 0o755, "tmp/.hidden": 0o600,
             "var/tmp/iptables.rules": 0o600, "dev/shm/blob": 0o644, "tmp/sub/deeper.txt": 0o644}  # fmt: skip
    for path, mode in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(f"{path}\n")
        (tmp_path / path).chmod(mode)
    engine = engine_mod.Engine(root=str(tmp_path))
    try:
        temp = engine_mod.rows_as_objects(*engine.query(REGISTRY["temp_files"].sql))
        staging = engine_mod.rows_as_objects(*engine.query(REGISTRY["staging_files"].sql))
    finally:
        engine.close()
    found = {r["path"]: r for r in temp}
    assert set(found) == {"/tmp/art-fish.txt", "/var/tmp/iptables.rules", "/dev/shm/blob"}
    assert found["/tmp/art-fish.txt"]["sha256"] == hashlib.sha256(b"tmp/art-fish.txt\n").hexdigest()
    assert found["/var/tmp/iptables.rules"]["mode"] == "0600"
    assert not set(found) & {r["path"] for r in staging}
    assert "LIMIT 500" in REGISTRY["temp_files"].sql and "staging_dir_counts" in REGISTRY["temp_files"].caps
