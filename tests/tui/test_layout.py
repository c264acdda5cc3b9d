"""The layout at every size, and zoom (ctrl+g): one pane full screen, the same key gives it back.

Region sizes are asserted with Pilot (the snapshots in test_snapshots.py show how it looks).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.widget import Widget
from textual.widgets import DataTable, Static, TextArea

from tests.tui.pilot import wait_until
from workbench.tui.app import WorkbenchApp
from workbench.tui.dialogs.configure import ConfigureDialog
from workbench.tui.widgets.functions import FunctionsPane
from workbench.tui.widgets.invocation_log import COLUMNS as LOG_COLUMNS
from workbench.tui.widgets.invocation_log import InvocationLog

from ..helpers import make_function

HELLO = """
def handler(event, context):
    return {"greeting": "hello " + str(event.get("name"))}
"""

PANES = ("#functions", "#editor", "#response", "#bottom-tabs")


@pytest.fixture
def app(tmp_path: Path) -> WorkbenchApp:
    root = tmp_path / "functions"
    make_function(root, "hello", HELLO, timeout=5)
    make_function(root, "orders", HELLO, timeout=5)
    return WorkbenchApp([root], state_dir=tmp_path / "state", isolation="rlimits")


def region(app: WorkbenchApp, selector: str):  # noqa: ANN201 - textual's Region
    return app.query_one(selector, Widget).region


@pytest.mark.parametrize("size", [(80, 40), (120, 40), (200, 50)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_every_pane_is_usable_at_each_size(app: WorkbenchApp, size: tuple[int, int]) -> None:
    width, height = size
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: app.query_one(FunctionsPane).selected == "hello")
        for selector in PANES:
            r = region(app, selector)
            assert r.width >= 20 and r.height >= 8, (selector, r)
            assert r.right <= width and r.bottom <= height, (selector, r)
        # the editor and response share what the functions pane leaves, evenly: side by side,
        # or under 100 columns stacked, each as wide as the functions pane leaves
        editor, response = region(app, "#editor"), region(app, "#response")
        if width < 100:
            assert editor.width == response.width == width - region(app, "#functions").width
            assert editor.bottom == response.y and abs(editor.height - response.height) <= 1
        else:
            assert abs(editor.width - response.width) <= 1
        # the event text has room for a line of JSON, the functions table for its rows
        assert region(app, "#event-text").width >= 18
        assert region(app, "#functions-table").height >= 5
        assert region(app, "#template").width >= 14  # "Template…  ▼" reads, at any width
        gauge = app.query_one("#gauge-box", Widget)
        if width < 100:  # the log takes the whole width; the gauge's numbers are in its rows
            assert not gauge.display
            assert region(app, "#bottom-tabs").width == width
        else:
            assert gauge.display and region(app, "#gauge-box").width >= 20
        if width >= 180:
            assert region(app, "#functions").width == 64


async def test_at_80x24_the_focused_half_takes_the_height(app: WorkbenchApp) -> None:
    """lazygit's way at 80x24: the panes above (functions, event, response) or the log's tabs
    below take the height as they take the focus, the others keep their titles; the event and
    the response are stacked, each the width the names-only functions pane leaves."""
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.query_one(FunctionsPane).selected == "hello")
        # the functions pane has the focus at start: the panes above take the height
        assert region(app, "#functions").height >= 15
        text, response = region(app, "#event-text"), region(app, "#response")
        assert text.height >= 4 and text.width >= 48  # 23 columns when side by side
        assert response.height >= 8 and response.width >= 52
        assert region(app, "#template").width >= 14
        tabs = region(app, "#bottom-tabs")
        assert tabs.height <= 5 and tabs.bottom <= 23  # its tabs' names, above the key bar
        assert app.query_one("#editor", Widget).border_title == "2 Event"  # its key

        await pilot.press("4")  # the log: it takes the height, the panes above keep a title
        table = app.query_one("#log DataTable", Widget)
        await wait_until(pilot, lambda: table.region.height >= 10)  # its header and 9+ rows
        assert region(app, "#bottom-tabs").bottom <= 23
        for selector, title in (("#editor", "2 Event"), ("#response", "3 Response")):
            assert 2 <= region(app, selector).height <= 4
            assert app.query_one(selector, Widget).border_title == title

        await pilot.press("3")  # the response: the editor folds to its title line
        await wait_until(pilot, lambda: region(app, "#response").height >= 15)
        assert region(app, "#editor").height == 2

        await pilot.press("2")  # the editor: it and the response share the height
        await wait_until(pilot, lambda: region(app, "#event-text").height >= 4)
        assert region(app, "#response").height >= 8
        assert app.focused is app.query_one("#event-text", Widget)

        table.focus()  # the log unfolded (4 would type into the editor), then a larger terminal
        await wait_until(pilot, lambda: region(app, "#editor").height == 2)
        await pilot.resize_terminal(160, 45)
        await wait_until(pilot, lambda: region(app, "#editor").y == region(app, "#response").y)
        assert region(app, "#editor").height == region(app, "#response").height >= 15
        assert app.query_one("#editor", Widget).border_title is None  # no titles with room
        await pilot.resize_terminal(80, 24)  # and small again: folded as the focus asks
        await wait_until(pilot, lambda: region(app, "#editor").height == 2)
        assert table.region.height >= 10


@pytest.mark.parametrize(
    ("focus", "pane"),
    [
        ("#functions-table", "#functions"),
        ("#event-text", "#editor"),
        ("#log DataTable", "#bottom-tabs"),
    ],
)
async def test_ctrl_g_zooms_the_focused_pane_and_back(
    app: WorkbenchApp, focus: str, pane: str
) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.query_one(FunctionsPane).selected == "hello")
        app.query_one(focus, Widget).focus()
        await wait_until(pilot, lambda: region(app, pane).height >= 8)  # the focus's size
        before = {s: region(app, s) for s in PANES}  # as the focus sizes them (pane_sizes.py)
        await pilot.press("ctrl+g")
        await pilot.pause()
        zoomed = app.query_one(pane, Widget)
        assert app.screen.maximized is zoomed
        # the whole width, and every row but the footer's
        assert zoomed.region.width == 80 and zoomed.region.height >= 22
        for other in PANES:
            if other != pane:
                assert not app.query_one(other, Widget).region.area, other
        if focus == "#event-text":  # the editor keeps the key: ctrl+g does not type into it
            assert "\x07" not in app.query_one("#event-text", TextArea).text
        assert app.focused is app.query_one(focus, Widget)  # the focus stays where it was
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert app.screen.maximized is None
        assert {s: region(app, s) for s in PANES} == before


async def test_zoomed_pane_keeps_its_keys(app: WorkbenchApp) -> None:
    """Zoomed, the functions pane still moves its selection (and the editor follows it)."""
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.query_one(FunctionsPane).selected == "hello")
        app.query_one("#functions-table", Widget).focus()
        await pilot.press("ctrl+g", "down")
        await wait_until(pilot, lambda: app.query_one(FunctionsPane).selected == "orders")
        assert app.screen.maximized is app.query_one("#functions", Widget)


def lines_of(app: WorkbenchApp, selector: str) -> list[str]:
    return str(app.query_one(selector, Static).content).splitlines()


FIELDS = ("Duration", "Billed", "Max Memory", "Init Duration")


@pytest.mark.parametrize(
    ("size", "names_only", "log_columns"),
    [
        ((80, 24), True, ["time", "function", "trigger", "status", "duration"]),
        ((120, 40), False, ["time", "function", "trigger", "request", "status", "duration"]),
        ((200, 50), False, [key for _, key, _ in LOG_COLUMNS]),
    ],
    ids=["80x24", "120x40", "200x50"],
)
async def test_narrow_columns_give_way_before_the_function_column(
    app: WorkbenchApp, size: tuple[int, int], names_only: bool, log_columns: list[str]
) -> None:
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: app.query_one(FunctionsPane).selected == "hello")
        await pilot.press("ctrl+r")
        log = app.query_one(InvocationLog)
        await wait_until(pilot, lambda: log.table.row_count == 1)
        functions = app.query_one("#functions-table", DataTable)
        shown = [str(c.key.value) for c in functions.ordered_columns]
        assert shown == (["name"] if names_only else ["name", "runtime", "warm", "last"])
        assert [str(c.key.value) for c in log.table.ordered_columns] == log_columns
        # what is shown fits: no column cut at the table's edge
        widths = sum(c.get_render_width(log.table) for c in log.table.ordered_columns)
        assert widths <= log.table.size.width
        # the room the shown columns leave goes to the Function column, up to 14 more cells
        [function] = [c for c in log.table.ordered_columns if c.key.value == "function"]
        room = log.table.size.width - widths
        assert function.width == 18 + 14 or (function.width >= 18 and room < 2 + 14)
        if size == (200, 50):
            assert function.width == 32  # "nightly-report:$LATEST" whole
        row = [str(cell) for cell in log.table.get_row_at(0)]
        assert row[1] == "hello:$LATEST" and "success" in row


async def test_a_zoomed_pane_shows_the_columns_its_width_has_room_for(app: WorkbenchApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.query_one(FunctionsPane).selected == "hello")
        table = app.query_one("#functions-table", DataTable)
        table.focus()
        await pilot.press("down")  # orders: the selection survives the columns changing
        await wait_until(pilot, lambda: app.query_one(FunctionsPane).selected == "orders")
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: len(table.ordered_columns) == 4)
        assert app.query_one(FunctionsPane).selected == "orders"
        assert str(table.get_cell("orders", "runtime")).startswith("python3")
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: len(table.ordered_columns) == 1)
        assert app.query_one(FunctionsPane).selected == "orders"
        assert table.cursor_row == 1


async def test_a_zoomed_log_shows_more_of_its_columns(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.query_one(FunctionsPane).selected == "hello")
        log = app.query_one(InvocationLog)
        before = [str(c.key.value) for c in log.table.ordered_columns]
        assert "billed" not in before
        log.table.focus()
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: len(log.table.ordered_columns) > len(before))
        after = [str(c.key.value) for c in log.table.ordered_columns]
        assert set(before) < set(after) and {"billed", "memory", "start"} <= set(after)
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: len(log.table.ordered_columns) == len(before))


async def test_status_lines_wrap_between_fields_never_inside_one(app: WorkbenchApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.query_one(FunctionsPane).selected == "hello")
        await pilot.press("ctrl+r")
        await wait_until(
            pilot, lambda: "Duration" in str(app.query_one("#response-status", Static).content)
        )
        status = app.query_one("#response-status", Static)
        narrow = lines_of(app, "#response-status")
        assert len(narrow) > 2  # it did wrap, at this width
        width = status.size.width
        for line in narrow:
            assert len(line) <= width, (line, width)
            assert not line.startswith(("ms", "MB")), narrow  # no unit left from its number
        for name in FIELDS:  # each field on one line, or its name above its value and unit
            whole = rf"(^|  ){name} [\d./]+ (ms|MB)"
            parted = rf"^{name}\n[\d./]+ (ms|MB)(  |$)"
            assert re.search(whole, "\n".join(narrow), re.M) or re.search(
                parted, "\n".join(narrow), re.M
            ), (name, narrow)
        detail = lines_of(app, "#function-detail")
        assert any("/tmp 512 MB" in line for line in detail), detail
        # zoomed, the same status takes the width: fewer lines, the fields still whole
        app.query_one("#response-scroll", Widget).focus()
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: len(lines_of(app, "#response-status")) < len(narrow))
        wide = " ".join(lines_of(app, "#response-status"))
        assert all(re.search(rf"{name} [\d./]+ (ms|MB)", wide) for name in FIELDS), wide


async def test_columns_fit_their_cells_after_a_resize_right_after_the_configure_dialog(
    app: WorkbenchApp,
) -> None:
    """Reported in tmux: c, escape, then 80 -> 160 within half a second left every column of
    the functions table at its label's width ("broken-i  python3"). Not reproduced here, in
    Pilot or tmux; this pins the sequence: the resize arrives while the dialog is dismissed."""
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(FunctionsPane)
        await wait_until(pilot, lambda: pane.selected == "hello")
        table = app.query_one("#functions-table", DataTable)
        table.focus()
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfigureDialog))
        await pilot.press("escape")
        await pilot.resize_terminal(160, 45)  # no wait: the dialog is still on its way out
        await wait_until(pilot, lambda: len(table.ordered_columns) == 4)

        def whole() -> bool:  # every cell as wide as its column's content, none cut
            for column in table.ordered_columns:
                cells = [str(c) for c in table.get_column(column.key)]
                if column.content_width < max(len(c) for c in [*cells, str(column.label)]):
                    return False
            return True

        await wait_until(pilot, whole)
        runtime = table.get_column_index("runtime")
        assert str(table.get_row_at(0)[runtime]).startswith("python3.")
        assert table.ordered_columns[runtime].content_width > len("Runtime")
        assert sum(c.get_render_width(table) for c in table.ordered_columns) <= table.size.width


@pytest.mark.parametrize(
    ("size", "classes"),
    [
        ((80, 24), {"-narrow", "-short"}),
        ((120, 40), {"-medium", "-tall"}),
        ((200, 50), {"-wide", "-tall"}),
    ],
    ids=lambda v: f"{v[0]}x{v[1]}" if isinstance(v, tuple) else None,
)
async def test_the_start_styles_each_widget_as_it_mounts_and_not_again(
    app: WorkbenchApp,
    size: tuple[int, int],
    classes: set[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The main screen composes with its size's breakpoint classes (breakpoints.py): Textual's
    first resize then finds them set and restyles nothing, where it restyled the whole screen
    (~100 widgets) before the first frame; and its first resume, the app's start, does not
    style again what was styled as it mounted. So no pass over the whole screen is made at the
    start, where there were two (each widget is styled as it mounts)."""
    from textual.css.stylesheet import Stylesheet

    restyled: list[int] = []
    update_nodes = Stylesheet.update_nodes

    def counted(self: Stylesheet, nodes, animate: bool = False) -> None:  # noqa: ANN001
        nodes = list(nodes)
        restyled.append(len(nodes))
        update_nodes(self, nodes, animate)

    monkeypatch.setattr(Stylesheet, "update_nodes", counted)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: app.query_one(FunctionsPane).selected == "hello")
        screen = app.main
        assert {c for c in screen.classes if c.startswith("-")} == classes
        whole = len(list(screen.walk_children(with_self=True)))
        # (small ones for single widgets: a focus, a class a widget sets itself)
        assert not [n for n in restyled if n > whole // 2], (restyled, whole)
