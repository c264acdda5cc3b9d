"""Saved test events in the TUI: ctrl+s saves the editor's event, ctrl+o loads, renames, deletes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tests.tui.pilot import wait_until
from workbench.engine.storage.saved_events import SavedEvents
from workbench.tui.app import WorkbenchApp
from workbench.tui.dialogs.saved_events import ConfirmDelete, EventNamePrompt, SavedEventsScreen
from workbench.tui.widgets.editor import EventEditor
from workbench.tui.widgets.functions import FunctionsPane

from ..helpers import make_function

HELLO = """
def handler(event, context):
    return {"greeting": "hello " + str(event.get("name"))}
"""

SIZE = (160, 45)


@pytest.fixture
def app(tmp_path: Path) -> WorkbenchApp:
    root = tmp_path / "functions"
    make_function(root, "hello", HELLO)
    make_function(root, "other", HELLO)
    return WorkbenchApp([root], state_dir=tmp_path / "state")


@pytest.fixture
def store(tmp_path: Path) -> SavedEvents:
    return SavedEvents(tmp_path / "state")


@pytest.fixture
def notes(app: WorkbenchApp, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(severity, message) of every notification the app shows."""
    seen: list[tuple[str, str]] = []
    notify = app.notify

    def record(message: str, **kwargs: Any) -> None:
        seen.append((kwargs.get("severity", "information"), str(message)))
        notify(message, **kwargs)

    monkeypatch.setattr(app, "notify", record)
    return seen


def editor(app: WorkbenchApp) -> EventEditor:
    return app.query_one(EventEditor)


async def save_as(pilot: Pilot, name: str, *, clear: bool = True) -> None:
    """ctrl+s, replace the suggested name with ``name``, enter."""
    await pilot.press("ctrl+s")
    await pilot.pause()
    assert isinstance(pilot.app.screen, EventNamePrompt)
    if clear:
        pilot.app.screen.query_one(Input).value = ""
    await pilot.press(*name)
    await pilot.press("enter")
    await pilot.pause()


async def open_saved(pilot: Pilot) -> SavedEventsScreen:
    await pilot.press("ctrl+o")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, SavedEventsScreen)
    return screen


async def test_save_then_load_back_after_changing_the_text(
    app: WorkbenchApp, store: SavedEvents, notes: list[tuple[str, str]]
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        editor(app).set_text('{\n  "order": 42\n}\n')
        await save_as(pilot, "order-42")
        assert app.screen is app.screen_stack[0]
        assert store.list("hello") == ["order-42"]
        assert store.load("hello", "order-42") == '{\n  "order": 42\n}\n'
        assert ("information", "Saved 'order-42' for hello.") in notes

        editor(app).set_text('{"something": "else"}')
        screen = await open_saved(pilot)
        assert screen.names == ["order-42"]
        assert "42" in str(screen.query_one("#saved-events-preview", Static).content)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]
        assert editor(app).text == '{\n  "order": 42\n}\n'
        assert ("information", "Loaded 'order-42' for hello.") in notes


async def test_saved_events_belong_to_the_selected_function(
    app: WorkbenchApp, store: SavedEvents, notes: list[tuple[str, str]]
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await save_as(pilot, "mine")
        app.query_one("#functions").select("other")
        await pilot.pause()
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]  # nothing to pick from
        assert any("None saved for other" in message for _, message in notes)
        assert store.list("hello") == ["mine"] and store.list("other") == []


async def test_the_prompt_suggests_the_loaded_events_name(
    app: WorkbenchApp, store: SavedEvents
) -> None:
    store.save("hello", "alpha", '{"v": 1}')
    store.save("hello", "beta", '{"v": 2}')
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_saved(pilot)
        assert screen.highlighted == "alpha"
        await pilot.press("down", "enter")
        await pilot.pause()
        assert json.loads(editor(app).text) == {"v": 2}
        editor(app).set_text('{"v": 3}')
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen.query_one(Input).value == "beta"
        hint = app.screen.query_one("#event-name-hint", Static)
        assert "Updates the saved event 'beta'" in str(hint.content)
        await pilot.press("enter")
        await pilot.pause()
        assert json.loads(store.load("hello", "beta")) == {"v": 3}


