"""The invocation log's table and status line: a DataTable that tells the log when the user
moved its cursor (which pauses following), and a line of fields shown whole or not at all.
"""

from __future__ import annotations

from collections.abc import Callable

from textual import events
from textual.binding import Binding
from textual.widgets import DataTable, Static

from ..log_order import SortOrder
from .kept_table import KeptTable

# a sorted column's header: its label and the arrow, or a shorter label where both do not fit
SHORT_LABELS = {"request": "Req", "billed": "Bill", "memory": "Mem", "start": "St"}


def header_label(label: str, key: str, width: int, sort: SortOrder) -> str:
    if key != sort.column:
        return label
    if len(label) + 2 > width:
        label = SHORT_LABELS.get(key, label[: max(1, width - 2)])
    return f"{label} {sort.arrow}"


class LogTable(KeptTable):
    """A DataTable where one click on a row opens it (DataTable's own needs two), and which
    tells its log when the user (not a merge) moved the cursor: that pauses following."""

    BINDINGS = [
        Binding("home,g", "scroll_top", "Newest", show=False, tooltip="The top row"),
        Binding("end,G", "scroll_bottom", "Oldest", show=False, tooltip="The last row"),
    ]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.user_moved: Callable[[int, int], None] | None = None  # (row before, row after)
        self.user_scrolled: Callable[[], None] | None = None

    def _by_user(self, move: Callable[[], None]) -> None:
        before = self.cursor_row
        move()
        if self.user_moved is not None:
            self.user_moved(before, self.cursor_row)

    def action_cursor_down(self) -> None:
        self._by_user(super().action_cursor_down)

    def action_cursor_up(self) -> None:
        self._by_user(super().action_cursor_up)

    def action_page_down(self) -> None:
        self._by_user(super().action_page_down)

    def action_page_up(self) -> None:
        self._by_user(super().action_page_up)

    def action_scroll_bottom(self) -> None:
        self._by_user(super().action_scroll_bottom)

    def action_scroll_top(self) -> None:
        self._by_user(super().action_scroll_top)

    def on_mouse_scroll_down(self, _event: events.MouseScrollDown) -> None:
        if self.user_scrolled is not None:
            self.call_next(self.user_scrolled)

    def on_click(self, event: events.Click) -> None:
        # runs before DataTable's own click handler moves the cursor: look once it has
        before = self.cursor_coordinate
        row = event.style.meta.get("row", -1)

        def opened_by_click() -> None:
            moved = self.cursor_coordinate != before and self.cursor_row == row
            if moved and self.user_moved is not None:
                self.user_moved(before.row, self.cursor_row)
            if row >= 0 and moved and self.row_count:
                row_key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
                self.post_message(DataTable.RowSelected(self, self.cursor_row, row_key))

        self.call_next(opened_by_click)


class StatusLine(Static):
    """One line of fields (markup, plain text), most important first: those that fit its
    width are shown whole, the rest left out (never one cut in two), again on each resize."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._fields: list[tuple[str, str]] = []
        self._text = ""

    def show(self, fields: list[tuple[str, str]]) -> None:
        self._fields = fields
        self._draw()

    def _draw(self) -> None:
        width = self.size.width or 10_000  # before the first layout: all of them
        shown: list[str] = []
        used = 0
        for markup, plain in self._fields:
            need = len(plain) + (3 if shown else 0)
            if shown and used + need > width:
                break
            shown.append(markup)
            used += need
        text = " · ".join(shown)
        if text != self._text:  # an unchanged label costs no layout
            self._text = text
            self.update(text)

    def on_resize(self, _event: events.Resize) -> None:
        self._draw()
