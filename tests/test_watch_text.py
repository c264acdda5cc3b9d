"""What ``workbench watch`` prints for a comparison: side by side, unified, colour or not."""

from __future__ import annotations

import json

from workbench.cli.watch_text import (
    RESET,
    diff_text,
    fit,
    side_by_side,
    status_text,
    unified,
)
from workbench.engine.invoke.response_diff import Response, diff_responses


def diff(before: object, after: object):  # noqa: ANN201
    return diff_responses(
        Response(json.dumps(before).encode()), Response(json.dumps(after).encode())
    )


def test_side_by_side_marks_changed_added_and_removed_lines_without_colour() -> None:
    lines = side_by_side(diff({"a": 1, "b": 2}, {"a": 10, "c": 3, "d": 4}), 80, colour=False)
    assert lines == [
        "previous    now",
        "{           {",
        '  "a": 1, |   "a": 10,',
        '  "b": 2  |   "c": 3,',
        '          >   "d": 4',
        "}           }",
    ]
    assert not any(RESET in line for line in lines)


def test_unified_puts_the_previous_lines_before_the_new() -> None:
    assert unified(diff({"a": 1, "b": 2}, {"a": 10, "b": 2}), colour=False) == [
        "  {",
        '-   "a": 1,',
        '+   "a": 10,',
        '    "b": 2',
        "  }",
    ]


def test_the_terminal_width_picks_the_form_and_colour_is_added_on_request() -> None:
    changed = diff({"a": 1}, {"a": 2})
    assert diff_text(changed, 100, colour=False)[0].startswith("previous")
    assert diff_text(changed, 40, colour=False)[1] == '-   "a": 1'
    coloured = diff_text(changed, 100, colour=True)
    assert any("\x1b[31m" in line and "\x1b[32m" in line for line in coloured)
    assert diff_text(diff({"a": 1}, {"a": 1}), 100, colour=False) == [
        "response unchanged (3 lines)"
    ]


def test_long_lines_are_cut_to_the_column() -> None:
    assert fit("abcdef", 4) == "abc…" and fit("abc", 4) == "abc"
    lines = side_by_side(diff({"k": "x" * 200}, {"k": "y" * 200}), 70, colour=False)
    assert all(len(line) <= 70 for line in lines)
    assert lines[2][34] == "|"  # after the 33 columns of the left side and a space


def test_status_text_says_what_it_was_when_it_changed() -> None:
    ok = Response(b"{}")
    failed = Response(b"{}", "error", "ValueError")
    assert status_text(None, "success", None) == "success"
    assert status_text(diff_responses(ok, failed), "error", "ValueError") == (
        "success → error (ValueError)"
    )
    assert status_text(diff_responses(ok, ok), "success", None) == "success"
