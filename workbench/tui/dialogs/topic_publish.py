"""The topic dialog: a message to a topic with SNS's optional Subject and message attributes
(name, type String / String.Array / Number / Binary, value).

Each field is checked as SNS checks it (``engine/sources/topic_attributes.py``) and its refusal
shown beside it; what only a publish can tell (an unknown topic, the 256 KB of message and
attributes together) comes back from the ``publish`` coroutine and shows in the hint. It is the
queue dialog's topic form: same target, body and hint fields, same keys.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static

from ...engine.sources import (
    ATTRIBUTE_TYPES,
    TopicAttribute,
    TopicError,
    check_attribute,
    check_subject,
)
from .message import MessageDialog


@dataclass(frozen=True)
class Publication:
    """What the dialog publishes: ``subject`` None when none was typed."""

    topic: str
    message: str
    subject: str | None = None
    attributes: dict[str, TopicAttribute] = field(default_factory=dict)


Publish = Callable[[Publication], Awaitable[str | None]]
# rows the form offers; SNS delivers at most 10 attributes to SQS subscribers (UNVERIFIED for
# Lambda's), and more is not what one types by hand
MAX_ATTRIBUTES = 10

TOPIC_CSS = """
TopicDialog .saved-events-dialog { width: 80; max-width: 100%; }
TopicDialog #topic-fields { height: auto; max-height: 14; }
TopicDialog .topic-row { height: auto; }
TopicDialog .topic-row > Label { width: 10; }
TopicDialog .topic-row Input { width: 1fr; background: $boost; }
TopicDialog .topic-row Select { width: 16; }
TopicDialog .topic-row .attr-name { width: 18; }
TopicDialog .topic-row Button { min-width: 3; width: 3; margin-left: 1; }
TopicDialog .field-error { color: $text-error; height: auto; margin-left: 10; }
TopicDialog .field-error.hidden { display: none; }
TopicDialog #topic-add { margin-left: 10; }
TopicDialog .topic-row.hidden { display: none; }
"""


class AttributeRow(Horizontal):
    """One message attribute: name, type, value, and a button that removes it."""

    def __init__(self, number: int, *, hidden: bool = False) -> None:
        classes = "topic-row hidden" if hidden else "topic-row"
        super().__init__(classes=classes, id=f"topic-attr-{number}")
        self.number = number

    def clear(self) -> None:
        self.query_one(".attr-name", Input).value = ""
        self.query_one(".attr-value", Input).value = ""
        self.query_one(".attr-type", Select).value = "String"

    def compose(self) -> ComposeResult:
        yield Label("")
        yield Input(placeholder="name", classes="attr-name", compact=True)
        yield Select(
            [(t, t) for t in ATTRIBUTE_TYPES],
            value="String",
            allow_blank=False,
            compact=True,
            classes="attr-type",
        )
        yield Input(placeholder="value", classes="attr-value", compact=True)
        yield Button("✕", classes="attr-remove", compact=True, tooltip="Remove this attribute")

    @property
    def attribute_name(self) -> str:
        return self.query_one(".attr-name", Input).value.strip()

    @property
    def kind(self) -> str:
        return str(self.query_one(".attr-type", Select).value)

    @property
    def value(self) -> str:
        return self.query_one(".attr-value", Input).value


class TopicDialog(MessageDialog):
    """Publishes to a topic (offered from ``known``) with a subject and attributes."""

    DEFAULT_CSS = MessageDialog.DEFAULT_CSS.replace("MessageDialog", "TopicDialog") + TOPIC_CSS

    def __init__(self, publish: Publish, *, known: list[str], target: str | None = None) -> None:
        super().__init__("topic", self._unused, known=known, target=target)
        self.publish = publish
        self._rows = 0

    @staticmethod
    async def _unused(target: str, body: str) -> str | None:  # pragma: no cover - not called
        raise AssertionError("the topic dialog publishes through its own coroutine")

    def compose(self) -> ComposeResult:
        with Vertical(classes="saved-events-dialog"):
            yield Label(Text("Publish a message to a topic"), classes="dialog-title")
            with VerticalScroll(id="topic-fields"):
                for label, widget in (
                    ("Topic", Input(self.target, placeholder="topic name", id="message-target")),
                    ("Subject", Input(placeholder="optional, 1 to 100", id="topic-subject")),
                    ("Message", Input(placeholder='e.g. {"id": 42}', id="message-body")),
                ):
                    widget.compact = True
                    with Horizontal(classes="topic-row"):
                        yield Label(label)
                        yield widget
                    if widget.id != "message-target":
                        yield Static(classes="field-error hidden", id=f"{widget.id}-error")
                yield Label(Text("Attributes", style="bold"), id="topic-attributes")
                for _ in range(MAX_ATTRIBUTES):
                    yield from self._row()
                yield Button("+ attribute", compact=True, id="topic-add")
            known = ", ".join(self.known) if self.known else "none yet"
            yield Static(
                Text(f"Topics: {known}. Enter sends; an empty attribute row is left out."),
                classes="dialog-hint",
                id="message-hint",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Send", variant="primary", id="message-ok", compact=True)
                yield Button("Cancel", id="message-cancel", compact=True)

    def _row(self) -> ComposeResult:
        """One attribute row and its error line; the rows past the first start hidden (``+
        attribute`` shows the next one: rows are composed up front, not mounted later)."""
        self._rows += 1
        hidden = " hidden" if self._rows > 1 else ""
        yield AttributeRow(self._rows, hidden=bool(hidden))
        yield Static(classes="field-error hidden", id=f"topic-attr-{self._rows}-error")

    def shown_rows(self) -> list[AttributeRow]:
        return [r for r in self.query(AttributeRow) if not r.has_class("hidden")]

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        event.prevent_default()  # MessageDialog's handler would close the dialog
        if event.button.id == "topic-add":
            spare = [r for r in self.query(AttributeRow) if r.has_class("hidden")]
            if spare:
                spare[0].remove_class("hidden")
                spare[0].query_one(".attr-name", Input).focus()
            else:
                self._problem(f"At most {MAX_ATTRIBUTES} attributes here.")
        elif event.button.has_class("attr-remove"):
            row = event.button.parent
            if isinstance(row, AttributeRow):
                row.clear()
                row.add_class("hidden")
                error = self.query_one(f"#topic-attr-{row.number}-error", Static)
                error.add_class("hidden")
        elif event.button.id == "message-ok":
            self._submit()
        else:
            self.dismiss(None)

    # ----------------------------------------------------------------- checking

    def problems(self) -> tuple[Publication | None, dict[str, str]]:
        """The publication typed, or each field's refusal by the id of its error line."""
        found: dict[str, str] = {}
        target = self.query_one("#message-target", Input).value.strip()
        body = self.query_one("#message-body", Input).value
        subject: str | None = self.query_one("#topic-subject", Input).value or None
        if not body:
            found["message-body"] = "Empty message: give a message to publish"
        try:
            check_subject(subject)
        except TopicError as e:
            found["topic-subject"] = e.message
        attributes: dict[str, TopicAttribute] = {}
        for row in self.shown_rows():
            where = f"topic-attr-{row.number}"
            if not row.attribute_name:
                if row.value:
                    found[where] = "Name the attribute (or clear its value to leave it out)"
                continue
            if row.attribute_name in attributes:
                found[where] = f"The attribute {row.attribute_name!r} is set twice"
                continue
            attribute = TopicAttribute(row.kind, row.value)
            try:
                check_attribute(row.attribute_name, attribute)
            except TopicError as e:
                found[where] = e.message
            attributes[row.attribute_name] = attribute
        if found:
            return None, found
        return Publication(target, body, subject, attributes), {}

    def _show(self, found: dict[str, str]) -> None:
        for error in self.query(".field-error").results(Static):
            key = (error.id or "").removesuffix("-error")
            error.update(Text(found.get(key, "")))
            error.set_class(key not in found, "hidden")

    def _submit(self) -> None:
        if self.busy:
            return
        publication, found = self.problems()
        self._show(found)
        if not publication or not publication.topic:
            self._problem(
                "Not sent: fix the fields marked above."
                if found
                else f"Name the {self.what} to send to."
            )
            return
        self.busy = True
        self.run_worker(self._publish(publication), exit_on_error=False)

    async def _publish(self, publication: Publication) -> None:
        try:
            problem = await self.publish(publication)
        except Exception as e:  # noqa: BLE001 - shown, never a crash
            problem = f"{type(e).__name__}: {e}"
        self.busy = False
        if problem is None:
            self.dismiss(publication.topic)
        else:
            self._problem(problem)
