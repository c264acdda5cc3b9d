"""The record screen at 80x24: the header's facts wrap between facts, the event and the log are
stacked and each shows several lines (the focused one more), every part scrolls, and ctrl+g
shows the focused part full screen. A snapshot at 80x24 (the record of ``test_log``'s
snapshots, every field fixed), and Pilot for the sizes and keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widgets import Static

from tests.tui.test_log import RID, fixed_lifecycle, fixed_record
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.record import RecordScreen

from ..helpers import make_function

HELLO = """
def handler(event, context):
    return {"hello": event.get("name")}
"""


@pytest.fixture
def app(tmp_path: Path) -> WorkbenchApp:
    root = tmp_path / "functions"
    make_function(root, "orders", HELLO, timeout=5)
    return WorkbenchApp([root], state_dir=tmp_path / "state", isolation="rlimits")


async def open_record(pilot: Pilot) -> RecordScreen:
    record = fixed_record()
    screen = RecordScreen(RID, record, lifecycle=fixed_lifecycle(record))
    await pilot.app.push_screen(screen)
    await pilot.pause()
    return screen


def test_record_screen_at_80x24(snap_compare, app: WorkbenchApp, utc: None) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=open_record)


def shown_lines(box: VerticalScroll) -> int:
    return box.scrollable_content_region.height


async def test_at_80x24_the_event_and_the_log_show_several_lines(app: WorkbenchApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_record(pilot)
        payloads = screen.query_one("#record-payloads", VerticalScroll)
        log = screen.query_one("#record-log-box", VerticalScroll)
        life = screen.query_one("#record-life-box", VerticalScroll)
        for box in (payloads, log, life):
            assert box.region.bottom <= 23  # all of it above the footer
        assert payloads.region.width == log.region.width == 80  # stacked, each full width
        assert payloads.region.bottom <= log.region.y
        assert shown_lines(payloads) >= 3 and shown_lines(log) >= 3
        assert payloads.has_focus and shown_lines(payloads) > shown_lines(log)  # focus: taller
        assert log.max_scroll_y > 0  # the rest of the log scrolls

        # the header's facts wrap between facts: "Max Memory 48/512 MB" stays on one line
        lines = str(screen.query_one("#record-header", Static).content).splitlines()
        assert any("Max Memory 48/512 MB" in line for line in lines)
        assert all(len(line) <= 78 for line in lines)  # each fits: none wraps inside a fact

        await pilot.press("tab")  # the log has the focus: it is the taller now
        assert log.has_focus and shown_lines(log) > shown_lines(payloads) >= 3
        await pilot.press("end")
        assert log.scroll_y == log.max_scroll_y

        await pilot.press("ctrl+g")  # the log, full screen
        assert screen.maximized is log
        await pilot.pause()
        assert log.region.height >= 20 and not payloads.region.height
        await pilot.press("ctrl+g")  # and back
        await pilot.pause()
        assert screen.maximized is None and payloads.region.height >= 5


@pytest.mark.parametrize("size", [(120, 40), (160, 45)])
async def test_wide_screens_keep_the_event_and_log_side_by_side(
    app: WorkbenchApp, size: tuple[int, int]
) -> None:
    async with app.run_test(size=size) as pilot:
        screen = await open_record(pilot)
        payloads = screen.query_one("#record-payloads", VerticalScroll)
        log = screen.query_one("#record-log-box", VerticalScroll)
        assert payloads.region.y == log.region.y and payloads.region.right <= log.region.x
        assert screen.query_one("#record-life-box").region.height == 12
