"""The pure diff of two responses: lines in the handler's key order, marked per row."""

from __future__ import annotations

import json

from workbench.engine.invoke.response_diff import (
    ADDED,
    CHANGED,
    MAX_LINES,
    REMOVED,
    SAME,
    Response,
    Row,
    collapse,
    diff_lines,
    diff_responses,
    pretty_lines,
)


def js(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def marks(before: object, after: object) -> list[tuple[str | None, str | None, str]]:
    diff = diff_responses(Response(js(before)), Response(js(after)))
    return [(r.left, r.right, r.mark) for r in diff.rows]


def test_json_keeps_the_handlers_key_order_one_value_a_line() -> None:
    assert pretty_lines(js({"z": 1, "a": [1, "é"]})) == [
        "{",
        '  "z": 1,',
        '  "a": [',
        "    1,",
        '    "é"',
        "  ]",
        "}",
    ]


def test_a_changed_value_is_one_changed_row_the_rest_aligned() -> None:
    assert marks({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 20, "c": 3}) == [
        ("{", "{", SAME),
        ('  "a": 1,', '  "a": 1,', SAME),
        ('  "b": 2,', '  "b": 20,', CHANGED),
        ('  "c": 3', '  "c": 3', SAME),
        ("}", "}", SAME),
    ]


def test_a_key_added_after_the_last_changes_only_its_line() -> None:
    """The old last line gains a comma: compared without it, it is the same line."""
    assert marks({"a": 1}, {"a": 1, "b": 2}) == [
        ("{", "{", SAME),
        ('  "a": 1', '  "a": 1,', SAME),
        (None, '  "b": 2', ADDED),
        ("}", "}", SAME),
    ]


def test_removed_lines_and_a_longer_run_of_changes() -> None:
    assert marks({"a": 1, "b": 2, "c": 3}, {"c": 3}) == [
        ("{", "{", SAME),
        ('  "a": 1,', None, REMOVED),
        ('  "b": 2,', None, REMOVED),
        ('  "c": 3', '  "c": 3', SAME),
        ("}", "}", SAME),
    ]
    rows = diff_lines(["x", "a", "b", "y"], ["x", "A", "B", "C", "y"])
    assert [r.mark for r in rows] == [SAME, CHANGED, CHANGED, ADDED, SAME]
    assert rows[3] == Row(None, "C", ADDED)


def test_status_and_error_type_changes_are_reported() -> None:
    ok = Response(js({"ok": True}))
    failed = Response(js({"errorType": "ValueError"}), "error", "ValueError")
    diff = diff_responses(ok, failed)
    assert diff.status == ("success", "error")
    assert diff.error_type == (None, "ValueError")
    assert diff.changed
    same = diff_responses(ok, Response(js({"ok": True})))
    assert same.status is None and same.error_type is None
    assert not same.changed and same.lines_changed == 0


def test_text_that_is_not_json_is_compared_as_text() -> None:
    diff = diff_responses(Response(b"line one\nline two"), Response(b"line one\nline 2"))
    assert [r.mark for r in diff.rows] == [SAME, CHANGED]
    assert pretty_lines(b"") == [""]
    assert pretty_lines(b"\xff") == ["\ufffd"]


def test_a_huge_response_is_compared_on_its_first_lines() -> None:
    lines = pretty_lines(js(list(range(MAX_LINES + 10))))
    assert len(lines) == MAX_LINES + 1
    assert lines[-1] == "… 12 more lines not compared"  # 10 numbers and the closing ]


def test_collapse_keeps_context_around_changes() -> None:
    before = [str(i) for i in range(20)]
    after = list(before)
    after[10] = "ten"
    rows = collapse(diff_lines(before, after), context=2)
    assert rows[0] == 8  # lines 0..7 folded, 8 and 9 kept
    assert [r.left for r in rows[1:3]] == ["8", "9"]  # type: ignore[union-attr]
    assert rows[3] == Row("10", "ten", CHANGED)
    assert [r.left for r in rows[4:6]] == ["11", "12"]  # type: ignore[union-attr]
    assert rows[6] == 7
    unchanged = diff_lines(before, before)
    assert collapse(unchanged) == unchanged  # nothing changed: nothing folded
