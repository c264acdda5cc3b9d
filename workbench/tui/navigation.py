"""Moving around the main screen: a key per pane (1-5, in the footer) and j/k in tables.

The keys are the screen's, not priority ones: a text field that has the focus (the event
editor, the log's find box) takes a typed digit or letter before the screen sees it, so they
only move the focus when it is on a table, a tab or a button.
"""

from __future__ import annotations

from typing import Any

from textual.actions import SkipAction
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, TabbedContent

# key -> (pane id, the widget in it that takes the focus, the footer's name for it)
PANE_KEYS: dict[str, tuple[str, str, str]] = {
    "1": ("functions", "#functions-table", "Functions"),
    "2": ("editor", "#event-text", "Event"),
    "3": ("response", "#response-scroll", "Response"),
    "4": ("bottom-tabs", "#log DataTable", "Log"),
    "5": ("bottom-tabs", "#sources", "Sources"),
}

NAVIGATION_BINDINGS = [
    *(
        Binding(key, f"focus_pane('{key}')", name, id=f"pane-{key}", tooltip=f"Focus {name}")
        for key, (_, _, name) in PANE_KEYS.items()
    ),
    Binding("j", "table_cursor(1)", "Down", id="table-down", show=False, tooltip="Next row"),
    Binding("k", "table_cursor(-1)", "Up", id="table-up", show=False, tooltip="Previous row"),
]


def focus_pane(screen: Screen[Any], key: str) -> Widget | None:
    """Focus the pane bound to ``key`` (its tab shown first); None when it cannot take it."""
    pane_id, selector, _ = PANE_KEYS[key]
    if key in ("4", "5"):
        tabs = screen.query_one("#bottom-tabs", TabbedContent)
        tabs.active = "tab-log" if key == "4" else "tab-sources"
    if screen.maximized is not None and screen.maximized.id != pane_id:
        screen.minimize()  # zoomed on another pane: the layout comes back, as the key asks
    target = screen.query_one(selector, Widget)
    if not target.focusable:
        target = next((w for w in target.query("*") if w.focusable), target)
    target.focus()
    return target


def move_table_cursor(screen: Screen[Any], step: int) -> None:
    """j/k: the focused table's cursor a row down/up (any other widget keeps the key)."""
    table = screen.focused
    if not isinstance(table, DataTable):
        raise SkipAction()
    if step > 0:
        table.action_cursor_down()
    else:
        table.action_cursor_up()
