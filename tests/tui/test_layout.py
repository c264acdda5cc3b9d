"""The layout at every size, and zoom (ctrl+g): one pane full screen, the same key gives it back.

Region sizes are asserted with Pilot (the snapshots in test_snapshots.py show how it looks).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widget import Widget
from textual.widgets import TextArea

from tests.tui.pilot import wait_until
from workbench.tui.app import WorkbenchApp
from workbench.tui.widgets.functions import FunctionsPane

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


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 50)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_every_pane_is_usable_at_each_size(app: WorkbenchApp, size: tuple[int, int]) -> None:
    width, height = size
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: app.query_one(FunctionsPane).selected == "hello")
        for selector in PANES:
            r = region(app, selector)
            assert r.width >= 20 and r.height >= 8, (selector, r)
            assert r.right <= width and r.bottom <= height, (selector, r)
        # the editor and response share what the functions pane leaves, evenly
        assert abs(region(app, "#editor").width - region(app, "#response").width) <= 1
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
        before = {s: region(app, s) for s in PANES}
        app.query_one(focus, Widget).focus()
        await pilot.pause()
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
