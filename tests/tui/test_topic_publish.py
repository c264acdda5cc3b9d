"""Publishing to a topic from the TUI (ctrl+b) with a subject and typed message attributes,
driven by Pilot against a real engine: the subscriber runs with them in its SNS event, and what
SNS refuses is refused beside its field with nothing published.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import Button, Input, Select, Static

from tests.tui.pilot import wait_until
from workbench.engine.sources import MAX_MESSAGE_BYTES
from workbench.tui.app import WorkbenchApp
from workbench.tui.dialogs.topic_publish import AttributeRow, TopicDialog
from workbench.tui.widgets.invocation_log import InvocationLog

from ..helpers import make_function

SIZE = (160, 45)
ECHO = """
def handler(event, context):
    return {"ok": True}
"""


@pytest.fixture
def app(tmp_path: Path) -> WorkbenchApp:
    root = tmp_path / "functions"
    make_function(root, "alarm", ECHO, timeout=5, triggers=[{"type": "sns", "topic": "alerts"}])
    return WorkbenchApp([root], state_dir=tmp_path / "state")


def rows(app: WorkbenchApp) -> list[AttributeRow]:
    """The attribute rows shown."""
    assert isinstance(app.screen, TopicDialog)
    return app.screen.shown_rows()


def fill(row: AttributeRow, name: str, kind: str, value: str) -> None:
    row.query_one(".attr-name", Input).value = name
    row.query_one(".attr-type", Select).value = kind
    row.query_one(".attr-value", Input).value = value


def error_of(app: WorkbenchApp, key: str) -> str:
    error = app.screen.query_one(f"#{key}-error", Static)
    return "" if error.has_class("hidden") else str(error.content)


async def add_rows(pilot, app: WorkbenchApp, count: int) -> None:  # type: ignore[no-untyped-def]
    for _ in range(count):
        before = len(rows(app))
        app.screen.query_one("#topic-add", Button).press()
        await wait_until(pilot, lambda b=before: len(rows(app)) == b + 1)


async def open_dialog(pilot, app: WorkbenchApp) -> TopicDialog:  # type: ignore[no-untyped-def]
    await pilot.press("ctrl+b")
    await wait_until(pilot, lambda: isinstance(app.screen, TopicDialog))
    assert isinstance(app.screen, TopicDialog)
    return app.screen


async def test_a_subject_and_typed_attributes_reach_the_subscriber(app: WorkbenchApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_dialog(pilot, app)
        assert dialog.query_one("#message-target", Input).value == "alerts"  # the only topic
        dialog.query_one("#topic-subject", Input).value = "Disk alarm"
        await add_rows(pilot, app, 3)
        first, second, third, fourth = rows(app)
        fill(first, "host", "String", "web-1")
        fill(second, "used", "Number", "97.5")
        fill(third, "disks", "String.Array", '["sda", "sdb"]')
        fill(fourth, "raw", "Binary", "aGVsbG8=")
        dialog.query_one("#message-body", Input).focus()
        await pilot.press(*"disk full", "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, TopicDialog))

        log = app.query_one(InvocationLog)
        await wait_until(
            pilot, lambda: any(r.trigger == "sns:alerts" for r in log.records.values())
        )
        [record] = [r for r in log.records.values() if r.trigger == "sns:alerts"]
        sns = json.loads(record.request)["Records"][0]["Sns"]
        assert sns["Subject"] == "Disk alarm" and sns["Message"] == "disk full"
        assert sns["MessageAttributes"] == {
            "host": {"Type": "String", "Value": "web-1"},
            "used": {"Type": "Number", "Value": "97.5"},
            "disks": {"Type": "String.Array", "Value": '["sda", "sdb"]'},
            "raw": {"Type": "Binary", "Value": "aGVsbG8="},
        }


async def test_what_sns_refuses_is_shown_beside_its_field_and_nothing_is_published(
    app: WorkbenchApp,
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_dialog(pilot, app)
        dialog.query_one("#topic-subject", Input).value = "two\nlines"
        await add_rows(pilot, app, 4)
        number, array, nameless, twice, again = rows(app)
        fill(number, "used", "Number", "ninety")
        fill(array, "disks", "String.Array", "sda, sdb")
        fill(nameless, "", "String", "orphan value")
        fill(twice, "host", "String", "a")
        fill(again, "host", "String", "b")
        dialog.query_one("#message-body", Input).focus()
        await pilot.press("enter")  # an empty message too

        await wait_until(pilot, lambda: bool(error_of(app, "message-body")))
        assert error_of(app, "message-body") == "Empty message: give a message to publish"
        assert error_of(app, "topic-subject") == (
            "Subject must not contain line breaks or control characters"
        )
        assert error_of(app, f"topic-attr-{number.number}") == (
            "The message attribute 'used' with type 'Number' must hold a number, e.g. 42, -1.5 "
            "or 1e3: 'ninety' is not one"
        )
        assert "must hold a JSON array" in error_of(app, f"topic-attr-{array.number}")
        assert error_of(app, f"topic-attr-{nameless.number}").startswith("Name the attribute")
        assert error_of(app, f"topic-attr-{twice.number}") == ""
        assert error_of(app, f"topic-attr-{again.number}") == "The attribute 'host' is set twice"
        assert "Not sent" in str(dialog.query_one("#message-hint", Static).content)
        assert isinstance(app.screen, TopicDialog)
        assert app.engine.async_events() == []

        # removing the bad rows and fixing the rest clears their messages; an empty type is
        # SNS's refusal, in its words
        for row in (array, nameless, again):
            row.query_one(".attr-remove", Button).press()
        await wait_until(pilot, lambda: len(rows(app)) == 2)
        fill(number, "used", "Number", "")
        dialog.query_one("#topic-subject", Input).value = ""
        dialog.query_one("#message-body", Input).value = "x"
        dialog.query_one("#message-body", Input).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: not error_of(app, "message-body"))
        assert error_of(app, f"topic-attr-{number.number}") == (
            "The message attribute 'used' must contain non-empty message attribute value for "
            "message attribute type 'Number'."
        )
        assert not error_of(app, "topic-subject")
        assert app.engine.async_events() == []

        # the 256 KB of message and attributes together: the publish refuses it, in the hint
        fill(number, "used", "Number", "1")
        dialog.query_one("#message-body", Input).value = "x" * MAX_MESSAGE_BYTES
        await pilot.press("enter")
        hint = dialog.query_one("#message-hint", Static)
        await wait_until(pilot, lambda: "Message too long" in str(hint.content))
        assert not error_of(app, f"topic-attr-{number.number}")
        assert isinstance(app.screen, TopicDialog)
        assert app.engine.async_events() == []
