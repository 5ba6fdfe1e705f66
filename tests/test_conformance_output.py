"""Conformance of the native collector's result files with what `osqueryi --json` prints.

Expected bytes are written from READING osquery 5.23.1 (never from running the native code):
- osquery/devtools/printer.cpp:135-148 (jsonPrint): "[\\n", each row as "  " + its JSON, rows
  joined by ",\\n", then "\\n]\\n";
- osquery/core/sql/row.h:40: a Row is a std::map, so its JSON object lists columns in byte order;
- osquery/devtools/shell.cpp:575-582: the shell fills that map column by column, so a repeated
  column name keeps the last value; NULL prints as FLAGS_nullvalue ("");
- osquery/utils/json/json.cpp:303-309: rows are serialised by a plain rapidjson Writer (no spaces);
  rapidjson's Writer::WriteString (submodule libraries/cmake/source/rapidjson at 1a825d24) escapes
  '"' and '\\', writes 0x08/09/0A/0C/0D as \\b \\t \\n \\f \\r, the other C0 controls as \\u00XX with
  upper-case hex digits, and every other byte (UTF-8 or not) as it is.
"""

from __future__ import annotations

import json
import sys

from collection_helpers import MODULE_UTILS

sys.path.insert(0, str(MODULE_UTILS))
import diffy_native_engine


def test_rows_print_one_compact_object_per_line_with_columns_in_byte_order():
    data = diffy_native_engine.osquery_json(
        ["path", "Size", "mode"], [["/etc/a", "1", "0644"], ["/b", "", "0600"]]
    )
    assert data == (
        b'[\n  {"Size":"1","mode":"0644","path":"/etc/a"},\n  {"Size":"","mode":"0600","path":"/b"}\n]\n'
    )


def test_no_rows_print_an_empty_line_between_the_brackets():
    assert diffy_native_engine.osquery_json(["path"], []) == b"[\n\n]\n"


def test_a_repeated_column_name_keeps_the_last_value():
    assert (
        diffy_native_engine.osquery_json(["path", "path"], [["first", "last"]])
        == b'[\n  {"path":"last"}\n]\n'
    )


def test_strings_are_escaped_as_rapidjson_escapes_them():
    value = 'a"b\\c\x08\t\n\x0c\r\x01\x1f\x7f/é'
    data = diffy_native_engine.osquery_json(["v"], [[value]])
    assert data == '[\n  {"v":"a\\"b\\\\c\\b\\t\\n\\f\\r\\u0001\\u001F\x7f/é"}\n]\n'.encode()
    assert json.loads(data) == [{"v": value}]


def test_bytes_that_are_not_utf8_are_written_as_they_were_read():
    name = b"/tmp/\xff\xfe-hidden".decode("utf-8", "surrogateescape")  # as the native tables decode
    assert (
        diffy_native_engine.osquery_json(["path"], [[name]]) == b'[\n  {"path":"/tmp/\xff\xfe-hidden"}\n]\n'
    )


def test_a_query_result_reads_back_to_the_rows_osqueryi_would_give(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "hostname").write_text("box\n")
    engine = diffy_native_engine.Engine(root=str(tmp_path))
    try:
        columns, rows = engine.query("SELECT path, size, type FROM file WHERE path = '/etc/hostname'")
    finally:
        engine.close()
    data = diffy_native_engine.osquery_json(columns, rows)
    assert data == b'[\n  {"path":"/etc/hostname","size":"4","type":"regular"}\n]\n'
