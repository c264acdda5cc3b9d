"""Zoom: one pane of the main screen fills it, and the same key gives the layout back.

At 80x24 every pane is small; a user reading a long response or a log wants one pane, whole,
without losing where they were. Textual's own maximize zooms the focused *widget* (the log's
table without its tabs and filters, the editor's text without its toolbar); here the pane that
holds the focus is zoomed, with everything in it. The footer stays (it lists the pane's keys).
"""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widget import Widget

# The main screen's panes, by id: what a zoom fills the screen with
PANES = ("functions", "editor", "response", "bottom-tabs", "gauge-box")

# priority: the key zooms from any pane, the editor's text area included (it would type it)
ZOOM_BINDING = Binding(
    "ctrl+g",
    "zoom",
    "Zoom",
    id="zoom",
    priority=True,
    tooltip="Show the focused pane full screen; again to give the layout back",
)


def pane_of(node: DOMNode | None) -> Widget | None:
    """The pane (one of ``PANES``) that holds ``node``, or None when none does."""
    while node is not None:
        if isinstance(node, Widget) and node.id in PANES:
            return node
        node = node.parent
    return None


def toggle_zoom(screen: Screen[Any]) -> Widget | None:
    """Zoom the focused widget's pane, or, when one is zoomed, give the layout back.

    Returns the pane now zoomed (None when the layout is back, or nothing focused is in a pane).
    """
    if screen.maximized is not None:
        screen.minimize()
        return None
    pane = pane_of(screen.focused)
    if pane is not None:
        # Set directly: Screen.maximize() asks the widget's allow_maximize, which for a container
        # is False (only focusable widgets may be maximized by default).
        screen.maximized = pane
    return pane
