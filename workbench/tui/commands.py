"""Command-palette entries for every action, namespaced: "function: Invoke", "view: Help"….

Actions run through ``App.run_action`` on the node that has them (the app for its global keys,
else the workbench pane that owns the key), as a key would run them, so an action that declines
(``SkipAction``) or is missing does no harm. App-level bindings this module does not know yet
still get an "app: …" entry, read from the binding itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode
from textual.widgets import Select, TabbedContent, Tabs

from ..engine.shapes import template_choices
from .widgets.editor import EventEditor
from .widgets.functions import FunctionRow, FunctionsPane, VersionRow

# action → (palette name, help); their keys are read from the bindings
KNOWN_ACTIONS: dict[str, tuple[str, str]] = {
    "invoke": (
        "function: Invoke",
        "Invoke the selected function, version or alias with the editor's event",
    ),
    "publish": ("function: Publish version", "Publish the selected function's $LATEST"),
    "configure": (
        "function: Configure…",
        "Memory, timeout, /tmp, reserved concurrency and environment variables of the "
        "selected function (written into its function.toml)",
    ),
    "new_alias": ("alias: Create…", "Create an alias of the selected function"),
    "edit_alias": ("alias: Edit…", "Change the selected alias: version, weight, description"),
    "delete_alias": ("alias: Delete…", "Delete the selected alias (asks first)"),
    "toggle_rerun": (
        "function: Toggle re-run on save",
        "After each save, invoke the selected function's last event again and compare",
    ),
    "toggle_debug_api": (
        "debug: Toggle debugging API calls",
        "Let a breakpoint() reached by a Lambda API or HTTP route call stop, or skip it",
    ),
    "cancel": ("function: Cancel invocation", "Stop the running invocations"),
    "replay": (
        "log: Replay the selected invocation",
        "Run it again: same event, qualifier, client context",
    ),
    "open_record": (
        "log: Open the selected record",
        "Its event, response, log and lifecycle",
    ),
    "focus_text": (
        "log: Find…",
        "Filter the log by text: request id, function, trigger, error type, log text",
    ),
    "clear_event": ("event: Clear", "Empty the editor's event (an empty event is sent as {})"),
    "select_event": ("event: Select all", "Select the whole event, to replace it"),
    "save_event": ("event: Save…", "Save the editor's event under a name for this function"),
    "load_event": ("event: Load…", "Load one of this function's saved events"),
    "queue_send": ("queue: Send a message…", "Put a message on a local queue"),
    "queue_purge": (
        "queue: Purge…",
        "Delete every message of the queue selected in the Sources tab (asks first)",
    ),
    "topic_publish": (
        "topic: Publish a message…",
        "Publish to a topic, with a subject and attributes if wanted: every subscribed "
        "function gets an SNS event",
    ),
    "copy_response": (
        "response: Copy the response",
        "The response shown, as the function returned it, to the clipboard (c in the pane)",
    ),
    "copy_request_id": (
        "response: Copy the request id",
        "The request id of the invocation shown, to the clipboard (i in the pane)",
    ),
    "copy_log": (
        "response: Copy the log",
        "The log lines of the invocation shown, START to REPORT, to the clipboard (l)",
    ),
    "debugger": ("debug: Show the paused invocation", "Open the debugger pane on a breakpoint"),
    "help": ("view: Help", "Every key the workbench answers to"),
    "quit": ("app: Quit", "Quit; every environment is shut down"),
}

VIEWS = {
    "tab-log": "view: Invocations",
    "tab-lifecycle": "view: Lifecycle",
    "tab-sources": "view: Sources (queues, schedules, buckets, routes, topics)",
}


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Callable[[], object]


class WorkbenchCommands(Provider):
    """The workbench's actions, functions, templates and views, by name."""

    def commands(self) -> list[Command]:
        app = self.app
        keys: dict[str, str] = {}
        described: dict[str, str] = {}
        for _key, binding in app._bindings:
            if binding.system:
                continue
            keys.setdefault(binding.action, app.get_key_display(binding))
            described.setdefault(binding.action, binding.tooltip or binding.description)
        for pane in self.screen.query(FunctionsPane):  # the keys of the selected function
            for _key, binding in pane._bindings:
                keys.setdefault(binding.action, app.get_key_display(binding))

        def with_key(action: str, text: str) -> str:
            return f"{text} ({keys[action]})" if action in keys else text

        out: list[Command] = []
        for action, (name, text) in KNOWN_ACTIONS.items():
            target = self._target(action)
            if target is not None:
                run = partial(app.run_action, action, target)
                out.append(Command(name, with_key(action, text), run))
        for action, text in described.items():  # app bindings added since this was written
            if action not in KNOWN_ACTIONS and action != "command_palette":
                name = f"app: {text or action.replace('_', ' ')}"
                out.append(Command(name, with_key(action, text), partial(app.run_action, action)))
        out.extend(self._functions())
        out.extend(self._templates())
        out.extend(self._views())
        return out

    def _target(self, action: str) -> DOMNode | None:
        """The node with ``action_<action>``: the app, or a widget of the workbench screen (the
        first on the stack: the palette may be opened over another screen)."""
        app = self.app
        workbench = app.screen_stack[0]
        for node in (app, workbench, *workbench.walk_children()):
            if callable(getattr(node, f"action_{action}", None)):
                return node
        return None

    def _functions(self) -> Iterator[Command]:
        panes = self.screen.query(FunctionsPane)
        if not panes:
            return
        pane = panes.first()
        for row in pane.all_rows():
            if isinstance(row, FunctionRow):
                text = "Select it to invoke"
                if row.problem:
                    text = "config error: see the functions pane"
            elif isinstance(row, VersionRow):
                text = f"Version {row.qualifier}: select it to invoke it"
            else:
                text = f"Alias {row.qualifier}: select it to invoke, edit or delete it"
            yield Command(
                f"function: Select {row.key}", text, partial(self._select_function, pane, row.key)
            )

    @staticmethod
    def _select_function(pane: FunctionsPane, key: str) -> None:
        pane.select(key)
        pane.query_one("#functions-table").focus()

    def _templates(self) -> Iterator[Command]:
        editors = self.screen.query(EventEditor)
        if not editors:
            return
        editor = editors.first()
        for label, key in template_choices():
            service_event, _, description = label.partition(" — ")
            yield Command(
                f"event: Template {service_event}",
                description or "Fill the editor with a fresh sample event",
                partial(self._apply_template, editor, key),
            )

    @staticmethod
    def _apply_template(editor: EventEditor, key: str) -> None:
        pickers = editor.query("#template")
        if pickers:  # keep the picker in step without applying the template twice
            picker = pickers.first(Select)
            with picker.prevent(Select.Changed):
                picker.value = key
        editor.apply_template(key)

    def _views(self) -> Iterator[Command]:
        for tabs in self.screen.query(TabbedContent):
            for pane_id, name in VIEWS.items():
                if tabs.query(f"#{pane_id}"):
                    yield Command(
                        name, "Show it in the bottom pane", partial(self._show, tabs, pane_id)
                    )

    @staticmethod
    def _show(tabs: TabbedContent, pane_id: str) -> None:
        tabs.active = pane_id
        tabs.query_one(Tabs).focus()

    # ----------------------------------------------------------------- Provider

    async def discover(self) -> Hits:
        for command in self.commands():
            yield DiscoveryHit(command.name, command.run, text=command.name, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self.commands():
            score = matcher.match(command.name)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(command.name),
                    command.run,
                    text=command.name,
                    help=command.help,
                )
