"""The event editor: JSON with highlighting, live validation, templates, saved events.

Saved events are the editor's: ctrl+s saves its event under a name for the selected function
(as the Lambda console does), ctrl+o loads one back. The editor remembers which saved event it
holds for each function, so the next save suggests that name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.theme import Theme
from textual.widgets import Button, Select, Static, TextArea

from ...engine.shapes import generate, template_choices
from ...engine.storage import SavedEvents, check_event_json
from ..dialogs.saved_events import EventNamePrompt, SavedEventsScreen
from ..themes import editor_theme_for

DEFAULT_EVENT = '{\n  "name": "world"\n}\n'


def check_json(text: str) -> str | None:
    """None if ``text`` is JSON (or blank: Lambda hands the handler {}), else where it is not."""
    if not text.strip():
        return None
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        return f"line {e.lineno}, column {e.colno}: {e.msg}"
    return None


class EventEditor(Vertical):
    """Edits the event to send; says at once whether it is valid JSON and where it is not.

    It holds one current event per function: selecting another function puts its event in the
    editor (the one it had, else ``{"name": "world"}``), and each is kept in the state dir,
    so it is there again after a restart.
    """

    BINDINGS = [
        Binding(
            "ctrl+l",
            "clear_event",
            "Clear event",
            id="clear-event",
            tooltip="Empty the editor's event (an empty event is sent as {})",
        ),
        Binding(
            "ctrl+t",
            "indent",
            "Indent",
            id="indent-event",
            tooltip="Indent to the next tab stop (tab moves to the next pane)",
        ),
        Binding(
            "f7",
            "select_event",
            "Select all",
            id="select-all-event",
            tooltip="Select the whole event (to replace it by typing or pasting)",
        ),
    ]

    @dataclass
    class InvokeRequested(Message):
        """The Invoke button was pressed."""

    def __init__(self, saved_events: SavedEvents, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.saved_events = saved_events
        self.event_names: dict[str, str] = {}  # function -> the saved event in the editor
        self.function: str | None = None  # whose current event the editor holds
        self._drafts: dict[str, str] = {}  # function -> its current event, as last held
        self._kept: dict[str, str] = {}  # function -> its current event as the state dir has it

    def compose(self) -> ComposeResult:
        with Horizontal(id="event-toolbar"):
            yield Select(
                [(label, key) for label, key in template_choices()],
                prompt="Template…",
                id="template",
                allow_blank=True,
            )
            yield Button("Invoke ^r", id="invoke", variant="primary")
        # tab leaves the editor, as from every other pane; ctrl+t indents (as TUI editors do)
        yield TextArea.code_editor(
            DEFAULT_EVENT, language="json", id="event-text", tab_behavior="focus"
        )
        yield Static(id="event-status")

    def on_mount(self) -> None:
        self._validate()
        self._follow_theme(self.app.current_theme)
        self.app.theme_changed_signal.subscribe(self, self._follow_theme)

    def on_unmount(self) -> None:
        self._keep()

    # ----------------------------------------------------------------- one event per function

    def hold(self, function: str) -> None:
        """Show ``function``'s current event (the one it had when it was last selected, kept
        across restarts; else the default), keeping the one it replaces for its own function."""
        if function == self.function:
            return
        if self.function is None and self.text != DEFAULT_EVENT:
            # typed in before any function was selected (the first selection comes once the
            # engine runs): it is this function's event now, not replaced by its kept one
            self.function = function
            self._drafts[function] = self.text
            return
        self._keep()
        self.function = function
        text = self._drafts.get(function)
        if text is None:
            try:
                text = self.saved_events.current(function)
            except (ValueError, OSError):
                text = None  # an unreadable one: start from the default, said nowhere else
            if text is not None:
                self._kept[function] = text
        text = DEFAULT_EVENT if text is None else text
        if text != self.text:  # else left as it is (its cursor, its undo)
            self.set_text(text)

    def _keep(self) -> None:
        """The held function's event, written when it changed (also at unmount, when the text
        area is gone already: the draft is taken at each change)."""
        function = self.function
        if function is None:
            return
        text = self._drafts.get(function)
        if text is None or self._kept.get(function, DEFAULT_EVENT) == text:
            return
        try:
            self.saved_events.keep_current(function, text)
        except (ValueError, OSError) as e:
            self.notify(f"{function}'s event is not kept for next time: {e}", severity="warning")
            return
        self._kept[function] = text

    def action_clear_event(self) -> None:
        self.set_text("")
        self.query_one("#event-text", TextArea).focus()

    def action_indent(self) -> None:
        area = self.query_one("#event-text", TextArea)
        column = area.cursor_location[1]
        area.insert(" " * (area.indent_width - column % area.indent_width))

    def action_select_event(self) -> None:
        area = self.query_one("#event-text", TextArea)
        area.focus()
        area.select_all()

    def _follow_theme(self, theme: Theme) -> None:
        """Syntax colours are the TextArea's own theme, not CSS: match them to the app's."""
        self.query_one("#event-text", TextArea).theme = editor_theme_for(theme)

    @property
    def text(self) -> str:
        return self.query_one("#event-text", TextArea).text

    def set_text(self, text: str) -> None:
        self.query_one("#event-text", TextArea).load_text(text)
        self._validate()

    def error(self) -> str | None:
        """Why the event cannot be sent, or None."""
        return check_json(self.text)

    def payload(self) -> bytes:
        return self.text.encode()

    def _validate(self) -> None:
        error = self.error()
        status = self.query_one("#event-status", Static)
        status.set_class(error is not None, "invalid")
        status.update(Text("✗ invalid JSON: " + error) if error else Text("✓ valid JSON"))

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        self._validate()
        if self.function is not None:
            self._drafts[self.function] = event.text_area.text

    def apply_template(self, key: str) -> None:
        service, _, name = key.partition(" ")
        self.set_text(json.dumps(generate(service, name), indent=2) + "\n")

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "template" and event.value is not Select.NULL:
            event.stop()
            self.apply_template(str(event.value))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "invoke":
            event.stop()
            self.post_message(self.InvokeRequested())

    # ----------------------------------------------------------------- saved events

    def save_event(self, function: str) -> None:
        """Save the event under a name for ``function`` (asked, the last one suggested)."""
        text = self.text
        try:
            check_event_json(text)
            taken = self.saved_events.list(function)
        except (ValueError, OSError) as e:
            self.notify(f"{e}; fix it to save.", title="Not saved", severity="error")
            return

        def save(name: str | None) -> None:
            if name is None:
                return
            try:
                self.saved_events.save(function, name, text)
            except (ValueError, OSError) as e:
                self.notify(str(e), title="Not saved", severity="error")
                return
            self.event_names[function] = name
            self.notify(f"Saved {name!r} for {function}.", title="Event saved")

        prompt = f"Save the event for {function} as"
        current = self.event_names.get(function, "")
        self.app.push_screen(EventNamePrompt(prompt, current, taken=taken), save)

    def load_event(self, function: str) -> None:
        """Pick one of ``function``'s saved events (or rename, delete them) and load it."""
        try:
            names = self.saved_events.list(function)
        except (ValueError, OSError) as e:
            self.notify(str(e), title="No saved events", severity="error")
            return
        if not names:
            self.notify(f"None saved for {function} yet: ctrl+s saves the editor's event.")
            return
        picker = SavedEventsScreen(self.saved_events, function, self.event_names.get(function))

        def load(name: str | None) -> None:
            if picker.current is None:  # renamed or deleted in the list meanwhile
                self.event_names.pop(function, None)
            else:
                self.event_names[function] = picker.current
            if name is None:
                return
            try:
                text = self.saved_events.load(function, name)
            except (KeyError, OSError) as e:
                self.notify(str(e), title="Not loaded", severity="error")
                return
            self.set_text(text)
            self.event_names[function] = name
            self.notify(f"Loaded {name!r} for {function}.", title="Event loaded")

        self.app.push_screen(picker, load)
