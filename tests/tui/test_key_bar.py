"""The key bar: the keys that work now on one line, Invoke first and help / palette at the
right whatever the width, "…" for what does not fit, a click presses the key."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from workbench.tui.app import WorkbenchApp
from workbench.tui.widgets.key_bar import KeyBar, ShownKey, arrange

from ..helpers import make_function
from .pilot import wait_until


def key(k: str, description: str, action: str = "", enabled: bool = True) -> ShownKey:
    return ShownKey(k, k, description, enabled, action or description.lower())


def test_everything_fits_on_a_wide_line() -> None:
    keys = [key("a", "One"), key("b", "Two")]
    tail = [key("f1", "Help", "help")]
    placed = arrange(keys, tail, 60)
    assert [(k.display if k else None, s) for k, s, _ in placed] == [
        ("a", 1),
        ("b", 8),
        ("f1", 52),  # at the right end
    ]


def test_what_does_not_fit_is_cut_with_an_ellipsis_and_the_tail_stays() -> None:
    keys = [key(str(i), f"Action{i}") for i in range(10)]
    tail = [key("f1", "Help", "help"), key("^p", "palette", "command_palette")]
    placed = arrange(keys, tail, 50)
    shown = [k.display if k else "…" for k, _, _ in placed]
    assert shown[-2:] == ["f1", "^p"] and "…" in shown
    assert all(end <= 50 for _k, _s, end in placed)
    starts = [s for _k, s, _e in placed]
    assert starts == sorted(starts)  # nothing overlaps
    ends = [e for _k, _s, e in placed]
    assert all(e < s for e, s in zip(ends, starts[1:], strict=False))


async def test_invoke_help_and_the_focused_panes_keys_show_at_80_columns(
    tmp_path: Path,
) -> None:
    root = tmp_path / "functions"
    make_function(root, "hello", "def handler(event, context):\n    return 'hi'\n")
    app = WorkbenchApp([root], state_dir=tmp_path / "state")
    async with app.run_test(size=(80, 24)) as pilot:
        bar = app.screen.query_one(KeyBar)
        await wait_until(pilot, lambda: bool(bar.texts))
        texts = bar.texts
        assert texts[0] == "^r Invoke"
        assert texts[-2:] == ["f1 Help", "^p palette"]
        assert "p Publish" in texts  # the functions table is focused: its keys
        # a click on "^r Invoke" invokes
        [(start, _end)] = [(s, e) for k, s, e in bar._placed if k and k.description == "Invoke"]
        await pilot.click(KeyBar, offset=(start + 1, 0))
        await wait_until(
            pilot, lambda: "Duration" in str(app.query_one("#response-status", Static).content)
        )
