"""The focused pane's border in the accent colour, set inline on that pane alone.

A ``:focus-within`` rule makes Textual restyle every widget inside the pane whose focus changed
(the log's pane holds three tabs of tables, filters and inputs: ~150 style passes per focus
change, most of the ~130 ms a pane key took to show). An inline border on the pane itself is
one style change and one redraw. The response pane keeps its CSS rule: its subtree is small,
and its red border for a failed invocation must win over the focus colour.
"""

from __future__ import annotations

from typing import Any

from textual.color import Color
from textual.screen import Screen
from textual.widget import Widget

from .zoom import pane_of

PAINTED = ("functions", "editor", "bottom-tabs")  # (#response: app.tcss's :focus-within)
EDGES = ("border_top", "border_right", "border_bottom", "border_left")


class PaneHighlight:
    """Follows ``screen``'s focus and paints the focused pane's border."""

    def __init__(self, screen: Screen[Any]) -> None:
        self.screen = screen
        self.current: Widget | None = None

    def follow(self) -> None:
        self.screen.watch(self.screen, "focused", self._focused, init=True)
        self.screen.app.theme_changed_signal.subscribe(self.screen, lambda _theme: self._paint())

    def _focused(self, focused: Widget | None) -> None:
        pane = pane_of(focused)
        if pane is not None and pane.id not in PAINTED:
            pane = None
        if pane is self.current:
            return
        previous, self.current = self.current, pane
        if previous is not None:  # back to app.tcss's border
            for edge in EDGES:
                previous.styles.clear_rule(edge)
            previous.refresh()
        self._paint()

    def _paint(self) -> None:
        if self.current is None:
            return
        accent = self.screen.app.theme_variables.get("accent")
        if accent is not None:
            self.current.styles.border = ("round", Color.parse(accent))
