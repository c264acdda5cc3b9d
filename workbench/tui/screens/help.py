"""The help screen: every key the app, the focused pane and the workbench's other panes answer
to, grouped, read from their bindings.

It is built from the live ``Binding`` objects, so a binding added anywhere shows up here with no
list to keep in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

KEY_WIDTH = 16


@dataclass(frozen=True)
class KeyHelp:
    key: str  # as shown to the user, e.g. "^r"
    description: str
    tooltip: str


@dataclass(frozen=True)
class HelpSection:
    title: str
    keys: list[KeyHelp]


# a class that changes how a Textual widget draws, not what it is: named as that widget
SHOWN_AS = {"KeptTable": "DataTable"}


def _title(node: DOMNode) -> str:
    if isinstance(node, App):
        return "Everywhere"
    if isinstance(node, Screen):
        return "This screen"
    name = type(node).__name__
    name = SHOWN_AS.get(name, name)
    return f"{name} #{node.id}" if node.id else name


def help_sections(screen: Screen[object]) -> list[HelpSection]:
    """The bindings of the app, the screen and the focused widget's chain, app first.

    A key a nearer node also binds is listed where it takes effect: a priority binding on the
    app wins over a widget's; otherwise the widget nearest the focus wins. System bindings
    (Textual's own ctrl+c hint) are left out.
    """
    app = screen.app
    focused = screen.focused
    chain: list[DOMNode] = (
        list(focused.ancestors_with_self) if focused is not None else [screen, app]
    )
    if app not in chain:
        chain.append(app)
    # Which node handles each key: priority bindings from the app down, then from the focus up.
    owner: dict[str, DOMNode] = {}
    for node in reversed(chain):
        for key, binding in node._bindings:
            if binding.priority and key not in owner:
                owner[key] = node
    for node in chain:
        for key, binding in node._bindings:
            if not binding.priority and key not in owner:
                owner[key] = node
    sections = []
    for node in reversed(chain):  # the app first: its keys work everywhere
        keys: list[KeyHelp] = []
        seen: set[tuple[str, str]] = set()
        for key, binding in node._bindings:
            if binding.system or owner.get(key) is not node:
                continue
            shown = app.get_key_display(binding)
            if (shown, binding.action) in seen:
                continue
            seen.add((shown, binding.action))
            keys.append(KeyHelp(shown, _description(binding), binding.tooltip))
        if keys:
            sections.append(HelpSection(_title(node), keys))
    return sections


# The workbench's panes, as the help names them (any other pane of ours: its class name).
PANE_TITLES = {
    "FunctionsPane": "Functions pane",
    "EventEditor": "Event editor",
    "InvocationLog": "Invocations log",
    "SourcesPane": "Sources tab",
    "ResponsePane": "Response pane",
    "ArrowTabs": "Log, Lifecycle and Sources tabs",
}


def pane_sections(screen: Screen[object], shown: list[HelpSection]) -> list[HelpSection]:
    """Every other pane's keys, grouped by pane (they work once it has the focus): the
    workbench's own widgets that declare keys, those already listed left out."""
    app = screen.app
    listed = {s.title for s in shown}
    sections = []
    for node in screen.walk_children():
        if "BINDINGS" not in type(node).__dict__ or not type(node).__module__.startswith(
            "workbench."
        ):
            continue
        title = PANE_TITLES.get(type(node).__name__, _title(node))
        if title in listed or _title(node) in listed:
            continue
        keys = [  # its own keys (not the scrolling a container it is built on answers to)
            KeyHelp(app.get_key_display(b), _description(b), b.tooltip)
            for b in _own_bindings(type(node))
            if not b.system
        ]
        if keys:
            listed.add(title)
            sections.append(HelpSection(f"{title} (when it has the focus)", keys))
    return sections


def _own_bindings(cls: type) -> list[Binding]:
    """The bindings the workbench's classes in ``cls``'s ancestry declare, nearest first."""
    found: list[Binding] = []
    for klass in cls.__mro__:
        if klass.__module__.startswith("workbench."):
            found += [b for b in klass.__dict__.get("BINDINGS", []) if isinstance(b, Binding)]
    return found


def _description(binding: Binding) -> str:
    if binding.description:
        return binding.description
    return binding.action.rpartition(".")[2].replace("_", " ").capitalize()


def section_content(section: HelpSection) -> Content:
    lines = [Content.styled(section.title, "bold $accent")]
    for k in section.keys:
        lines.append(
            Content.assemble(
                (f"  {k.key}".ljust(KEY_WIDTH), "bold $text"),
                (k.description, ""),
                (f" — {k.tooltip}" if k.tooltip and k.tooltip != k.description else "", "dim"),
            )
        )
    return Content("\n").join(lines)


class HelpScreen(ModalScreen[None]):
    """Lists the keys of ``under`` (the screen it was opened from); escape closes it."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > #help {
        width: 90%;
        max-width: 100;
        height: 90%;
        border: round $accent;
        border-title-color: $accent;
        border-subtitle-color: $text-muted;
        background: $surface;
        padding: 0 1;
    }
    HelpScreen .help-section {
        margin-bottom: 1;
    }
    """

    BINDINGS = [
        Binding("escape", "close", "Close", id="help-close", tooltip="Close the help"),
        Binding("f1", "close", "Close", id="help-close-f1", show=False, tooltip="Close the help"),
        Binding("question_mark", "close", "Close", id="help-close-q", show=False, tooltip="Close"),
    ]

    def __init__(self, under: Screen[object]) -> None:
        super().__init__()
        self.sections = help_sections(under)
        if under is under.app.screen_stack[0]:  # the workbench: its other panes' keys too
            self.sections += pane_sections(under, self.sections)

    def compose(self) -> ComposeResult:
        with Vertical(id="help") as box:
            box.border_title = "Keys"
            box.border_subtitle = "esc closes · ctrl+p for every command by name"
            with VerticalScroll(id="help-scroll"):
                for section in self.sections:
                    yield Static(section_content(section), classes="help-section")

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()

    def action_close(self) -> None:
        self.dismiss(None)

    def text(self) -> str:
        """The listing as plain text (for tests)."""
        return "\n\n".join(section_content(s).plain for s in self.sections)