async def test_rename(app: WorkbenchApp, store: SavedEvents, notes: list[tuple[str, str]]) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await save_as(pilot, "first")
        screen = await open_saved(pilot)
        await pilot.press("r")
        await pilot.pause()
        prompt = app.screen
        assert isinstance(prompt, EventNamePrompt)
        assert prompt.query_one(Input).value == "first"
        prompt.query_one(Input).value = ""
        await pilot.press(*"second", "enter")
        await pilot.pause()
        assert app.screen is screen  # back on the list, which shows the new name
        assert screen.names == ["second"] and screen.highlighted == "second"
        assert store.list("hello") == ["second"]
        assert ("information", "Renamed 'first' to 'second'.") in notes
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]
        await pilot.press("ctrl+s")  # the editor's event now goes by its new name
        await pilot.pause()
        assert app.screen.query_one(Input).value == "second"


async def test_deleting_the_loaded_event_forgets_its_name(
    app: WorkbenchApp, store: SavedEvents
) -> None:
    store.save("hello", "other", '{"o": 1}')
    store.save("hello", "spare", "{}")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await save_as(pilot, "mine")
        screen = await open_saved(pilot)
        assert screen.highlighted == "mine"
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert screen.names == ["other", "spare"]
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]
        await pilot.press("ctrl+s")  # no name suggested: the one it had is gone
        await pilot.pause()
        assert app.screen.query_one(Input).value == ""
        await pilot.press("escape")
        await pilot.pause()

        screen = await open_saved(pilot)
        assert screen.highlighted == "other"
        await pilot.press("enter")  # load it
        await pilot.pause()
        assert json.loads(editor(app).text) == {"o": 1}
        screen = await open_saved(pilot)
        await pilot.press("down", "d")  # delete another one: the loaded one keeps its name
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert screen.names == ["other"] and store.list("hello") == ["other"]
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen.query_one(Input).value == "other"


async def test_rename_onto_a_saved_name_is_refused(app: WorkbenchApp, store: SavedEvents) -> None:
    store.save("hello", "a", '{"a": 1}')
    store.save("hello", "b", '{"b": 1}')
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await open_saved(pilot)
        await pilot.press("r")
        await pilot.pause()
        app.screen.query_one(Input).value = ""
        await pilot.press("b", "enter")
        await pilot.pause()
        prompt = app.screen
        assert isinstance(prompt, EventNamePrompt)  # still asking
        hint = prompt.query_one("#event-name-hint", Static)
        assert "already saved" in str(hint.content) and hint.has_class("error")
        assert store.list("hello") == ["a", "b"]
        assert json.loads(store.load("hello", "b")) == {"b": 1}


async def test_delete_asks_first(
    app: WorkbenchApp, store: SavedEvents, notes: list[tuple[str, str]]
) -> None:
    store.save("hello", "a", "{}")
    store.save("hello", "b", "{}")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_saved(pilot)
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDelete)
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is screen and store.list("hello") == ["a", "b"]

        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert app.screen is screen
        assert screen.names == ["b"] and store.list("hello") == ["b"]
        assert ("information", "Deleted 'a'.") in notes

        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert screen.names == [] and store.list("hello") == []
        assert "No saved events" in str(screen.query_one("#saved-events-preview", Static).content)


async def test_invalid_json_is_refused_with_line_and_column(
    app: WorkbenchApp, store: SavedEvents, notes: list[tuple[str, str]]
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        editor(app).set_text('{\n  "name": \n}\n')
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]  # no name asked for
        assert notes == [
            ("error", "invalid JSON at line 3, column 1: Expecting value; fix it to save.")
        ]
        assert store.list("hello") == []


