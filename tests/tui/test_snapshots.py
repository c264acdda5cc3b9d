"""Snapshot tests of the key screens (pytest-textual-snapshot; Textual is pinned exactly).

Only screens whose content is deterministic are snapshotted: before any invoke, the help screen,
a refused (invalid JSON) invoke, versions and aliases under a function (an alias selected: a
version's details hold its creation time). Request ids, times, durations and memory differ on
every run, so the screen after a real invocation is checked with Pilot in ``test_app.py``.
Regenerate after an intended change with ``pytest tests/tui/test_snapshots.py --snapshot-update``
and look at the SVGs before committing them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import TextArea

from tests.tui.pilot import wait_until
from tests.tui.test_log import made_up
from workbench.engine import Engine, EngineSettings, InvokeEnd
from workbench.tui.app import WorkbenchApp
from workbench.tui.bridge import EngineEvents
from workbench.tui.screens.help import HelpScreen
from workbench.tui.widgets.editor import EventEditor
from workbench.tui.widgets.functions import FunctionsPane
from workbench.tui.widgets.invocation_log import InvocationLog

from ..helpers import make_function

SIZES = [(80, 24), (120, 40), (160, 45), (200, 50)]

HELLO = """
def handler(event, context):
    return {"greeting": "hello " + str(event.get("name"))}
"""

HOWDY = """
def handler(event, context):
    return {"greeting": "howdy " + str(event.get("name"))}
"""


@pytest.fixture
def app(tmp_path: Path) -> WorkbenchApp:
    root = tmp_path / "functions"
    make_function(root, "hello", HELLO, timeout=5, description="Returns a greeting")
    make_function(root, "orders", HELLO, memory_size=512, timeout=30, reserved_concurrency=5)
    make_function(root, "reports", HELLO, memory_size=1024, timeout=60)
    return WorkbenchApp([root], state_dir=tmp_path / "state", isolation="rlimits")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen(snap_compare, app: WorkbenchApp, size: tuple[int, int]) -> None:
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help_screen(snap_compare, app: WorkbenchApp, size: tuple[int, int]) -> None:
    async def open_help(pilot: Pilot) -> None:
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(pilot.app.screen, HelpScreen)

    assert snap_compare(app, terminal_size=size, run_before=open_help)


def test_zoomed_editor(snap_compare, app: WorkbenchApp) -> None:
    """ctrl+g at 80x24: the editor, toolbar and all, fills the screen above the footer."""

    async def zoom_editor(pilot: Pilot) -> None:
        text = pilot.app.query_one("#event-text", TextArea)
        text.cursor_blink = False  # drawn steadily: a blink under load would change the snapshot
        text.focus()
        await pilot.press("ctrl+g")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=zoom_editor)


def test_invalid_json_refused(snap_compare, app: WorkbenchApp) -> None:
    async def invoke_bad_json(pilot: Pilot) -> None:
        pilot.app.query_one(EventEditor).set_text('{\n  "name": "world",\n}\n')
        await pilot.pause()
        await pilot.press("ctrl+r")
        await pilot.pause()
        pilot.app.clear_notifications()  # the toast says the same; it would time out mid-run
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 40), run_before=invoke_bad_json)


@pytest.fixture
def published(tmp_path: Path) -> WorkbenchApp:
    """hello with versions 1 and 2, an alias sending 10 % to 1, and one on $LATEST."""
    root = tmp_path / "functions"
    make_function(root, "hello", HELLO, timeout=5, description="Returns a greeting")
    make_function(root, "orders", HELLO, memory_size=512, timeout=30)
    settings = EngineSettings(state_dir=tmp_path / "state")

    async def prepare() -> None:
        async with Engine([root], settings) as engine:
            await engine.publish("hello", "first")
            make_function(root, "hello", HOWDY, timeout=5, description="Returns a greeting")
            engine.load_functions()
            await engine.publish("hello", "howdy")
            engine.create_alias("hello", "live", "2", routing={"1": 0.1}, description="prod")
            engine.create_alias("hello", "dev", "$LATEST")

    asyncio.run(prepare())
    return WorkbenchApp([root], state_dir=tmp_path / "state", isolation="rlimits")


def test_versions_and_aliases_under_a_function(snap_compare, published: WorkbenchApp) -> None:
    async def select_live(pilot: Pilot) -> None:
        await pilot.pause()
        await pilot.press("down", "down", "down", "down")  # v1, v2, @dev, @live
        await pilot.pause()
        assert pilot.app.query_one(FunctionsPane).selected_key == "hello:live"

    assert snap_compare(published, terminal_size=(160, 45), run_before=select_live)


def test_log_with_the_focus_at_80x24(snap_compare, app: WorkbenchApp, utc: None) -> None:
    """At 80x24 the log with the focus (4) takes the height, a dozen rows; the panes above keep
    their titles (and keys)."""

    async def fill_and_focus(pilot: Pilot) -> None:
        log = pilot.app.query_one(InvocationLog)
        await wait_until(pilot, lambda: not log.searching)  # the (empty) history read
        records = [made_up(i, "hello" if i % 3 else "orders") for i in range(14)]
        pilot.app.on_engine_events(EngineEvents([InvokeEnd(r) for r in records]))
        log.flush()
        await pilot.press("4")
        await wait_until(pilot, lambda: log.table.row_count == 14)
        await wait_until(pilot, lambda: log.table.region.height >= 10)

    assert snap_compare(app, terminal_size=(80, 24), run_before=fill_and_focus)
