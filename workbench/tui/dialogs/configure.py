"""The configuration dialog: memory, timeout, ephemeral storage, reserved concurrency and the
environment variables of a function, written back into its ``function.toml``.

What Lambda's API would refuse is refused here first, beside the field, in the API's own words
(``engine/config/update_rules.py`` holds both the ranges and the wording). What only the engine
can decide (the account's unreserved minimum, the 4 KB of variables, a file that cannot be
written) comes back from the ``apply`` coroutine as a ``Refusal`` naming its field. A function a
SAM or CDK template defines is shown read-only: its settings are the template's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from ...engine.config import (
    EPHEMERAL_STORAGE,
    RANGES,
    RESERVED_CONCURRENCY,
    env_name_violation,
    range_violation,
    reserved_env_refusal,
)
from .saved_events import DIALOG_CSS

FIELDS = ("memory", "timeout", "storage", "concurrency", "environment")
_RANGE = {field: (low, high) for _, field, low, high in RANGES}
# field → (the API's name for it in messages, low, high, unit)
NUMBERS: dict[str, tuple[str, int, int | None, str]] = {
    "memory": ("memorySize", *_RANGE["memorySize"], "MB"),
    "timeout": ("timeout", *_RANGE["timeout"], "s"),
    "storage": (EPHEMERAL_STORAGE[0], EPHEMERAL_STORAGE[1], EPHEMERAL_STORAGE[2], "MB"),
    "concurrency": (RESERVED_CONCURRENCY[0], RESERVED_CONCURRENCY[1], None, ""),
}
LABELS = {
    "memory": "Memory (MB)",
    "timeout": "Timeout (s)",
    "storage": "/tmp (MB)",
    "concurrency": "Reserved",
    "environment": "Environment",
}

CONFIGURE_CSS = """
ConfigureDialog .saved-events-dialog { width: 76; max-width: 100%; }
ConfigureDialog #config-fields { height: auto; max-height: 12; }
ConfigureDialog .config-row { height: auto; }
ConfigureDialog .config-row Label { width: 14; }
ConfigureDialog .config-row Input { width: 1fr; background: $boost; }
ConfigureDialog TextArea { height: 4; width: 1fr; background: $boost; }
ConfigureDialog .field-error { color: $text-error; height: auto; margin-left: 14; }
ConfigureDialog .field-error.hidden { display: none; }
"""


@dataclass(frozen=True)
class Settings:
    """The settings the dialog edits; ``reserved_concurrency`` None: none reserved."""

    memory_size: int
    timeout: int
    ephemeral_storage: int
    reserved_concurrency: int | None
    environment: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Refusal:
    """Why the settings were not applied; ``field`` one of ``FIELDS``, or "" for the dialog."""

    field: str
    message: str


Apply = Callable[[Settings], Awaitable[Refusal | None]]


def parse_environment(text: str) -> tuple[dict[str, str], str | None]:
    """``NAME=value`` a line (blank lines skipped) → the variables, or what is wrong (where)."""
    variables: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not name:
            return variables, f"line {number}: expected NAME=value, got {line.strip()[:40]!r}"
        if name in variables:
            return variables, f"line {number}: {name} is set twice"
        variables[name] = value
    return variables, None


def environment_text(variables: Mapping[str, str]) -> str:
    return "\n".join(f"{name}={value}" for name, value in variables.items())


def check_number(field: str, text: str) -> tuple[int | None, str | None]:
    """A number field's value (None: empty) and its violation in the API's words, if any."""
    name, low, high, unit = NUMBERS[field]
    text = text.strip()
    if not text:
        if field == "concurrency":
            return None, None  # none reserved
        return None, f"Give a value: {name} takes {low} to {high} {unit}".rstrip()
    try:
        value = int(text)
    except ValueError:
        upper = f" to {high}" if high is not None else " or more"
        return None, f"{text!r} is not a whole number: {name} takes {low}{upper} {unit}".rstrip()
    return value, range_violation(value, name, low, high)


def check_environment(text: str) -> tuple[dict[str, str], str | None]:
    """The variables and the first refusal the API would give them (names, then reserved)."""
    variables, problem = parse_environment(text)
    if problem is None:
        problem = env_name_violation(variables) or reserved_env_refusal(variables)
    return variables, problem


class ConfigureDialog(ModalScreen[bool]):
    """Edits one function's settings; dismisses with True once they are written and applied.

    ``read_only``: why the settings cannot be changed here (a template's function): shown
    instead of a Save button, the fields disabled.
    """

    DEFAULT_CSS = "ConfigureDialog { align: center top; }" + DIALOG_CSS + CONFIGURE_CSS

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="configure-cancel", tooltip="Close, unchanged"),
        Binding("ctrl+s", "save", "Save", id="configure-save", tooltip="Write function.toml"),
    ]

    def __init__(
        self, function: str, current: Settings, apply: Apply, *, read_only: str | None = None
    ) -> None:
        super().__init__()
        self.function = function
        self.current = current
        self.apply = apply
        self.read_only = read_only
        self.busy = False

    def compose(self) -> ComposeResult:
        c = self.current
        values = {
            "memory": str(c.memory_size),
            "timeout": str(c.timeout),
            "storage": str(c.ephemeral_storage),
            "concurrency": "" if c.reserved_concurrency is None else str(c.reserved_concurrency),
        }
        locked = self.read_only is not None
        with Vertical(classes="saved-events-dialog"):
            yield Label(Text(f"Configure {self.function}"), classes="dialog-title")
            with VerticalScroll(id="config-fields"):
                for key, value in values.items():
                    with Horizontal(classes="config-row"):
                        yield Label(LABELS[key])
                        yield Input(
                            value,
                            placeholder="none" if key == "concurrency" else "",
                            id=f"config-{key}",
                            compact=True,
                            disabled=locked,
                        )
                    yield Static(classes="field-error hidden", id=f"config-{key}-error")
                with Horizontal(classes="config-row"):
                    yield Label(LABELS["environment"])
                    area = TextArea(
                        environment_text(c.environment),
                        id="config-environment",
                        soft_wrap=False,
                        disabled=locked,
                        compact=True,
                    )
                    area.tab_behavior = "focus"
                    yield area
                yield Static(classes="field-error hidden", id="config-environment-error")
            hint = (
                self.read_only
                if locked
                else "One NAME=value a line. Empty reserved: none reserved. ctrl+s saves."
            )
            yield Static(
                Text(hint or ""),
                classes="dialog-hint error" if locked else "dialog-hint",
                id="config-hint",
            )
            with Horizontal(classes="dialog-buttons"):
                if not locked:
                    yield Button("Save", variant="primary", id="config-ok", compact=True)
                yield Button("Close" if locked else "Cancel", id="config-cancel", compact=True)

    def on_mount(self) -> None:
        if self.read_only is None:
            self.query_one("#config-memory", Input).focus()
        else:
            self.query_one("#config-cancel", Button).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "config-ok":
            self.action_save()
        else:
            self.dismiss(False)

    # ----------------------------------------------------------------- checking

    def problems(self) -> tuple[Settings | None, dict[str, str]]:
        """The settings typed, or each field's violation (by field)."""
        found: dict[str, str] = {}
        numbers: dict[str, int | None] = {}
        for key in NUMBERS:
            numbers[key], problem = check_number(key, self.query_one(f"#config-{key}", Input).value)
            if problem:
                found[key] = problem
        variables, problem = check_environment(self.query_one(TextArea).text)
        if problem:
            found["environment"] = problem
        if found:
            return None, found
        settings = Settings(
            memory_size=numbers["memory"] or 0,
            timeout=numbers["timeout"] or 0,
            ephemeral_storage=numbers["storage"] or 0,
            reserved_concurrency=numbers["concurrency"],
            environment=variables,
        )
        return settings, {}

    def show_problems(self, found: Mapping[str, str], general: str | None = None) -> None:
        """Each field's problem beside it (the others cleared); ``general`` in the hint."""
        for key in FIELDS:
            error = self.query_one(f"#config-{key}-error", Static)
            error.update(Text(found.get(key, "")))
            error.set_class(key not in found, "hidden")
        hint = self.query_one("#config-hint", Static)
        if general is not None or found:
            hint.add_class("error")
            hint.update(Text(general or "Not saved: fix the fields marked above."))

    # ----------------------------------------------------------------- saving

    def action_save(self) -> None:
        if self.busy or self.read_only is not None:
            return
        settings, found = self.problems()
        if settings is None:
            self.show_problems(found)
            return
        if settings == self.current:  # nothing to write: the file stays as it is
            self.notify("No setting changed: nothing was written.", title="Configure")
            self.dismiss(False)
            return
        self.busy = True
        self.show_problems({}, "Saving…")
        self.query_one("#config-hint", Static).remove_class("error")
        self.run_worker(self._apply(settings), exit_on_error=False)

    async def _apply(self, settings: Settings) -> None:
        try:
            refusal = await self.apply(settings)
        except Exception as e:  # noqa: BLE001 - shown, never a crash
            refusal = Refusal("", f"{type(e).__name__}: {e}")
        self.busy = False
        if refusal is None:
            self.dismiss(True)
        elif refusal.field in FIELDS:
            self.show_problems({refusal.field: refusal.message})
        else:
            self.show_problems({}, refusal.message)

    def action_cancel(self) -> None:
        self.dismiss(False)