async def test_a_bad_name_is_refused_saying_what_is_accepted(
    app: WorkbenchApp, store: SavedEvents
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await save_as(pilot, "has space")
        prompt = app.screen
        assert isinstance(prompt, EventNamePrompt)
        hint = str(prompt.query_one("#event-name-hint", Static).content)
        assert "letters, digits, '-', '_' or '.'" in hint
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]
        assert store.list("hello") == []


async def test_every_saved_events_binding_has_an_id_and_tooltip() -> None:
    actions = {b.action: b for b in WorkbenchApp.BINDINGS}
    for action, key in (("save_event", "ctrl+s"), ("load_event", "ctrl+o")):
        assert actions[action].key == key and actions[action].id and actions[action].tooltip
        assert callable(getattr(WorkbenchApp, f"action_{action}"))
    for screen in (EventNamePrompt, ConfirmDelete, SavedEventsScreen):
        for binding in screen.BINDINGS:
            assert binding.id and binding.tooltip, binding


# --------------------------------------------------------------------------- one event each


async def select(pilot: Pilot, key: str) -> None:
    pilot.app.query_one("#functions").select(key)
    await pilot.pause()


async def test_each_function_keeps_its_own_event_across_switches_and_restarts(
    tmp_path: Path, store: SavedEvents
) -> None:
    root = tmp_path / "functions"
    make_function(root, "hello", HELLO)
    make_function(root, "other", HELLO)
    app = WorkbenchApp([root], state_dir=tmp_path / "state")
    async with app.run_test(size=SIZE) as pilot:
        await app.engine.publish("hello", "v1")
        await pilot.pause()
        assert editor(app).function == "hello"
        assert json.loads(editor(app).text) == {"name": "world"}  # never edited: the default
        editor(app).set_text('{"for": "hello"}')
        await select(pilot, "other")
        assert json.loads(editor(app).text) == {"name": "world"}
        editor(app).set_text('{"for": "other", ')  # half typed: kept as it is
        await select(pilot, "hello")
        assert json.loads(editor(app).text) == {"for": "hello"}
        rows = app.query_one(FunctionsPane)
        await wait_until(pilot, lambda: "hello:1" in [r.key for r in rows.all_rows()])
        await select(pilot, "hello:1")  # its versions and aliases share its event
        assert json.loads(editor(app).text) == {"for": "hello"}
        await pilot.press("ctrl+r")
        status = app.query_one("#response-status", Static)
        await wait_until(pilot, lambda: "Duration" in str(status.content))
        body = str(app.query_one("#response-body", Static).content)
        assert json.loads(body) == {"greeting": "hello None"}  # {"for": "hello"} was sent
        await select(pilot, "other")
        assert editor(app).text == '{"for": "other", '
    # kept in the state dir, as the editor last held each (the one shown at exit included)
    assert store.current("hello") == '{"for": "hello"}'
    assert store.current("other") == '{"for": "other", '
    assert store.list("hello") == [] and store.list("other") == []  # not saved events

    again = WorkbenchApp([root], state_dir=tmp_path / "state")
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert json.loads(editor(again).text) == {"for": "hello"}
        await select(pilot, "other")
        assert editor(again).text == '{"for": "other", '
        assert "invalid JSON" in str(again.query_one("#event-status", Static).content)


async def test_clear_and_select_all_keys(app: WorkbenchApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        area = app.query_one("#event-text")
        area.focus()
        await pilot.press("f7")
        assert area.selected_text == editor(app).text  # type: ignore[attr-defined]
        await pilot.press(*'{"typed": 1}')  # typing replaces the selection
        assert json.loads(editor(app).text) == {"typed": 1}
        await pilot.press("ctrl+l")
        assert editor(app).text == ""
        assert "valid JSON" in str(app.query_one("#event-status", Static).content)  # {} is sent
        app.query_one("#functions-table").focus()
        await pilot.press("ctrl+l")  # from the functions pane: not the editor's key
        await pilot.press(*"x")
        assert editor(app).text == ""
