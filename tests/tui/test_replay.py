"""Replay in the TUI, driven by Pilot: ``r`` on a log row and on a record screen.

Real runtimes; waits poll the app's state. The editor's event is changed after the first
invocation, so a replay that took the editor's event instead of the stored one would show.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import Static

from tests.tui.pilot import wait_until
from workbench.engine import InvocationRecord
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.record import RecordScreen
from workbench.tui.widgets.editor import EventEditor
from workbench.tui.widgets.invocation_log import InvocationLog

from ..helpers import make_function

ECHO = """
def handler(event, context):
    print("echo says " + str(event.get("name")))
    return {"echoed": event.get("name"), "request_id": context.aws_request_id}
"""


@pytest.fixture
def app(tmp_path: Path) -> WorkbenchApp:
    root = tmp_path / "functions"
    make_function(root, "echo", ECHO, timeout=5)
    return WorkbenchApp([root], state_dir=tmp_path / "state")


def newest(app: WorkbenchApp) -> InvocationRecord:
    log = app.query_one(InvocationLog)
    return log.records[log.request_ids()[0]]


def text_of(widget: Static) -> str:
    return str(widget.content)


async def test_r_on_a_log_row_replays_it_into_the_response_pane(app: WorkbenchApp) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        log = app.query_one(InvocationLog)
        editor = app.query_one(EventEditor)
        editor.set_text('{"name": "Ada"}')
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: len(log.records) == 1)
        original = newest(app)
        editor.set_text('{"name": "not this one"}')

        log.table.focus()
        await pilot.press("r")
        await wait_until(pilot, lambda: len(log.records) == 2)
        replayed = newest(app)
        assert replayed.replay_of == original.request_id and replayed.trigger == "replay"
        assert str(log.table.get_row_at(0)[2]) == "replay"  # the Trigger column
        status = app.query_one("#response-status", Static)
        await wait_until(pilot, lambda: "success" in text_of(status))
        assert f"echo replay of {original.request_id[:8]}" in text_of(status)
        shown = json.loads(text_of(app.query_one("#response-body", Static)))
        assert shown == {"echoed": "Ada", "request_id": replayed.request_id}
        # re-run on save (w) takes the replay as echo's last invocation, not a function of its
        # own named after the response pane's label
        assert set(app.main.reruns.previous) == {"echo"}


async def test_the_record_screen_links_a_replay_to_its_original(app: WorkbenchApp) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        log = app.query_one(InvocationLog)
        app.query_one(EventEditor).set_text('{"name": "Bo"}')
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: len(log.records) == 1)
        original = newest(app)
        log.table.focus()
        await pilot.press("r")
        await wait_until(pilot, lambda: len(log.records) == 2)
        replayed = newest(app)

        await pilot.press("enter")  # the newest row: the replay
        await wait_until(pilot, lambda: isinstance(app.screen, RecordScreen))
        screen = app.screen
        assert isinstance(screen, RecordScreen) and screen.request_id == replayed.request_id
        header = text_of(screen.query_one("#record-header", Static))
        assert f"Replay of  {original.request_id}" in header and "Trigger replay" in header
        assert screen.check_action("open_original", ())

        await pilot.press("o")  # the original's record, read from the store
        await wait_until(
            pilot,
            lambda: (
                isinstance(app.screen, RecordScreen)
                and app.screen.record is not None
                and app.screen.request_id == original.request_id
            ),
        )
        first = app.screen
        assert isinstance(first, RecordScreen)
        assert "Replay of" not in text_of(first.query_one("#record-header", Static))
        assert not first.check_action("open_original", ())  # an original has none
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)
        await pilot.click("#record-header", offset=(14, 5))  # the link: "Replay of <id>"
        await wait_until(
            pilot, lambda: getattr(app.screen, "request_id", None) == original.request_id
        )
        first = app.screen
        assert isinstance(first, RecordScreen)

        await pilot.press("r")  # replay from the record screen: back to the workbench
        await wait_until(pilot, lambda: len(log.records) == 3)
        assert not isinstance(app.screen, RecordScreen)
        assert newest(app).replay_of == original.request_id
        await wait_until(
            pilot,
            lambda: newest(app).request_id in text_of(app.query_one("#response-body", Static)),
        )


async def test_replaying_a_record_of_a_function_that_is_gone_says_why(
    app: WorkbenchApp, tmp_path: Path
) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        log = app.query_one(InvocationLog)
        app.engine.store.add(InvocationRecord("gone-0000-0001", "vanished", request="{}"))
        log.post_message(InvocationLog.ReplayRequested("gone-0000-0001"))
        body = app.query_one("#response-body", Static)
        await wait_until(pilot, lambda: "no longer exists" in text_of(body))
        assert "not invoked" in text_of(app.query_one("#response-status", Static))
