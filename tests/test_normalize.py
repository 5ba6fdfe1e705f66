"""Normalization: rules, identity masking, config files, interning, automatic volatile columns."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from runbuilder import build_run

from diffy_analysis.errors import ConfigError
from diffy_analysis.load import HostIdentity, open_results
from diffy_analysis.normalize import IdentityMasker, build_fleet, default_config, load_config, row_fingerprint
from diffy_analysis.normalize.defaults import DEFAULT_RULES
from diffy_analysis.normalize.transforms import kernel_thread_names, kernel_thread_names_rows

PACK_QUERIES = json.loads(
    (
        __import__("pathlib").Path(__file__).parents[1] / "roles/diffy_collect/files/packs/linux-dfir.json"
    ).read_text()
)["queries"]


def _identity(**kw):
    base = {"host": "web-1", "host_id": "web-1", "hostname": "web-1.corp.example", "instance_id": "i-0abc123"}
    base.update(kw)
    return HostIdentity(**base)


def test_every_query_of_the_default_pack_has_rules():
    assert set(PACK_QUERIES) == set(DEFAULT_RULES)
    for name, rule in DEFAULT_RULES.items():
        assert 0 < rule["significance"] <= 1, name
    assert "pid" in DEFAULT_RULES["listening_ports"]["ignore"]
    assert "pid" not in DEFAULT_RULES["listening_ports"]["keys"]


def test_masking_replaces_the_hosts_own_identity_with_boundaries():
    masker = IdentityMasker.for_host(_identity(ipv4=("10.0.1.1",), mac=("0a:1b:2c:3d:4e:5f",)))
    assert masker.mask("10.0.1.1 web-1.corp.example web-1") == "<ipv4> <hostname> <hostname>"
    assert masker.mask("10.0.1.12 web-12 i-0abc1234") == "10.0.1.12 web-12 i-0abc1234"
    assert masker.mask("ether 0A:1B:2C:3D:4E:5F up") == "ether <mac> up"
    assert masker.mask("/var/lib/cloud/instances/i-0abc123/") == "/var/lib/cloud/instances/<instance_id>/"
    assert masker.mask("ip-10-0-1-1.ec2.internal") == "<hostname>.ec2.internal"
    assert masker.mentioned_in('{"x": "web-1"}') and not masker.mentioned_in('{"x": "db-2"}')


def test_loopback_and_localhost_are_never_masked():
    masker = IdentityMasker.for_host(_identity(hostname="localhost", ipv4=("127.0.0.1", "0.0.0.0")))
    assert masker.mask("127.0.0.1 localhost 0.0.0.0") == "127.0.0.1 localhost 0.0.0.0"


@given(st.text(max_size=80))
def test_masking_never_fails_and_removes_the_hostname(text):
    masker = IdentityMasker.for_host(_identity(hostname="web-1"))
    out = masker.mask(f"{text} web-1 {text}")
    assert "<hostname>" in out


def test_kernel_thread_names_are_stable_but_disguised_processes_are_not():
    assert (
        kernel_thread_names({"name": "kworker/u8:3-events_unbound", "path": "", "cmdline": ""})["name"]
        == "kworker/uN:N"
    )
    disguised = {"name": "kworker/0:1", "path": "/tmp/.x/kworker", "cmdline": "kworker/0:1"}
    assert kernel_thread_names(disguised) is disguised


def test_the_whole_file_transform_equals_the_per_row_one():
    rows = [
        {"name": "kworker/u8:3-events_unbound", "path": "", "cmdline": ""},
        {"name": "kworker/0:1", "path": "/tmp/.x/kworker", "cmdline": "kworker/0:1"},
        {"name": "sshd", "path": "/usr/sbin/sshd", "cmdline": ""},
        {"name": "rcu_gp", "path": "", "cmdline": ""},
        {"name": "ksoftirqd/3", "path": "", "cmdline": "x"},
    ]
    assert kernel_thread_names_rows(rows) == [kernel_thread_names(r) for r in rows]
    assert kernel_thread_names_rows(rows)[0]["name"] == "kworker/uN:N"
    ragged = [*rows, {"name": "kworker/1:2"}]  # no path nor cmdline column: the per-row rules
    assert kernel_thread_names_rows(ragged) == [kernel_thread_names(r) for r in ragged]
    assert kernel_thread_names_rows(ragged)[-1]["name"] == "kworker/N:N"
    plain = rows[1:3]
    assert kernel_thread_names_rows(plain) == plain


def _index(tmp_path, hosts, config=None, **kw):
    run = build_run(tmp_path, hosts, **kw)
    return build_fleet(open_results([run]).iter_hosts(), config or default_config()).index


def test_volatile_columns_and_identity_do_not_make_hosts_unique(tmp_path):
    hosts = {
        f"web-{i}": {
            "listening_ports": [
                {
                    "protocol": "6",
                    "family": "2",
                    "address": "0.0.0.0",
                    "port": "22",
                    "pid": str(100 + i),
                    "fd": "3",
                    "socket": str(9000 + i),
                    "name": "sshd",
                    "path": "/usr/sbin/sshd",
                    "cmdline": "sshd",
                    "uid": "0",
                }
            ],
            "etc_hosts": [{"address": f"10.0.1.{i}", "hostnames": f"web-{i}"}],
        }
        for i in range(1, 5)
    }
    identities = {
        f"web-{i}": {"addresses": {"ipv4": [f"10.0.1.{i}"], "ipv6": [], "mac": []}} for i in range(1, 5)
    }
    index = _index(tmp_path, hosts, identities=identities)
    assert len(index.profiles) == 1
    rows = [index.row(f) for f in index.profiles[0].tolist()]
    assert {"address": "<ipv4>", "hostnames": "<hostname>"} in rows
    assert all("pid" not in r for r in rows)


def test_automatic_volatile_column_for_unknown_query(tmp_path):
    hosts = {
        f"h{i}": {"custom_things": [{"name": "agent", "version": "1.2", "token": f"tok-{i * 7919}"}]}
        for i in range(10)
    }
    index = _index(tmp_path, hosts)
    assert index.auto_ignored == {"custom_things": ("token",)}
    assert len(index.profiles) == 1
    # a configured rule turns detection off for that query
    config = load_config(_write(tmp_path, "c.toml", "[queries.custom_things]\nignore = []\n"))
    index = _index(tmp_path / "b", hosts, config)
    assert index.auto_ignored == {}
    assert len(index.profiles) == 10


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_config_toml_and_yaml_override_defaults(tmp_path):
    toml = _write(
        tmp_path,
        "a.toml",
        "[thresholds]\nrare_fraction = 0.1\n"
        '[queries.listening_ports]\nkeys = ["port"]\nalso_ignore = ["cmdline"]\nmask = false\n',
    )
    config = load_config(toml)
    rule = config.rule("listening_ports")
    assert rule.keys == ("port",)
    assert "cmdline" in rule.ignore and "pid" in rule.ignore
    assert rule.mask is False
    assert config.thresholds.rare_fraction == 0.1
    yaml_config = load_config(
        _write(tmp_path, "a.yml", "mask: false\nqueries:\n  users:\n    significance: 0.2\n")
    )
    assert yaml_config.rule("users").significance == 0.2
    assert yaml_config.rule("users").mask is False
    explained = json.loads(config.explain(["custom"]))
    assert explained["queries"]["listening_ports"]["keys"] == ["port"]
    assert explained["queries"]["custom"]["source"] == "automatic"
    assert explained["thresholds"]["rare_fraction"] == 0.1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[thresholds]\nnope = 1\n", "unknown setting"),
        ("[thresholds]\nrare_fraction = 2\n", "between 0 and 1"),
        ("[queries.users]\nkeys = 'username'\n", "list of column names"),
        ("[queries.users]\nwhat = 1\n", "unknown setting"),
        ("[queries.users]\ntransforms = ['magic']\n", "unknown"),
        ("[bogus]\n", "unknown section"),
        ("not = [valid toml", "cannot parse"),
    ],
)
def test_bad_config_is_a_config_error(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(_write(tmp_path, "bad.toml", text))


def test_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_fingerprints_are_stable_and_distinct():
    a = row_fingerprint("users", {"username": "root", "uid": "0"})
    assert a == row_fingerprint("users", {"uid": "0", "username": "root"})
    assert a != row_fingerprint("users", {"username": "root", "uid": "1"})
    assert a != row_fingerprint("groups", {"username": "root", "uid": "0"})
    assert len(a) == 32 and int(a, 16) >= 0


def test_identical_files_are_interned_once(tmp_path):
    hosts = {f"h{i}": {"users": [{"username": "root", "uid": "0"}]} for i in range(5)}
    index = _index(tmp_path, hosts)
    assert index.file_cache_hits == 4
    assert index.n_features == 1
    assert int(index.document_frequency()[0]) == 5


@given(
    st.lists(
        st.sampled_from(
            ["web-1", "WEB-1", "10.0.1.1", "10.0.1.12", ".", ":", "-", " ", "a", "0a:1b:2c:3d:4e:5f", "9"]
        ),
        max_size=12,
    )
)
def test_fast_masking_matches_the_regex_definition(parts):
    masker = IdentityMasker.for_host(
        _identity(hostname="web-1", ipv4=("10.0.1.1",), mac=("0a:1b:2c:3d:4e:5f",))
    )
    text = "".join(parts)
    expected = masker._compiled().sub(lambda m: masker._placeholders[m.lastgroup or ""], text)
    assert masker.mask(text) == expected
