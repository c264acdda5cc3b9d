"""Dialogs for the event sources: a message to a queue or a topic, and purging a queue.

They do not know the engine: the message dialog is handed a ``send`` coroutine that returns what
went wrong (shown here; the dialog stays open) or None (the dialog closes with the target).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from .saved_events import DIALOG_CSS

Send = Callable[[str, str], Awaitable[str | None]]


class MessageDialog(ModalScreen[str | None]):
    """A target (queue or topic name, offered from ``known``) and a message body; enter sends."""

    DEFAULT_CSS = "MessageDialog { align: center top; }" + DIALOG_CSS

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="message-cancel", tooltip="Close, unsent"),
    ]

    def __init__(
        self, what: str, send: Send, *, known: list[str], target: str | None = None
    ) -> None:
        super().__init__()
        self.what = what  # "queue" or "topic"
        self.send = send
        self.known = known
        self.target = target or (known[0] if len(known) == 1 else "")
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="saved-events-dialog"):
            yield Label(Text(f"Send a message to a {self.what}"), classes="dialog-title")
            yield Input(self.target, placeholder=f"{self.what} name", id="message-target")
            yield Input(placeholder='message body, e.g. {"id": 42}', id="message-body")
            known = ", ".join(self.known) if self.known else "none yet"
            yield Static(
                Text(f"{self.what.capitalize()}s: {known}. Enter sends."),
                classes="dialog-hint",
                id="message-hint",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Send", variant="primary", id="message-ok")
                yield Button("Cancel", id="message-cancel")

    def on_mount(self) -> None:
        field = "#message-body" if self.target else "#message-target"
        self.query_one(field, Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "message-target":
            self.query_one("#message-body", Input).focus()
        else:
            self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "message-ok":
            self._submit()
        else:
            self.dismiss(None)

    def _submit(self) -> None:
        if self.busy:
            return
        target = self.query_one("#message-target", Input).value.strip()
        body = self.query_one("#message-body", Input).value
        if not target:
            self._problem(f"Name the {self.what} to send to.")
            return
        self.busy = True
        self.run_worker(self._send(target, body), exit_on_error=False)

    async def _send(self, target: str, body: str) -> None:
        try:
            problem = await self.send(target, body)
        except Exception as e:  # noqa: BLE001 - shown, never a crash
            problem = f"{type(e).__name__}: {e}"
        self.busy = False
        if problem is None:
            self.dismiss(target)
        else:
            self._problem(problem)

    def _problem(self, text: str) -> None:
        hint = self.query_one("#message-hint", Static)
        hint.add_class("error")
        hint.update(Text(text))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmPurge(ModalScreen[bool]):
    """Asks before every message of a queue is deleted; dismisses with True to purge."""

    DEFAULT_CSS = "ConfirmPurge { align: center top; }" + DIALOG_CSS

    BINDINGS = [
        Binding("y", "answer(True)", "Purge", id="purge-yes", tooltip="Delete every message"),
        Binding("n,escape", "answer(False)", "Keep", id="purge-no", tooltip="Keep them"),
    ]

    def __init__(self, queue: str, messages: int | None = None) -> None:
        super().__init__()
        self.queue = queue
        self.messages = messages

    def compose(self) -> ComposeResult:
        count = "every message" if self.messages is None else f"its {self.messages} messages"
        with Vertical(classes="saved-events-dialog"):
            yield Label(Text(f"Purge the queue {self.queue}?"), classes="dialog-title")
            yield Static(
                Text(f"This deletes {count}, in flight too.  y purge · n keep"),
                classes="dialog-hint",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Purge", variant="error", id="purge-yes")
                yield Button("Keep", id="purge-no")

    def on_mount(self) -> None:
        self.query_one("#purge-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "purge-yes")

    def action_answer(self, purge: bool) -> None:
        self.dismiss(purge)
