"""Result files parsed with orjson give exactly what the json reference gives (or json decides)."""

from __future__ import annotations

import pytest

from diffy_analysis.errors import HostDataError
from diffy_analysis.load import files as load

CASES = [
    '[{"name": "sshd", "pid": "12"}, {"name": "cron", "pid": "7"}]',
    "[]",
    ' [{"a": "b"}]\n',
    '[{"a": "1", "b": "2", "a": "3"}]',  # duplicate key: last value, first position
    '[{"a": "b\\u0000c", "d": "\\u00e9\\ud83d\\ude00"}]',
    '[{"a": "\\ud800"}]',  # lone surrogate: orjson refuses, json keeps it
    '[{"a": 5, "b": 1.50, "c": true, "d": null, "e": [1, {"z": 2}]}]',  # non-strings: json's text
    '[{"a": NaN, "b": 1e999, "c": 123456789012345678901234567890}]',
    '[{"a": "b"}, "x"]',
    '{"a": "b"}',
    '\ufeff[{"a": "b"}]',
    '[{"a": "b"},]',
    '[{"a": "b"}] trailing',
    '[{"a": "b\x01"}]',
    "[" * 5000 + "]" * 5000,
]


def _outcome(text):
    try:
        rows = load.parse_rows(text, "q.json")
    except HostDataError as err:
        return ("error", err.message)
    return ("rows", rows, [list(r) for r in rows])


@pytest.mark.parametrize("text", CASES)
def test_orjson_path_equals_json_reference(monkeypatch, text):
    assert load._orjson is not None  # the fast path is really exercised
    fast = _outcome(text)
    monkeypatch.setattr(load, "_orjson", None)
    assert fast == _outcome(text)


def test_manifest_and_host_records_parse_the_same(monkeypatch):
    text = '{"a": 1, "b": [1.5, "x", null, true], "c": {"d": 18446744073709551616}, "e": NaN}'
    fast = load.parse_json(text, "m.json")
    monkeypatch.setattr(load, "_orjson", None)
    reference = load.parse_json(text, "m.json")
    assert repr(fast) == repr(reference)
    assert repr(load.parse_json('{"a": 1, "b": 2.5}', "m.json")) == "{'a': 1, 'b': 2.5}"
