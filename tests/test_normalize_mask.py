"""normalize/mask.py HostMasking: the one masking path and its two entry points (a file's text before
it is parsed, rows already parsed) give the same rows for every kind of file (issue 15)."""

from __future__ import annotations

import json

import pytest

from diffy_analysis.load import HostIdentity, parse_rows
from diffy_analysis.normalize.mask import HostMasking

HOST = HostIdentity(
    host="web-1", host_id="i-0abc", hostname="web-1", instance_id="i-0abc", ipv4=("10.0.1.7",)
)
NAMED_LIKE_A_COLUMN = HostIdentity(host="shell", host_id="i-0def", hostname="shell", ipv4=("10.0.1.8",))

FILES = {
    "untouched": [{"path": "/etc/hosts", "size": "42"}],
    "in a value": [{"cmdline": "ping web-1 10.0.1.7", "pid": "1"}, {"cmdline": "ping 10.0.1.77", "pid": "2"}],
    "instance id in a path": [{"path": "/var/lib/cloud/instances/i-0abc/x", "uid": "0"}],
}


def _text(rows: list[dict[str, str]]) -> str:
    return json.dumps(rows)


@pytest.mark.parametrize("name", sorted(FILES))
def test_text_and_rows_entry_points_agree(name: str) -> None:
    masking = HostMasking(lambda query: True)
    text = _text(FILES[name])
    from_text = parse_rows(masking.text(HOST, "q", text), "q.json")
    parsed = parse_rows(text, "q.json")
    from_rows = masking.rows(HOST, "q", parsed, text)
    assert from_text == from_rows
    if name == "untouched":
        assert masking.text(HOST, "q", text) is text and from_rows is parsed  # no copy when nothing to mask
    else:
        assert from_rows != parsed and "<" in json.dumps(from_rows)
    if name == "in a value":
        assert from_rows[1]["cmdline"] == "ping 10.0.1.77"  # a foreign address stays visible


def test_a_host_named_like_a_column_keeps_the_column_on_both_paths() -> None:
    masking = HostMasking(lambda query: True)
    rows = [{"shell": "/bin/bash", "user": "shell"}]
    text = _text(rows)
    from_text = parse_rows(masking.text(NAMED_LIKE_A_COLUMN, "users", text), "users.json")
    from_rows = masking.rows(NAMED_LIKE_A_COLUMN, "users", parse_rows(text, "users.json"), text)
    assert from_text == from_rows == [{"shell": "/bin/bash", "user": "<hostname>"}]


def test_rules_that_do_not_mask_and_texts_that_are_not_json() -> None:
    off = HostMasking(lambda query: query != "q")
    text = _text(FILES["in a value"])
    assert off.text(HOST, "q", text) is text
    rows = parse_rows(text, "q.json")
    assert off.rows(HOST, "q", rows, text) is rows
    assert off.rows(HOST, "other", rows, None) is rows  # no text kept: nothing to probe
    # The Elasticsearch reader keeps the values one per line, not the file's JSON: value by value.
    standin = "\n".join(v for row in rows for v in row.values())
    assert off.rows(HOST, "other", rows, standin)[0]["cmdline"] == "ping <hostname> <ipv4>"


def test_one_masker_per_host() -> None:
    masking = HostMasking(lambda query: True)
    first = masking.masker(HOST, "a")
    assert masking.masker(HOST, "b") is first
    assert masking.masker(NAMED_LIKE_A_COLUMN, "a") is not first
