"""Saved test events: the store behind the TUI's save/load, with no UI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from workbench.engine.storage.saved_events import (
    EventExists,
    InvalidEventJSON,
    InvalidEventName,
    SavedEvents,
    UnknownEvent,
)

EVENT = '{\n  "name": "world"\n}\n'


@pytest.fixture
def store(tmp_path: Path) -> SavedEvents:
    return SavedEvents(tmp_path / "state")


def test_round_trip_keeps_the_text_exactly(store: SavedEvents, tmp_path: Path) -> None:
    store.save("hello", "greet", EVENT)
    assert store.load("hello", "greet") == EVENT
    assert (tmp_path / "state" / "events" / "hello" / "greet.json").read_text() == EVENT


def test_list_is_sorted_and_per_function(store: SavedEvents) -> None:
    assert store.list("hello") == []
    for name in ("zeta", "Alpha", "b-2", "a_1.v2"):
        store.save("hello", name, "{}")
    store.save("other", "only", "[]")
    assert store.list("hello") == sorted(["zeta", "Alpha", "b-2", "a_1.v2"])
    assert store.list("other") == ["only"]


def test_save_replaces_an_event_of_the_same_name(store: SavedEvents) -> None:
    store.save("hello", "e", '{"v": 1}')
    store.save("hello", "e", '{"v": 2}')
    assert json.loads(store.load("hello", "e")) == {"v": 2}
    assert store.list("hello") == ["e"]


def test_rename(store: SavedEvents) -> None:
    store.save("hello", "old", EVENT)
    store.rename("hello", "old", "new")
    assert store.list("hello") == ["new"]
    assert store.load("hello", "new") == EVENT


def test_rename_onto_an_existing_name_is_refused(store: SavedEvents) -> None:
    store.save("hello", "a", '{"a": 1}')
    store.save("hello", "b", '{"b": 1}')
    with pytest.raises(EventExists, match="'b' is already saved"):
        store.rename("hello", "a", "b")
    assert json.loads(store.load("hello", "b")) == {"b": 1}
    assert store.list("hello") == ["a", "b"]


def test_rename_to_the_same_name_is_a_no_op(store: SavedEvents) -> None:
    store.save("hello", "a", "{}")
    store.rename("hello", "a", "a")
    assert store.list("hello") == ["a"]


def test_rename_to_a_bad_name_is_refused(store: SavedEvents) -> None:
    store.save("hello", "a", "{}")
    with pytest.raises(InvalidEventName):
        store.rename("hello", "a", "no spaces")
    assert store.list("hello") == ["a"]


def test_delete(store: SavedEvents) -> None:
    store.save("hello", "a", "{}")
    store.save("hello", "b", "{}")
    store.delete("hello", "a")
    assert store.list("hello") == ["b"]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{\n  "name": \n}', "line 3, column 1"),
        ('{"a": 1,}', "line 1, column 9"),
        ("{} {}", "line 1, column 4"),
    ],
)
def test_invalid_json_is_refused_with_line_and_column(
    store: SavedEvents, text: str, where: str
) -> None:
    with pytest.raises(InvalidEventJSON, match=f"invalid JSON at {where}"):
        store.save("hello", "bad", text)
    assert store.list("hello") == []


def test_an_empty_event_is_refused(store: SavedEvents) -> None:
    with pytest.raises(InvalidEventJSON, match="empty"):
        store.save("hello", "blank", "  \n")


@pytest.mark.parametrize("name", ["", "x" * 26, "has space", "a/b", "../up", "é", "a:b"])
def test_bad_names_are_refused_saying_what_is_accepted(store: SavedEvents, name: str) -> None:
    with pytest.raises(InvalidEventName, match="letters, digits, '-', '_' or '.'"):
        store.save("hello", name, "{}")
    assert store.list("hello") == []


def test_names_the_console_accepts(store: SavedEvents) -> None:
    for name in ("x" * 25, "A.b-c_9", "1"):
        store.save("hello", name, "{}")
    assert len(store.list("hello")) == 3


@pytest.mark.parametrize("function", ["", "..", "a/b"])
def test_a_function_name_cannot_leave_the_events_folder(store: SavedEvents, function: str) -> None:
    with pytest.raises(ValueError, match="invalid function name"):
        store.save(function, "e", "{}")


def test_unknown_event_is_a_key_error_with_a_clear_message(store: SavedEvents) -> None:
    store.save("hello", "there", "{}")
    for call in (
        lambda: store.load("hello", "nope"),
        lambda: store.delete("hello", "nope"),
        lambda: store.rename("hello", "nope", "other"),
    ):
        with pytest.raises(KeyError) as info:
            call()
        assert isinstance(info.value, UnknownEvent)
        assert str(info.value) == "no saved event 'nope' for hello (saved: there)"
    with pytest.raises(UnknownEvent, match="none are saved"):
        store.load("other", "nope")


def test_writes_leave_no_temp_files(store: SavedEvents, tmp_path: Path) -> None:
    store.save("hello", "a", EVENT)
    store.save("hello", "a", '{"again": true}')
    store.rename("hello", "a", "b")
    folder = tmp_path / "state" / "events" / "hello"
    assert sorted(os.listdir(folder)) == ["b.json"]


def test_a_failed_write_leaves_the_old_event_and_no_temp_file(
    store: SavedEvents, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.save("hello", "a", EVENT)

    def fail(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        store.save("hello", "a", '{"new": 1}')
    monkeypatch.undo()
    assert store.load("hello", "a") == EVENT
    assert os.listdir(tmp_path / "state" / "events" / "hello") == ["a.json"]


def test_the_current_event_is_kept_apart_from_the_saved_ones(store: SavedEvents) -> None:
    """The editor's current event of a function: any text (half typed too), never listed,
    loaded or renamed as a saved event, even beside one named like it."""
    assert store.current("hello") is None
    store.keep_current("hello", '{"half": ')
    store.save("hello", ".current", "{}")  # a saved event may be named so: another file
    assert store.current("hello") == '{"half": '
    assert store.list("hello") == [".current"]
    store.keep_current("hello", "{}\n")
    assert store.current("hello") == "{}\n" and store.current("other") is None
    with pytest.raises(ValueError):
        store.keep_current("../escape", "{}")
