"""The publish dialog: an optional description, then ``$LATEST`` becomes the next version.

The dialog does not know the engine: it is handed a ``publish`` coroutine that returns what
went wrong (shown here, the dialog stays open) or None (the dialog closes).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from ...engine import Version
from .saved_events import DIALOG_CSS

Publish = Callable[[str | None], Awaitable[str | None]]


class PublishPrompt(ModalScreen[bool]):
    """Publishes ``function`` with the typed description; dismisses with True once published."""

    DEFAULT_CSS = "PublishPrompt { align: center top; }" + DIALOG_CSS

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="publish-cancel", tooltip="Close, unpublished"),
    ]

    def __init__(
        self, function: str, last: Version | None, publish: Publish, warning: str | None = None
    ) -> None:
        super().__init__()
        self.function = function
        self.last = last
        self.publish = publish
        self.warning = warning  # e.g. the latest save does not compile: it would be published
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="saved-events-dialog"):
            yield Label(
                Text(f"Publish {self.function}'s $LATEST as a new version"),
                classes="dialog-title",
            )
            yield Input(
                placeholder="description (optional; default: the function's own)",
                id="publish-description",
            )
            if self.warning:
                yield Static(Text(self.warning), classes="dialog-hint error", id="publish-warning")
            yield Static(self._about(), classes="dialog-hint", id="publish-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Publish", variant="primary", id="publish-ok")
                yield Button("Cancel", id="publish-cancel")

    def _about(self) -> Text:
        if self.last is None:
            return Text("Nothing published yet: this will be version 1.")
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.last.created_at))
        return Text(
            f"Latest: version {self.last.number} ({when}). If neither code nor configuration "
            "changed since, no new version is made."
        )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "publish-ok":
            self._submit()
        else:
            self.dismiss(False)

    def _submit(self) -> None:
        if self.busy:
            return
        text = self.query_one("#publish-description", Input).value
        self.busy = True
        hint = self.query_one("#publish-hint", Static)
        hint.remove_class("error")
        hint.update(Text("Publishing…"))
        self.run_worker(self._publish(text or None), exit_on_error=False)

    async def _publish(self, description: str | None) -> None:
        try:
            problem = await self.publish(description)
        except Exception as e:  # noqa: BLE001 - shown, never a crash
            problem = f"{type(e).__name__}: {e}"
        self.busy = False
        if problem is None:
            self.dismiss(True)
            return
        hint = self.query_one("#publish-hint", Static)
        hint.add_class("error")
        hint.update(Text(problem))

    def action_cancel(self) -> None:
        self.dismiss(False)
