"""The record screen's copy keys: c, i and l copy the response, the request id and the log, as
the response pane's do (same keys, same messages), are in its key bar and in f1; L filters the
log by level (l copies it). Real runtimes; waits poll the app's state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from tests.tui.pilot import wait_until
from workbench.tui.app import WorkbenchApp
from workbench.tui.copy_keys import STORED_RESPONSE_BYTES
from workbench.tui.screens.help import HelpScreen
from workbench.tui.screens.record import RecordScreen
from workbench.tui.widgets.invocation_log import InvocationLog
from workbench.tui.widgets.key_bar import KeyBar

from ..helpers import make_function

TALKER = """
def handler(event, context):
    print("talker got " + str(event.get("name")))
    return {"said": event.get("name"), "pad": "x" * int(event.get("pad", 0))}
"""


@pytest.fixture
def app(tmp_path: Path) -> WorkbenchApp:
    make_function(tmp_path / "functions", "talker", TALKER, timeout=5)
    return WorkbenchApp([tmp_path / "functions"], state_dir=tmp_path / "state")


async def open_from_log(pilot: Pilot, event: dict[str, object]) -> RecordScreen:
    """Invoke ``talker`` with ``event`` and open its record from the log (enter on its row)."""
    app = pilot.app
    assert isinstance(app, WorkbenchApp)
    result = await app.engine.invoke("talker", json.dumps(event), trigger="test")
    log = app.query_one(InvocationLog)
    await wait_until(pilot, lambda: result.record.request_id in log.records)
    log.table.focus()  # its only row
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, RecordScreen))
    screen = app.screen
    assert isinstance(screen, RecordScreen)
    await wait_until(pilot, lambda: screen.record is not None)
    return screen


def notes(app: WorkbenchApp) -> list[tuple[str, str]]:
    return [(n.title, n.message) for n in app._notifications]


async def test_c_i_l_copy_the_record_s_response_request_id_and_log(app: WorkbenchApp) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await open_from_log(pilot, {"name": "ada"})
        record = screen.record
        assert record is not None and record.log_lines
        await pilot.press("c")
        assert json.loads(app.clipboard) == {"said": "ada", "pad": ""}
        await pilot.press("i")
        assert app.clipboard == record.request_id
        await pilot.press("l")
        assert app.clipboard == "\n".join(record.log_lines) + "\n"
        assert "talker got ada" in app.clipboard
        assert screen.log_level is None  # l copies; it no longer filters
        await wait_until(pilot, lambda: len(app._notifications) == 3)
        rid = record.request_id
        assert notes(app) == [
            (
                "Copied",
                f"Copied the response of {rid[:8]} ({len(record.response)} bytes) to the "
                "clipboard.",
            ),
            ("Copied", f"Copied request id {rid} to the clipboard."),
            (
                "Copied",
                f"Copied the log of {rid[:8]} ({len(record.log_lines)} lines) to the clipboard.",
            ),
        ]

        # the key bar names them, and f1 lists them under the screen's keys
        bar = screen.query_one(KeyBar)
        await wait_until(pilot, lambda: "c Copy response" in bar.texts)
        assert "i Copy request id" in bar.texts and "l Copy log" in bar.texts
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        help_text = app.screen.text()
        assert isinstance(app.screen, HelpScreen)
        for line in ("c", "Copy response"), ("i", "Copy request id"), ("l", "Copy log"):
            assert any(
                row.split()[:1] == [line[0]] and line[1] in row for row in help_text.splitlines()
            ), (line, help_text)
        assert "Log level" in help_text  # L, the log's level filter, still listed
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)


async def test_a_long_response_copies_as_stored_and_says_it_may_be_cut(app: WorkbenchApp) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await open_from_log(pilot, {"name": "bo", "pad": 3 * STORED_RESPONSE_BYTES})
        assert screen.record is not None
        await pilot.press("c")
        assert len(app.clipboard.encode()) == STORED_RESPONSE_BYTES  # the store's excerpt
        await wait_until(pilot, lambda: bool(app._notifications))
        [(title, message)] = notes(app)
        assert title == "Copied" and message.endswith(
            f"to the clipboard: a record keeps only a response's first {STORED_RESPONSE_BYTES} "
            "bytes."
        )


async def test_nothing_is_copied_from_a_record_that_is_not_there(app: WorkbenchApp) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        missing = "00000000-0000-4000-8000-00000000dead"
        screen = RecordScreen(missing, engine=app.engine)
        await app.push_screen(screen)
        await wait_until(
            pilot, lambda: "No record" in str(screen.query_one("#record-header", Static).content)
        )
        app.copy_to_clipboard("before")
        await pilot.press("i")
        await wait_until(pilot, lambda: bool(app._notifications))
        [note] = list(app._notifications)
        assert note.title == "Not copied" and note.severity == "warning"
        assert missing in note.message
        assert app.clipboard == "before"
