"""Tabs that left/right switch from anywhere in their content, not only from the tab strip.

Textual's ``TabbedContent`` answers left/right only while its strip has the focus; in use the
focus is in a tab's content (the log's table, the lifecycle, the sources), so switching tabs
meant shift+tab to the strip first. Here left/right are priority keys of the tabbed content
(they reach it before the focused widget) that step aside (``SkipAction``) for a widget that
uses them: text being edited, a table with a cell or column cursor, anything that scrolls
sideways right now, and the strip itself.
"""

from __future__ import annotations

from textual.actions import SkipAction
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import DataTable, Input, TabbedContent, Tabs, TextArea


def keeps_arrows(widget: Widget) -> bool:
    """Whether ``widget`` has its own use for left/right (so they must not switch tabs)."""
    if isinstance(widget, (Input, TextArea, Tabs)):
        return True
    if isinstance(widget, DataTable) and widget.cursor_type in ("cell", "column"):
        return True
    return widget.allow_horizontal_scroll and widget.max_scroll_x > 0  # left/right scroll it


class ArrowTabs(TabbedContent):
    """A ``TabbedContent`` whose tabs left/right switch while the focus is in its content; the
    focus goes with them, back to where it was in that tab (else its table, else its first
    focusable widget), so the next left/right switches again."""

    BINDINGS = [
        Binding(
            "left",
            "switch_tab(-1)",
            "Previous tab",
            id="tabs-previous",
            show=False,
            priority=True,
            tooltip="The tab to the left (when the focused widget has no use for the key)",
        ),
        Binding(
            "right",
            "switch_tab(1)",
            "Next tab",
            id="tabs-next",
            show=False,
            priority=True,
            tooltip="The tab to the right (when the focused widget has no use for the key)",
        ),
    ]

    def __init__(self, *titles: str, **kwargs: object) -> None:
        super().__init__(*titles, **kwargs)  # type: ignore[arg-type]
        self._last_focus: dict[str, Widget] = {}  # pane id -> what had the focus in it

    def action_switch_tab(self, step: int) -> None:
        focused = self.screen.focused
        if focused is None or keeps_arrows(focused) or not self.active:
            raise SkipAction()
        self._last_focus[self.active] = focused
        strip = self.query_one(Tabs)  # its own strip: the first in it
        if step > 0:
            strip.action_next_tab()
        else:
            strip.action_previous_tab()
        self.call_after_refresh(self._focus_content)

    def _focus_content(self) -> None:
        """Into the tab now shown: where the focus was in it, its table, its first focusable."""
        if not self.active:
            return
        pane = self.get_pane(self.active)
        # the screen's focus chain: focusable and shown (a hidden empty table is left out)
        focusable = [w for w in self.screen.focus_chain if pane in w.ancestors]
        remembered = self._last_focus.get(self.active)
        table = next((w for w in focusable if isinstance(w, DataTable)), None)
        if remembered in focusable:
            target: Widget | None = remembered
        else:
            target = table or (focusable[0] if focusable else None)
        (target or self.query_one(Tabs)).focus()
