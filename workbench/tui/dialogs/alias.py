"""Alias dialogs: create or edit one (its version, one weighted additional version, a
description), and confirm a deletion.

The engine decides what is valid (Lambda's rules): the dialog is handed an ``apply`` function
that returns the engine's refusal as text (shown here; nothing changes) or None (done, close).
Only what the engine cannot be asked — a weight that is not a number — is checked here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from ...engine import LATEST, Alias, Version
from .saved_events import DIALOG_CSS

LABEL_CHARS = 36  # of a version's description in the pickers

ALIAS_CSS = """
AliasDialog .saved-events-dialog { width: 76; }
AliasDialog .field { height: auto; }
AliasDialog .field Label { width: 14; padding: 1 1 0 0; }
AliasDialog .field Input, AliasDialog .field Select { width: 1fr; }
"""


@dataclass(frozen=True)
class AliasRequest:
    """What the dialog asks for; ``extra`` None: no routing (an edit removes it)."""

    function: str
    name: str
    version: str
    extra: str | None
    weight: float | None
    description: str
    editing: bool

    @property
    def routing(self) -> dict[str, float]:
        if self.extra is None or self.weight is None:
            return {}
        return {self.extra: self.weight}


def parse_weight(text: str) -> float:
    """``0.1``, ``10%`` → 0.1; ValueError for what is not a number (range: the engine's call)."""
    text = text.strip()
    if text.endswith("%"):
        value = float(text[:-1]) / 100
    else:
        value = float(text)
    if math.isnan(value):
        raise ValueError(text)
    return value


class AliasDialog(ModalScreen[str | None]):
    """Create (``alias`` None) or edit an alias; dismisses with its name once the engine agrees."""

    DEFAULT_CSS = "AliasDialog { align: center top; }" + DIALOG_CSS + ALIAS_CSS

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="alias-cancel", tooltip="Close, unchanged"),
    ]

    def __init__(
        self,
        function: str,
        versions: list[Version],
        apply: Callable[[AliasRequest], str | None],
        alias: Alias | None = None,
        version: str | None = None,
    ) -> None:
        super().__init__()
        self.function = function
        self.versions = versions
        self.apply = apply
        self.alias = alias
        self.initial_version = alias.function_version if alias else (version or LATEST)

    def compose(self) -> ComposeResult:
        alias = self.alias
        editing = alias is not None
        title = (
            f"Edit alias {alias.name} of {self.function}"
            if alias
            else (f"New alias of {self.function}")
        )
        published = self._published()
        main = [(LATEST, LATEST), *published]
        extra, weight = next(iter(alias.routing.items()), (None, None)) if alias else (None, None)
        with Vertical(classes="saved-events-dialog"):
            yield Label(Text(title), classes="dialog-title")
            with Horizontal(classes="field"):
                yield Label("Name")
                yield Input(
                    alias.name if alias else "",
                    placeholder="e.g. live (letters, digits, -, _; not all digits)",
                    id="alias-name",
                    disabled=editing,
                )
            with Horizontal(classes="field"):
                yield Label("Version")
                initial = self.initial_version
                if initial not in {value for _, value in main}:
                    initial = LATEST
                yield Select(main, allow_blank=False, value=initial, id="alias-version")
            with Horizontal(classes="field"):
                yield Label("Also route to")
                others = self._published(but=initial)
                yield Select(
                    others,
                    prompt="no other version",
                    value=extra if extra in {v for _, v in others} else Select.NULL,
                    id="alias-extra",
                )
            with Horizontal(classes="field"):
                yield Label("Its weight")
                yield Input(
                    "" if weight is None else f"{weight:g}",
                    placeholder="0 to 1, e.g. 0.1 (or 10%)",
                    id="alias-weight",
                )
            with Horizontal(classes="field"):
                yield Label("Description")
                yield Input(alias.description if alias else "", id="alias-description")
            yield Static(classes="dialog-hint", id="alias-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save" if editing else "Create", variant="primary", id="alias-ok")
                yield Button("Cancel", id="alias-cancel")

    def _published(self, but: str | None = None) -> list[tuple[str, str]]:
        """The published versions to pick from, newest first; ``but``: the alias's own version,
        which is never offered as the one it also routes to."""
        return [
            (self._label(v), str(v.number)) for v in reversed(self.versions) if str(v.number) != but
        ]

    @staticmethod
    def _label(version: Version) -> str:
        """``3  first release`` on one line."""
        about = version.description.splitlines()[0] if version.description else ""
        if len(about) > LABEL_CHARS:
            about = about[: LABEL_CHARS - 1] + "…"
        return f"{version.number}  {about}".rstrip()

    def on_mount(self) -> None:
        self._preview()
        if self.alias is not None:
            self.query_one("#alias-version", Select).focus()

    # ----------------------------------------------------------------- the form

    def _value(self, selector: str) -> str | None:
        value = self.query_one(selector, Select).value
        return None if value is Select.NULL else str(value)

    def _form(self) -> AliasRequest | str:
        """The request, or what is wrong with the form before the engine is asked."""
        name = self.query_one("#alias-name", Input).value.strip()
        version = self._value("#alias-version") or LATEST
        extra = self._value("#alias-extra")
        text = self.query_one("#alias-weight", Input).value.strip()
        description = self.query_one("#alias-description", Input).value
        weight: float | None = None
        if text:
            try:
                weight = parse_weight(text)
            except ValueError:
                return f"The weight {text!r} is not a number: give one from 0 to 1, e.g. 0.1."
        if extra is not None and weight is None:
            return f"Give version {extra} a weight from 0 to 1 (its share of the traffic)."
        if extra is None and weight is not None:
            return "Pick the additional version the weight is for, or clear the weight."
        if extra is not None and extra == version:
            return f"Version {extra} is the alias's own version: route to another one, or to none."
        return AliasRequest(
            self.function, name, version, extra, weight, description, self.alias is not None
        )

    def _preview(self) -> None:
        """Say, as it is typed, where the traffic would go (or what is wrong)."""
        form = self._form()
        hint = self.query_one("#alias-hint", Static)
        if isinstance(form, str):
            hint.add_class("error")
            hint.update(Text(form))
            return
        hint.remove_class("error")
        target = "$LATEST" if form.version == LATEST else f"version {form.version}"
        if form.weight is None:
            hint.update(Text(f"Every invocation of the alias runs {target}."))
        elif 0.0 <= form.weight <= 1.0:
            hint.update(
                Text(
                    f"{100 * (1 - form.weight):g}% of invocations run {target}, "
                    f"{100 * form.weight:g}% version {form.extra}."
                )
            )
        else:
            hint.add_class("error")
            hint.update(Text(f"A weight is from 0 to 1; {form.weight:g} is not."))

    def on_input_changed(self, event: Input.Changed) -> None:
        self._preview()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "alias-version":
            self._offer_others(str(event.value))
        if event.select.id == "alias-extra" and event.value is Select.NULL:
            self.query_one("#alias-weight", Input).value = ""  # no other version: no weight
        self._preview()

    def _offer_others(self, version: str) -> None:
        """The alias's version changed: the other versions are every published one but it (the
        one picked stays picked, unless it is now the alias's own version)."""
        extra = self.query_one("#alias-extra", Select)
        picked = extra.value
        with self.prevent(Select.Changed):
            extra.set_options(self._published(but=version))
            if picked is not Select.NULL and str(picked) != version:
                extra.value = picked
        if extra.value is Select.NULL and picked is not Select.NULL:
            self.query_one("#alias-weight", Input).value = ""  # its weight went with it

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "alias-ok":
            self._submit()
        else:
            self.dismiss(None)

    def _submit(self) -> None:
        form = self._form()
        problem = form if isinstance(form, str) else self.apply(form)
        if problem is None:
            assert isinstance(form, AliasRequest)
            self.dismiss(form.name)
            return
        hint = self.query_one("#alias-hint", Static)
        hint.add_class("error")
        hint.update(Text(problem))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmAliasDelete(ModalScreen[bool]):
    """Asks before an alias is deleted; dismisses with True to delete."""

    DEFAULT_CSS = "ConfirmAliasDelete { align: center top; }" + DIALOG_CSS

    BINDINGS = [
        Binding("y", "answer(True)", "Delete", id="alias-delete-yes", tooltip="Delete it"),
        Binding("n,escape", "answer(False)", "Keep", id="alias-delete-no", tooltip="Keep it"),
    ]

    def __init__(self, function: str, alias: str) -> None:
        super().__init__()
        self.function = function
        self.alias_name = alias

    def compose(self) -> ComposeResult:
        with Vertical(classes="saved-events-dialog"):
            yield Label(
                Text(f"Delete the alias {self.alias_name} of {self.function}?"),
                classes="dialog-title",
            )
            yield Static(
                f"Invocations of {self.function}:{self.alias_name} fail once it is gone; its "
                "versions stay.  y delete · n keep",
                classes="dialog-hint",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Delete", variant="error", id="alias-delete-yes")
                yield Button("Keep", id="alias-delete-no")

    def on_mount(self) -> None:
        self.query_one("#alias-delete-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "alias-delete-yes")

    def action_answer(self, delete: bool) -> None:
        self.dismiss(delete)
