"""Moving around: 1-5 focus a pane (shown in the footer), j/k move a table's cursor, and a
text field keeps those keys as typing."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.color import Color
from textual.widget import Widget
from textual.widgets import DataTable, TabbedContent, TextArea

from tests.tui.pilot import wait_until
from workbench.tui.app import WorkbenchApp
from workbench.tui.widgets.functions import FunctionsPane
from workbench.tui.zoom import pane_of

from ..helpers import make_function

HELLO = """
def handler(event, context):
    return {"greeting": "hello"}
"""


@pytest.fixture
def app(tmp_path: Path) -> WorkbenchApp:
    root = tmp_path / "functions"
    for name in ("alpha", "beta", "gamma"):
        make_function(root, name, HELLO, timeout=5)
    return WorkbenchApp([root], state_dir=tmp_path / "state", isolation="rlimits")


async def started(app: WorkbenchApp, pilot) -> None:  # noqa: ANN001 - textual's Pilot
    await wait_until(pilot, lambda: app.query_one(FunctionsPane).selected == "alpha")


@pytest.mark.parametrize(
    ("key", "pane", "tab"),
    [
        ("2", "editor", None),
        ("3", "response", None),
        ("4", "bottom-tabs", "tab-log"),
        ("5", "bottom-tabs", "tab-sources"),
    ],
)
async def test_digit_focuses_its_pane(app: WorkbenchApp, key: str, pane: str, tab: str | None):
    async with app.run_test(size=(120, 40)) as pilot:
        await started(app, pilot)
        assert pane_of(app.focused).id == "functions"
        await pilot.press(key)
        await pilot.pause()
        assert app.focused is not None and pane_of(app.focused).id == pane
        if tab is not None:
            assert app.query_one("#bottom-tabs", TabbedContent).active == tab
        if key != "2":  # from anywhere but a text field, 1 comes back to the functions
            await pilot.press("1")
            await pilot.pause()
            assert app.focused is app.query_one("#functions-table", DataTable)


async def test_digits_and_letters_type_in_the_editor(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await started(app, pilot)
        await pilot.press("2")
        await pilot.pause()
        area = app.query_one("#event-text", TextArea)
        assert app.focused is area
        area.text = ""
        await pilot.press("1", "j", "k", "4")
        await pilot.pause()
        assert area.text == "1jk4"
        assert app.focused is area


async def test_pane_keys_are_in_the_footer(app: WorkbenchApp) -> None:
    async with app.run_test(size=(200, 50)) as pilot:
        await started(app, pilot)
        shown = {b.key for (_, b, enabled, _) in app.screen.active_bindings.values() if b.show}
        assert {"1", "2", "3", "4", "5"} <= shown


async def test_the_focused_pane_has_the_accent_border_and_the_others_their_own(
    app: WorkbenchApp,
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await started(app, pilot)
        accent = Color.parse(app.theme_variables["accent"])
        functions = app.screen.query_one("#functions")
        tabs = app.screen.query_one("#bottom-tabs")
        assert functions.styles.border_top == ("round", accent)
        unfocused = tabs.styles.border_top
        assert unfocused[1] != accent
        await pilot.press("4")
        await wait_until(pilot, lambda: tabs.styles.border_top == ("round", accent))
        assert functions.styles.border_top == unfocused  # back to the stylesheet's


async def test_j_and_k_move_the_functions_cursor(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await started(app, pilot)
        await pilot.press("j")
        await wait_until(pilot, lambda: app.query_one(FunctionsPane).selected == "beta")
        await pilot.press("j")
        await wait_until(pilot, lambda: app.query_one(FunctionsPane).selected == "gamma")
        await pilot.press("k")
        await wait_until(pilot, lambda: app.query_one(FunctionsPane).selected == "beta")


async def test_a_pane_key_unzooms_another_pane(app: WorkbenchApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await started(app, pilot)
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert app.screen.maximized is app.query_one("#functions", Widget)
        await pilot.press("4")
        await pilot.pause()
        assert app.screen.maximized is None
        assert pane_of(app.focused).id == "bottom-tabs"


async def test_tab_leaves_the_editor_and_ctrl_t_indents(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await started(app, pilot)
        await pilot.press("2")
        await pilot.pause()
        area = app.query_one("#event-text", TextArea)
        area.text = "{}"
        area.move_cursor((0, 1))
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert area.text == "{   }"  # to the next stop of the code editor's indent width (4)
        await pilot.press("tab")
        await pilot.pause()
        assert area.text == "{   }"  # not indented: the focus left
        assert app.focused is not area and pane_of(app.focused).id != "editor"
