"""Saved test events: named JSON events per function, like the Lambda console's.

Each event is a file, ``<state_dir>/events/<function>/<name>.json``, holding the text exactly as
it was typed (so the user's layout survives a round trip). No UI here: the TUI and any other
front end share this store.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

NAME_RULE = "1 to 25 characters: letters, digits, '-', '_' or '.'"
_NAME = re.compile(r"[A-Za-z0-9._-]{1,25}")
_SUFFIX = ".json"
_CURRENT = ".current"  # the editor's current event: not a saved event (those end in .json)


class InvalidEventName(ValueError):
    """A name the console would not accept either."""


class InvalidEventJSON(ValueError):
    """The text to save is not a JSON document; the message says where."""


class EventExists(ValueError):
    """A rename would overwrite another saved event."""


class UnknownEvent(KeyError):
    """No saved event by that name (a ``KeyError`` whose message reads as a sentence)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown saved event"


def check_event_name(name: str) -> str:
    """``name`` if the console would accept it as a test event name, else InvalidEventName."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidEventName(f"invalid event name {name!r}: use {NAME_RULE}")
    return name


def check_event_json(text: str) -> None:
    """Raise InvalidEventJSON, with line and column, unless ``text`` is one JSON document."""
    if not text.strip():
        raise InvalidEventJSON("the event is empty: save a JSON document, such as {}")
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidEventJSON(
            f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"
        ) from None


def _check_function(function: str) -> str:
    # A function name becomes a folder name: refuse anything that would leave ``events/``.
    if not function or function in (".", "..") or "/" in function or "\\" in function:
        raise ValueError(f"invalid function name {function!r}")
    return function


class SavedEvents:
    """The saved test events under ``state_dir/events``, one folder per function."""

    def __init__(self, state_dir: Path) -> None:
        self.root = Path(state_dir) / "events"

    def folder(self, function: str) -> Path:
        return self.root / _check_function(function)

    def path(self, function: str, name: str) -> Path:
        return self.folder(function) / (check_event_name(name) + _SUFFIX)

    def list(self, function: str) -> list[str]:
        """The function's saved event names, sorted (none if it has no folder yet)."""
        folder = self.folder(function)
        if not folder.is_dir():
            return []
        names = (p.name[: -len(_SUFFIX)] for p in folder.iterdir() if p.name.endswith(_SUFFIX))
        return sorted(n for n in names if _NAME.fullmatch(n))

    def exists(self, function: str, name: str) -> bool:
        return self.path(function, name).is_file()

    def load(self, function: str, name: str) -> str:
        """The saved event's text, as it was saved."""
        try:
            return self._existing(function, name).read_text(encoding="utf-8")
        except FileNotFoundError:  # deleted between the check and the read
            raise self._unknown(function, name) from None

    def save(self, function: str, name: str, text: str) -> None:
        """Save ``text`` (which must be JSON) as ``name``, replacing an event of that name."""
        path = self.path(function, name)
        check_event_json(text)
        _write_atomic(path, text)

    def rename(self, function: str, old: str, new: str) -> None:
        """Rename ``old`` to ``new``; refused if ``new`` is already taken."""
        source = self._existing(function, old)
        target = self.path(function, new)
        if new == old:
            return
        if target.exists():
            raise EventExists(f"an event named {new!r} is already saved for {function}")
        os.replace(source, target)

    def delete(self, function: str, name: str) -> None:
        try:
            self._existing(function, name).unlink()
        except FileNotFoundError:
            raise self._unknown(function, name) from None

    # The editor's current event of each function (its draft, kept across restarts): any text,
    # valid JSON or not, in a file no saved event's name can take (``.current``, no ``.json``).

    def current(self, function: str) -> str | None:
        """The function's current event as the editor last held it; None if it never did."""
        try:
            return (self.folder(function) / _CURRENT).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def keep_current(self, function: str, text: str) -> None:
        """Keep ``text`` as the function's current event (replacing the one kept)."""
        _write_atomic(self.folder(function) / _CURRENT, text)

    def _existing(self, function: str, name: str) -> Path:
        path = self.path(function, name)
        if not path.is_file():
            raise self._unknown(function, name)
        return path

    def _unknown(self, function: str, name: str) -> UnknownEvent:
        saved = self.list(function)
        known = f"saved: {', '.join(saved)}" if saved else "none are saved"
        return UnknownEvent(f"no saved event {name!r} for {function} ({known})")


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temp file in the same folder and ``os.replace``: never a half-written event."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
