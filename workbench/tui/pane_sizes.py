"""The main screen's panes sized by the focus when the terminal is small, as lazygit and k9s do.

At 80x24 the panes cannot all be usable at once: under 30 rows the half of the screen that holds
the focus (the functions, event and response panes above, or the log's tabs below) takes the
height and the other half keeps a title line or two; under 100 columns the event editor and the
response are stacked (app.tcss), and under 30 rows as well the response with the focus folds
the editor to its title. Wider and taller, the layout is app.tcss's alone.

Heights are set inline, on the few containers that change (``styles.height``): a class on the
screen or on a pane would restyle every widget under it on each focus change (see
pane_focus.py), an inline height is one style change and a layout.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widget import Widget

from .zoom import pane_of

BELOW = ("bottom-tabs", "gauge-box")  # the panes of the lower half
TOP_FOLDED = 4  # the upper half while the log has the focus: each pane's title and a row
BOTTOM_FOLDED = 5  # the lower half while a pane above has it: its tabs and a row
FOLDED = 2  # a stacked pane without the focus, under 30 rows: its title line
# the title a folded pane shows (its key; app.tcss gives the panes no title when there is room)
TITLES = {"functions": "1 Functions", "editor": "2 Event", "response": "3 Response"}


def stacked(where: str | None) -> tuple[str | int, str | int]:
    """The stacked editor's and response's heights under 30 rows with the focus ``where``: the
    response with the focus folds the editor to its title (the editor with the focus keeps half:
    an invocation's result shows under it), the log with the focus folds both. (Taller, they
    share the height evenly: app.tcss.)"""
    if where in BELOW:
        return FOLDED, FOLDED
    return (FOLDED, "1fr") if where == "response" else ("1fr", "1fr")


class PaneSizes:
    """Follows ``screen``'s focus and size classes and sets the halves' and panes' heights."""

    def __init__(self, screen: Screen[Any]) -> None:
        self.screen = screen
        self._applied: tuple[object, ...] | None = None

    def follow(self) -> None:
        self.screen.watch(self.screen, "focused", lambda _focused: self.update(), init=True)

    def update(self) -> None:
        """Set the heights for the focus and the screen's size now (nothing when unchanged)."""
        screen = self.screen
        short, narrow = screen.has_class("-short"), screen.has_class("-narrow")
        pane = pane_of(screen.focused)
        where = pane.id if pane is not None else None
        state = (short, narrow, where)
        if state == self._applied:
            return
        self._applied = state
        top, bottom = screen.query_one("#top", Widget), screen.query_one("#bottom", Widget)
        editor, response = screen.query_one("#editor", Widget), screen.query_one("#response")
        functions = screen.query_one("#functions", Widget)
        below = where in BELOW
        heights: dict[Widget, str | int | None] = {top: None, bottom: None}
        heights[editor] = heights[response] = None
        if short:  # the focused half takes the height
            heights[top] = TOP_FOLDED if below else "1fr"
            heights[bottom] = "1fr" if below else BOTTOM_FOLDED
        if narrow and short:  # stacked, and no room for both
            heights[editor], heights[response] = stacked(where)
        for widget, height in heights.items():
            if height is None:
                widget.styles.clear_rule("height")
            else:
                widget.styles.height = height
        folded = short or narrow
        for widget in (functions, editor, response):
            title = TITLES[widget.id or ""] if folded else None
            if widget.border_title != title:
                widget.border_title = title
