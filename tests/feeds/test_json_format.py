"""JSON and NDJSON: canary objects are spliced in; real records keep their exact text."""

from __future__ import annotations

import json

from canary.feeds.base import Target
from canary.feeds.jsonfmt import JsonFile
from tests.feeds.helpers import plan

ARRAY = (
    "[\n"
    '  {"name": "张三", "phone": "13800138000", "weight": 3340.0, "n": 1e3, "ok": true},\n'
    '  {"name": "李四", "phone": "13800138001", "weight": 3100.50, "n": 2, "ok": false}\n'
    "]\n"
)


def test_array_keeps_key_order_and_number_text(tmp_path):
    path = tmp_path / "in.json"
    path.write_text(ARRAY, encoding="utf-8")
    scanned = JsonFile(path)
    assert scanned.sample.header == ["name", "phone", "weight", "n", "ok"]
    assert scanned.sample.rows[0] == ["张三", "13800138000", "3340.0", "1e3", "true"]
    out = tmp_path / "out.json"
    scanned.write([Target(out, plan([(1, ["王五", "13900000000", "3200.0", "5", "true"])]))])
    text = out.read_text(encoding="utf-8")
    canary = '  {"name": "王五", "phone": "13900000000", "weight": 3200.0, "n": 5, "ok": true},\n'
    assert canary in text
    assert text.replace(canary, "") == ARRAY
    records = json.loads(text)
    assert [r["name"] for r in records] == ["张三", "王五", "李四"]
    assert list(records[1]) == ["name", "phone", "weight", "n", "ok"]
    assert isinstance(records[1]["weight"], float) and isinstance(records[1]["phone"], str)


def test_array_append_at_end_uses_the_same_separator(tmp_path):
    path = tmp_path / "in.json"
    path.write_text(ARRAY, encoding="utf-8")
    out = tmp_path / "out.json"
    JsonFile(path).write([Target(out, plan([(2, ["王五", "13900000000", "3200", "5", "false"])]))])
    text = out.read_text(encoding="utf-8")
    assert text.endswith(
        '"ok": false},\n  {"name": "王五", "phone": "13900000000", '
        '"weight": 3200, "n": 5, "ok": false}\n]\n'
    )


def test_ascii_escaped_files_get_ascii_escaped_canaries(tmp_path):
    path = tmp_path / "in.json"
    path.write_text(json.dumps([{"name": "张三", "phone": "1"}, {"name": "李四", "phone": "2"}]))
    out = tmp_path / "out.json"
    JsonFile(path).write([Target(out, plan([(0, ["王五", "3"])]))])
    text = out.read_text()
    assert text.isascii() and json.loads(text)[0] == {"name": "王五", "phone": "3"}


def test_ndjson_lines_are_kept_and_canaries_are_lines(tmp_path):
    path = tmp_path / "in.ndjson"
    original = '{"a": 1, "b": "x"}\n{"a": 2.50, "b": "y"}\n'
    path.write_text(original)
    out = tmp_path / "out.ndjson"
    JsonFile(path, fmt="ndjson").write([Target(out, plan([(0, ["3", "z"]), (2, ["4", "w"])]))])
    text = out.read_text()
    assert (
        text
        == '{"a": 3, "b": "z"}\n{"a": 1, "b": "x"}\n{"a": 2.50, "b": "y"}\n{"a": 4, "b": "w"}\n'
    )
