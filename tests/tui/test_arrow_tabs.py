"""left/right switch the Log / Lifecycle / Sources tabs wherever their content has the focus,
and leave the keys to widgets that use them (the editor, the log's find box, a table that
scrolls sideways). Pilot, on the real app and on a small app of its own."""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Input, TabbedContent, TabPane, TextArea

from tests.tui.pilot import wait_until
from workbench.tui.app import WorkbenchApp
from workbench.tui.widgets.arrow_tabs import ArrowTabs
from workbench.tui.widgets.editor import EventEditor

from ..helpers import make_function

HELLO = """
def handler(event, context):
    return {"hello": event.get("name")}
"""


def workbench(tmp_path: Path) -> WorkbenchApp:
    root = tmp_path / "functions"
    make_function(root, "hello", HELLO, timeout=5)
    return WorkbenchApp([root], state_dir=tmp_path / "state", isolation="rlimits")


async def test_left_and_right_switch_tabs_from_their_content(tmp_path: Path) -> None:
    app = workbench(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        tabs = app.query_one("#bottom-tabs", TabbedContent)
        await pilot.press("4")  # the log's table
        table = app.focused
        assert isinstance(table, DataTable) and tabs.active == "tab-log"

        await pilot.press("right")
        assert tabs.active == "tab-lifecycle"
        await wait_until(pilot, lambda: app.focused is not table)
        inside = app.focused
        assert inside is not None and tabs.get_pane("tab-lifecycle") in inside.ancestors

        await pilot.press("right")  # again: the focus went along, so the key still works
        assert tabs.active == "tab-sources"
        await wait_until(pilot, lambda: app.focused is not inside)
        assert tabs.get_pane("tab-sources") in app.focused.ancestors_with_self  # type: ignore[union-attr]

        await pilot.press("right")  # round to the first tab: back on the log's table
        assert tabs.active == "tab-log"
        await wait_until(pilot, lambda: app.focused is table)

        await pilot.press("left")
        assert tabs.active == "tab-sources"


async def test_widgets_that_use_left_and_right_keep_them(tmp_path: Path) -> None:
    app = workbench(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        tabs = app.query_one("#bottom-tabs", TabbedContent)
        find = app.query_one("#log Input", Input)
        find.focus()
        await pilot.press("a", "b", "c", "left", "left")
        assert tabs.active == "tab-log" and find.cursor_position == 1  # the cursor moved

        editor = app.query_one(EventEditor).query_one(TextArea)
        editor.focus()
        before = editor.cursor_location
        await pilot.press("right")
        assert editor.cursor_location != before and tabs.active == "tab-log"

        # the functions table (not in the tabs): left/right are not ours there
        await pilot.press("1", "right")
        assert tabs.active == "tab-log"


class Wide(App[None]):
    """A table wider than its tab (it scrolls sideways) beside one that fits."""

    def compose(self) -> ComposeResult:
        with ArrowTabs():
            with TabPane("Wide", id="wide"):
                wide: DataTable[str] = DataTable(id="wide-table", cursor_type="row")
                wide.add_columns(*(f"column {i}" for i in range(20)))
                wide.add_row(*(f"value {i}" for i in range(20)))
                yield wide
            with TabPane("Narrow", id="narrow"):
                narrow: DataTable[str] = DataTable(id="narrow-table", cursor_type="row")
                narrow.add_column("one")
                narrow.add_row("1")
                yield narrow


async def test_a_table_that_scrolls_sideways_keeps_left_and_right() -> None:
    app = Wide()
    async with app.run_test(size=(60, 10)) as pilot:
        tabs = app.query_one(ArrowTabs)
        wide = app.query_one("#wide-table", DataTable)
        wide.focus()
        await pilot.pause()
        assert wide.max_scroll_x > 0
        await pilot.press("right")
        assert tabs.active == "wide"  # it scrolled instead
        await wait_until(pilot, lambda: wide.scroll_x > 0)

        tabs.active = "narrow"
        narrow = app.query_one("#narrow-table", DataTable)
        narrow.focus()
        await pilot.pause()
        await pilot.press("left")  # a table that fits has no use for it: the tab switches
        assert tabs.active == "wide"
        await wait_until(pilot, lambda: app.focused is wide)  # back where the focus was


async def test_a_cell_cursor_keeps_left_and_right() -> None:
    app = Wide()
    async with app.run_test(size=(60, 10)) as pilot:
        tabs = app.query_one(ArrowTabs)
        tabs.active = "narrow"
        narrow = app.query_one("#narrow-table", DataTable)
        narrow.cursor_type = "cell"
        narrow.focus()
        await pilot.pause()
        await pilot.press("left")
        assert tabs.active == "narrow"
