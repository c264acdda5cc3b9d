"""Dialogs for saved test events: name one, pick one (rename, delete), confirm a deletion."""

from __future__ import annotations

from collections.abc import Collection

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from ...engine.storage import NAME_RULE, SavedEvents, check_event_name

PREVIEW_LINES = 40

DIALOG_CSS = """
.saved-events-dialog {
    width: 64;
    height: auto;
    max-height: 90%;
    margin: 2 0 0 0;
    padding: 1 2;
    background: $panel;
    border: round $accent;
}
.saved-events-dialog .dialog-title {
    width: 1fr;
    text-style: bold;
    margin-bottom: 1;
}
.saved-events-dialog .dialog-hint {
    color: $text-muted;
    height: auto;
}
.saved-events-dialog .dialog-hint.error {
    color: $text-error;
}
.saved-events-dialog .dialog-buttons {
    height: auto;
    margin-top: 1;
    align-horizontal: right;
}
.saved-events-dialog .dialog-buttons Button {
    margin-left: 1;
}
"""


class EventNamePrompt(ModalScreen[str | None]):
    """Asks for an event name, checking it as it is typed; dismisses with it, or None."""

    DEFAULT_CSS = "EventNamePrompt { align: center top; }" + DIALOG_CSS

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="event-name-cancel", tooltip="Close, unsaved"),
    ]

    def __init__(
        self,
        title: str,
        value: str = "",
        *,
        action: str = "Save",
        taken: Collection[str] = (),
        refuse_taken: bool = False,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.action_label = action
        self.taken = set(taken)
        self.refuse_taken = refuse_taken

    def compose(self) -> ComposeResult:
        with Vertical(classes="saved-events-dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Input(self.value, placeholder="event name", id="event-name")
            yield Static(classes="dialog-hint", id="event-name-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.action_label, variant="primary", id="event-name-ok")
                yield Button("Cancel", id="event-name-cancel")

    def on_mount(self) -> None:
        self._check(self.value)

    def problem(self, name: str) -> str | None:
        """Why ``name`` cannot be used here, or None."""
        try:
            check_event_name(name)
        except ValueError as e:
            return str(e) if name else f"Name the event: {NAME_RULE}."
        if self.refuse_taken and name in self.taken:
            return f"An event named {name!r} is already saved."
        return None

    def _check(self, name: str) -> str | None:
        problem = self.problem(name)
        hint = self.query_one("#event-name-hint", Static)
        hint.set_class(problem is not None and bool(name), "error")
        if problem is not None:
            hint.update(Text(problem))
        elif name in self.taken and name != self.value:
            hint.update(Text(f"Replaces the saved event {name!r}."))
        elif name in self.taken:
            hint.update(Text(f"Updates the saved event {name!r}."))
        else:
            hint.update(Text(NAME_RULE))
        return problem

    def on_input_changed(self, event: Input.Changed) -> None:
        self._check(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "event-name-ok":
            self._submit()
        else:
            self.dismiss(None)

    def _submit(self) -> None:
        name = self.query_one("#event-name", Input).value
        problem = self._check(name)
        if problem is None:
            self.dismiss(name)
        else:
            self.query_one("#event-name-hint", Static).add_class("error")

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDelete(ModalScreen[bool]):
    """Asks before a saved event is deleted; dismisses with True to delete."""

    DEFAULT_CSS = "ConfirmDelete { align: center top; }" + DIALOG_CSS

    BINDINGS = [
        Binding("y", "answer(True)", "Delete", id="confirm-delete-yes", tooltip="Delete it"),
        Binding("n,escape", "answer(False)", "Keep", id="confirm-delete-no", tooltip="Keep it"),
    ]

    def __init__(self, function: str, name: str) -> None:
        super().__init__()
        self.function = function
        self.event_name = name

    def compose(self) -> ComposeResult:
        with Vertical(classes="saved-events-dialog"):
            yield Label(
                Text(f"Delete the saved event {self.event_name!r} of {self.function}?"),
                classes="dialog-title",
            )
            yield Static("It cannot be undone.  y delete · n keep", classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Delete", variant="error", id="confirm-delete-yes")
                yield Button("Keep", id="confirm-delete-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-delete-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-delete-yes")

    def action_answer(self, delete: bool) -> None:
        self.dismiss(delete)


class SavedEventsScreen(ModalScreen[str | None]):
    """A function's saved events: enter loads one (dismisses with its name), r renames, d deletes.

    Renames and deletions happen here, at once; ``current`` follows them (renamed, or None once
    deleted), so whoever opened the list can follow the name of the event in its editor.
    """

    DEFAULT_CSS = (
        "SavedEventsScreen { align: center top; }"
        + DIALOG_CSS
        + """
    SavedEventsScreen .saved-events-dialog { width: 100; }
    #saved-events-body { height: auto; max-height: 24; }
    #saved-events-list { width: 34; height: auto; min-height: 8; max-height: 24; }
    #saved-events-preview {
        width: 1fr;
        height: auto;
        min-height: 8;
        max-height: 24;
        margin-left: 1;
        padding: 0 1;
        background: $surface;
        color: $text-muted;
    }
    """
    )

    BINDINGS = [
        Binding("enter", "load", "Load", id="saved-events-load", tooltip="Load it into the editor"),
        Binding("r", "rename", "Rename", id="saved-events-rename", tooltip="Rename it"),
        Binding("d", "delete", "Delete", id="saved-events-delete", tooltip="Delete it (asks)"),
        Binding("escape", "close", "Close", id="saved-events-close", tooltip="Back, loading none"),
    ]

    def __init__(self, store: SavedEvents, function: str, current: str | None = None) -> None:
        super().__init__()
        self.store = store
        self.function = function
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="saved-events-dialog"):
            yield Label(Text(f"Saved events of {self.function}"), classes="dialog-title")
            with Horizontal(id="saved-events-body"):
                yield OptionList(id="saved-events-list")
                yield Static(id="saved-events-preview")
            yield Static("enter load · r rename · d delete · esc close", classes="dialog-hint")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_names(self.current)
        self.query_one(OptionList).focus()

    @property
    def names(self) -> list[str]:
        options = self.query_one(OptionList)
        return [str(options.get_option_at_index(i).id) for i in range(options.option_count)]

    @property
    def highlighted(self) -> str | None:
        option = self.query_one(OptionList).highlighted_option
        return None if option is None else str(option.id)

    def refresh_names(self, select: str | None = None) -> None:
        """Reread the list from the store, highlighting ``select`` if it is there."""
        try:
            names = self.store.list(self.function)
        except OSError as e:
            self.notify(f"Cannot read the saved events: {e}", severity="error")
            names = []
        options = self.query_one(OptionList)
        options.set_options(Option(Text(name), id=name) for name in names)
        if names:
            options.highlighted = names.index(select) if select in names else 0
        self._preview(self.highlighted)

    def _preview(self, name: str | None) -> None:
        preview = self.query_one("#saved-events-preview", Static)
        if name is None:
            preview.update(Text(f"No saved events for {self.function}.\nSave one with ctrl+s."))
            return
        try:
            lines = self.store.load(self.function, name).splitlines()
        except (KeyError, OSError) as e:
            preview.update(Text(str(e)))
            return
        more = len(lines) - PREVIEW_LINES
        shown = lines[:PREVIEW_LINES] + ([f"… {more} more lines"] if more > 0 else [])
        preview.update(Text("\n".join(shown)))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._preview(str(event.option.id))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(str(event.option.id))

    def action_load(self) -> None:
        if self.highlighted is not None:
            self.dismiss(self.highlighted)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_rename(self) -> None:
        old = self.highlighted
        if old is None:
            return

        def rename(new: str | None) -> None:
            if new is None or new == old:
                return
            try:
                self.store.rename(self.function, old, new)
            except (KeyError, ValueError, OSError) as e:
                self.notify(str(e), title="Not renamed", severity="error")
                return
            if self.current == old:
                self.current = new
            self.notify(f"Renamed {old!r} to {new!r}.", title="Saved events")
            self.refresh_names(new)

        self.app.push_screen(
            EventNamePrompt(
                f"Rename {old!r} of {self.function}",
                old,
                action="Rename",
                taken=set(self.names) - {old},
                refuse_taken=True,
            ),
            rename,
        )

    def action_delete(self) -> None:
        name = self.highlighted
        if name is None:
            return

        def delete(confirmed: bool | None) -> None:
            if not confirmed:
                return
            try:
                self.store.delete(self.function, name)
            except (KeyError, OSError) as e:
                self.notify(str(e), title="Not deleted", severity="error")
                return
            if self.current == name:
                self.current = None
            self.notify(f"Deleted {name!r}.", title="Saved events")
            index = self.names.index(name)
            remaining = [n for n in self.names if n != name]
            self.refresh_names(remaining[min(index, len(remaining) - 1)] if remaining else None)

        self.app.push_screen(ConfirmDelete(self.function, name), delete)
