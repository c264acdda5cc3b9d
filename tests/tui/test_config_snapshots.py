"""Snapshots of the configuration and topic dialogs at 80x24, each with a refusal shown beside
its field: the smallest terminal must still show every field, the message and the buttons.
Regenerate after an intended change with ``--snapshot-update`` and look at the SVGs first.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select

from workbench.tui.app import WorkbenchApp
from workbench.tui.dialogs.configure import ConfigureDialog
from workbench.tui.dialogs.topic_publish import TopicDialog

from ..helpers import make_function

HELLO = """
def handler(event, context):
    return {"greeting": "hello"}
"""


@pytest.fixture
def app(tmp_path: Path) -> WorkbenchApp:
    root = tmp_path / "functions"
    make_function(
        root,
        "hello",
        HELLO,
        timeout=5,
        environment={"STAGE": "dev", "TABLE": "orders"},
        triggers=[{"type": "sns", "topic": "alerts"}],
    )
    return WorkbenchApp([root], state_dir=tmp_path / "state", isolation="rlimits")


def test_configure_dialog_with_a_refused_memory_size(snap_compare, app: WorkbenchApp) -> None:
    async def refuse(pilot: Pilot) -> None:
        pilot.app.query_one("#functions-table").focus()
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(pilot.app.screen, ConfigureDialog)
        pilot.app.screen.query_one("#config-memory", Input).value = "64"
        await pilot.press("ctrl+s")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=refuse)


def test_topic_dialog_with_a_refused_number(snap_compare, app: WorkbenchApp) -> None:
    async def refuse(pilot: Pilot) -> None:
        await pilot.press("ctrl+b")
        await pilot.pause()
        dialog = pilot.app.screen
        assert isinstance(dialog, TopicDialog)
        dialog.query_one("#topic-subject", Input).value = "Disk alarm"
        dialog.query_one("#message-body", Input).value = "disk full"
        row = dialog.shown_rows()[0]
        row.query_one(".attr-name", Input).value = "used"
        row.query_one(".attr-type", Select).value = "Number"
        row.query_one(".attr-value", Input).value = "ninety"
        dialog.query_one("#message-body", Input).focus()
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=refuse)
