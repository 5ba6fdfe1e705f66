"""diffy_analysis/report/json.py: the document written in pieces is exactly what json.dumps gives."""

from __future__ import annotations

import io
import json
import math

from diffy_analysis.report import json as json_report


class _Model:
    def __init__(self, doc):
        self.doc = doc

    def to_json(self):
        return self.doc


class _Counting(io.StringIO):
    def __init__(self):
        super().__init__()
        self.writes = 0

    def write(self, text):
        self.writes += 1
        return super().write(text)


def _render(doc) -> tuple[str, int]:
    out = _Counting()
    json_report.render(_Model(doc), out)
    return out.getvalue(), out.writes


def test_same_bytes_as_one_dumps_and_written_in_pieces(monkeypatch):
    doc = {"hosts": [{"host": f"h-{i}", "score": i / 7, "note": "zürich ✓", "rows": [1, None, True]}
                     for i in range(2000)], "empty": {}, "tuple": (1, 2)}  # fmt: skip
    expected = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    monkeypatch.setattr(json_report, "_PIECE", 4096)
    text, writes = _render(doc)
    assert text == expected and writes > 10


def test_a_lone_surrogate_anywhere_writes_the_whole_document_escaped():
    doc = {"first": "zürich", "hosts": [{"cmdline": "x\ud800y"}]}
    text, _ = _render(doc)
    assert text == json.dumps(doc, indent=2, ensure_ascii=True) + "\n"
    assert json.loads(text) == doc
    key_doc = {"k\udcff": 1}
    assert _render(key_doc)[0] == json.dumps(key_doc, indent=2, ensure_ascii=True) + "\n"


def test_non_finite_floats_become_null_without_changing_the_model():
    inner = [1.0, math.nan]
    doc = {"a": {"b": inner}, "c": [math.inf], "d": "ok"}
    text, _ = _render(doc)
    assert json.loads(text) == {"a": {"b": [1.0, None]}, "c": [None], "d": "ok"}
    assert math.isnan(inner[1]) and math.isinf(doc["c"][0])  # copy on write: the model is untouched
    clean = {"x": [1, 2]}
    assert json_report.document(_Model(clean)) is clean  # nothing to replace: no copy
