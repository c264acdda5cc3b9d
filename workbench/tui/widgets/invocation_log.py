"""The invocation log: a live, filterable table of invocation records, newest on top.

Only a window of rows is ever on screen: live records are merged in per batch (a few rows
added, the oldest removed, one re-sort), never by rebuilding the table. Changing a filter asks
the engine's store again, in a thread, so older history comes from the store, not the widget;
so does the cursor reaching the last row, a page at a time.

Following: new rows come in on top. Moving the cursor off the top row (or ``f``) pauses, as
``less +F`` and k9s do: the rows stop moving and the status line counts what arrived; back on
the top row (or ``f`` again) it follows again. Any column sorts (``s``, ``S``, a header click);
the status line gives the count and p50/p99 durations of the rows shown.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Input, Select

from ...engine import Engine, InvocationRecord
from ..log_order import Durations, SortOrder
from ..log_query import SEARCH_DEPTH, SPANS, LogFilter, Span, older, search, span_start
from ..log_rows import (
    COLUMNS,
    TimeCell,
    cells,
    fit_columns,
    function_width,
    same,
    time_text,
    trigger_text,
)
from .log_table import LogTable, StatusLine, header_label

__all__ = [
    "COLUMNS",
    "SEARCH_DEPTH",
    "InvocationLog",
    "LogFilter",
    "fit_columns",
    "search",
    "time_text",
    "trigger_text",
]

WINDOW = 300  # rows on screen at most while following; older history stays in the store
PAGE = 300  # rows paged in from the store when the cursor reaches the last one
MAX_ROWS = 5000  # paged in at most: a DataTable of more re-sorts slowly; narrow the filters
TEXT_DEBOUNCE_S = 0.25
MERGE_INTERVAL_S = 0.3  # under a flood, new rows are merged at most this often
ALL = "all"
STATUSES = ("success", "error", "timeout", "crash", "cancelled")


# The find field's hint, the longest that fits its width (whole words: never cut mid-word)
FIND_HINTS = (
    "/ find: request id, function, trigger, error type, log text",
    "/ find: request id, function, log text",
    "/ find: id, function, log text",
    "/ find",
)


class FindInput(Input):
    """The log's find field: its hint shortened to whole words where it is narrow."""

    def on_resize(self, event: events.Resize) -> None:
        room = event.size.width - 1  # (the cursor's cell)
        hint = next((h for h in FIND_HINTS if len(h) <= room), FIND_HINTS[-1])
        if self.placeholder != hint:
            self.placeholder = hint


class InvocationLog(Vertical):
    """Newest invocations first; enter (or a click) on a row opens its record."""

    DEFAULT_CSS = """
    InvocationLog { height: 1fr; }
    InvocationLog #log-filters { height: 1; }
    InvocationLog #log-function { width: 26; margin-right: 1; }
    InvocationLog #log-status { width: 16; margin-right: 1; }
    InvocationLog #log-range { width: 14; margin-right: 1; }
    InvocationLog #log-text { width: 1fr; }
    InvocationLog #log-count { height: 1; width: 1fr; color: $text-muted; }
    InvocationLog #log-table { height: 1fr; }
    """

    BINDINGS = [
        Binding("slash", "focus_text", "Find", id="log-find", tooltip="Filter the log by text"),
        Binding(
            "o",
            "open_record",
            "Open record",
            id="log-open-record",
            show=False,
            tooltip="Open the selected invocation's record: event, response, log, lifecycle "
            "(enter on a row too)",
        ),
        Binding(
            "r",
            "replay",
            "Replay",
            id="log-replay",
            tooltip="Run the selected invocation again: same event, qualifier, client context",
        ),
        Binding(
            "f",
            "toggle_follow",
            "Follow/pause",
            id="log-follow",
            tooltip="Pause the log (rows stop moving; new ones are counted) or follow the newest",
        ),
        Binding(
            "s",
            "cycle_sort",
            "Sort",
            id="log-sort",
            tooltip="Sort by the next column (a header click sorts by it; again flips it)",
        ),
        Binding(
            "S",
            "flip_sort",
            "Reverse sort",
            id="log-sort-reverse",
            show=False,
            tooltip="Reverse the sort direction",
        ),
        Binding(
            "t",
            "cycle_span",
            "Time range",
            id="log-span",
            show=False,
            tooltip="Show the last 5 minutes, the last hour, today, or all",
        ),
    ]

    @dataclass
    class RecordSelected(Message):
        request_id: str
        record: InvocationRecord | None = None  # when the log still has it in memory

    @dataclass
    class ReplayRequested(Message):
        """``r`` on a row: run that invocation again."""

        request_id: str
        record: InvocationRecord | None = None

    def __init__(
        self, engine: Engine | None = None, *, window: int = WINDOW, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.engine = engine
        self.window = window  # rows kept while following
        self.filter = LogFilter()
        self.span: Span = "all"
        self.sort = SortOrder()
        self.records: dict[str, InvocationRecord] = {}  # the rows on screen, by request id
        self._order: list[tuple[tuple[float, int], str]] = []  # (order, request id), oldest first
        self._seq = 0
        self._old_seq = 0  # paged-in rows count down: they go below rows of the same start
        self._slot_of: dict[str, str] = {}  # request id -> the key of the row showing it
        self._in_slot: dict[str, str] = {}  # row key -> request id
        self._slots = 0
        self._generation = 0
        self._pending: list[InvocationRecord] | None = None  # arrived while the store was asked
        self._functions: tuple[str, ...] = ()
        self._debounce: Timer | None = None
        self._incoming: list[InvocationRecord] = []  # matching records not merged yet
        self._merge_timer: Timer | None = None
        self._last_merge = 0.0
        self.searching = False
        self.following = True
        self._held: list[InvocationRecord] = []  # matching records that arrived while paused
        self.held_count = 0  # how many (``_held`` keeps the newest only)
        self._extra = 0  # rows paged in from the store beyond the window
        self.exhausted = True  # the store has no older record for the filter than those shown
        self.loading = False  # a page of older rows is being read
        self.durations = Durations(0, None, None)
        self.columns: tuple[str, ...] = tuple(key for _, key, _ in COLUMNS)  # those shown
        self.function_width = next(w for _, key, w in COLUMNS if key == "function")
        self._shown = list(range(len(COLUMNS)))  # their indexes in a row of cells()

    def compose(self) -> ComposeResult:
        with Horizontal(id="log-filters"):
            yield Select(
                [("all functions", ALL)],
                value=ALL,
                allow_blank=False,
                compact=True,
                id="log-function",
                tooltip="Show one function",
            )
            yield Select(
                [("all statuses", ALL), *((s, s) for s in STATUSES)],
                value=ALL,
                allow_blank=False,
                compact=True,
                id="log-status",
                tooltip="Show one status",
            )
            yield Select(
                SPANS,
                value="all",
                allow_blank=False,
                compact=True,
                id="log-range",
                tooltip="Show a time range (t)",
            )
            yield FindInput(placeholder=FIND_HINTS[0], compact=True, id="log-text")
        yield StatusLine(id="log-count")
        table = LogTable(id="log-table", cursor_type="row")
        table.user_moved = self._user_moved
        table.user_scrolled = self._user_scrolled
        self._add_columns(table)
        yield table

    def _add_columns(self, table: DataTable[object]) -> None:
        for label, key, width in COLUMNS:
            if key in self.columns:
                width = self.function_width if key == "function" else width
                table.add_column(header_label(label, key, width, self.sort), key=key, width=width)

    def on_resize(self, event: events.Resize) -> None:
        """Show the columns that fit (``fit_columns``); the rows are drawn again if that changed."""
        scrollbar = self.table.styles.scrollbar_size_vertical
        width, padding = event.size.width - scrollbar, self.table.cell_padding
        columns = fit_columns(width, padding)
        wide = function_width(width, columns, padding)  # the room they leave
        if columns == self.columns and wide == self.function_width:
            return
        self.columns, self.function_width = columns, wide
        self._shown = [i for i, (_, key, _) in enumerate(COLUMNS) if key in columns]
        if self.sort.column not in columns:  # the sorted column gave way: back to newest first
            self.sort = SortOrder()
        self._rebuild()

    def _rebuild(self) -> None:
        """Draw the columns and rows again, the cursor on the same record."""
        kept = self._cursor_request_id()
        shown = sorted(((o, rid) for o, rid in self._order), reverse=True)
        records = [self.records[rid] for _, rid in shown]
        self.table.clear(columns=True)
        self._add_columns(self.table)
        self._replace(records, keep_window=True)
        if kept is not None and kept in self._slot_of:
            self.table.move_cursor(row=self.table.get_row_index(self._slot_of[kept]))

    def on_mount(self) -> None:
        self._sync_functions()
        self._show_count()

    @property
    def table(self) -> LogTable:
        return self.query_one(LogTable)

    # ----------------------------------------------------------------- live records

    def add_records(self, records: list[InvocationRecord]) -> None:
        """A batch of new records (oldest first): merge the matching ones into the window.

        The first batch after a quiet spell is shown at once; under a flood, batches are
        merged at most every ``MERGE_INTERVAL_S``: redrawing the table's rows costs the same
        for 50 new records as for 150, and the event loop also serves the keyboard. Paused,
        they are only counted (and the newest kept) until the log follows again.
        """
        self._sync_functions()
        if self._pending is not None:  # the store is being asked: merge them with its answer
            self._pending.extend(records)
            del self._pending[: -self.window * 4]
            return
        flt = self.filter
        if not self.following:
            held = [r for r in records if flt.matches(r)]
            if held:
                self._held.extend(held)
                del self._held[: -self.window * 2]
                self.held_count += len(held)
                self._show_count()
            return
        self._incoming.extend(r for r in records if flt.matches(r))
        del self._incoming[: -self.window * 2]  # only the newest can be shown anyway
        if not self._incoming or self._merge_timer is not None:
            return
        wait = self._last_merge + MERGE_INTERVAL_S - time.monotonic()
        if wait <= 0:
            self.flush()
        else:
            self._merge_timer = self.set_timer(wait, self.flush)

    def flush(self) -> None:
        """Merge the records that arrived since the last merge into the table."""
        if self._merge_timer is not None:
            self._merge_timer.stop()
            self._merge_timer = None
        incoming, self._incoming = self._incoming, []
        fresh = [r for r in incoming if r.request_id not in self.records]
        self._last_merge = time.monotonic()
        if fresh:
            self._merge(fresh)
            self._show_count()

    def _next_order(self, r: InvocationRecord, *, older: bool = False) -> tuple[float, int]:
        if older:
            self._old_seq -= 1
            return (r.started_at, self._old_seq)
        self._seq += 1
        return (r.started_at, self._seq)

    def _merge(self, records: Iterable[InvocationRecord], *, older: bool = False) -> None:
        """Show ``records`` too, keeping the newest ``window`` rows (and any paged in); one
        re-sort. ``older``: a page from the store, newest first, all older than the rows shown.

        Rows are slots: a record falling out of the window hands its row to a new one
        (``update_cell``), since ``remove_row`` costs a pass over every row each time.
        """
        table = self.table
        follow = self.following and table.cursor_row <= 0  # stay on the newest
        kept = None if follow or not table.row_count else self._cursor_request_id()
        incoming = {r.request_id: r for r in records}
        arriving = [(self._next_order(r, older=older), rid) for rid, r in incoming.items()]
        everything = sorted(self._order + arriving)
        cut = max(0, len(everything) - self.window - self._extra)
        dropped, self._order = everything[:cut], everything[cut:]
        if dropped:
            self.exhausted = False  # the store has them
        free: list[str] = []
        for _, rid in dropped:
            if incoming.pop(rid, None) is None:  # else: older than the window, never shown
                self.records.pop(rid, None)
                free.append(self._slot_of.pop(rid))
        for order, rid in arriving:
            r = incoming.get(rid)
            if r is None:
                continue
            full = cells(r, order)
            row = tuple(full[i] for i in self._shown)
            if free:
                slot = free.pop()
                for column, value in zip(self.columns, row, strict=True):
                    # under load many cells repeat (function, status, memory, warm): an
                    # update_cell is most of a merge's cost, so skip the ones that match
                    if column == "time" or not same(table.get_cell(slot, column), value):
                        table.update_cell(slot, column, value)
            else:
                self._slots += 1
                slot = f"row-{self._slots}"
                table.add_row(*row, key=slot)
            self.records[rid] = r
            self._slot_of[rid] = slot
            self._in_slot[slot] = rid
        for slot in free:  # the window shrank
            table.remove_row(slot)
            del self._in_slot[slot]
        self.durations = Durations.of(self.records.values())
        self._sort(follow, kept)

    def _sort_key(self, cell: TimeCell) -> tuple[object, ...]:
        return self.sort.key(self.records[cell.request_id], cell.order)

    def _sort(self, follow: bool, kept: str | None) -> None:
        table = self.table
        table.sort("time", key=self._sort_key, reverse=self.sort.descending)
        if follow:
            table.move_cursor(row=0, scroll=False)
        elif kept is not None and kept in self._slot_of:
            table.move_cursor(row=table.get_row_index(self._slot_of[kept]), scroll=False)

    def _cursor_request_id(self) -> str | None:
        table = self.table
        try:
            slot = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - no row under the cursor
            return None
        return self._in_slot.get(str(slot))

    def request_ids(self) -> list[str]:
        """The request ids on screen, top first."""
        return [self._in_slot[str(row.key.value)] for row in self.table.ordered_rows]

    def _replace(self, records: list[InvocationRecord], *, keep_window: bool = False) -> None:
        """Show exactly ``records`` (newest first): after the store answered a new filter
        (the window back to its size), or to draw the same rows again (``keep_window``)."""
        table = self.table
        table.clear()
        self.records.clear()
        self._order.clear()
        self._slot_of.clear()
        self._in_slot.clear()
        unique: dict[str, InvocationRecord] = {}
        for r in records:
            unique.setdefault(r.request_id, r)
        if not keep_window:
            self._extra = 0
        # the store gives newest first: number them oldest first, so ties keep its order
        self._merge(reversed(list(unique.values())))
        table.move_cursor(row=0)
        self._show_count()

    # ----------------------------------------------------------------- follow / pause

    def pause(self) -> None:
        """Rows stop moving; what arrives is counted until ``follow``."""
        if self.following:
            self.following = False
            self._show_count()

    def follow(self) -> None:
        """Back to the newest on top: what arrived while paused is merged, paged rows go."""
        if self.following:
            return
        self.following = True
        held, self._held = self._held, []
        self.held_count = 0
        if self._extra:  # rows paged in: show the newest window again, in one redraw
            newest = [self.records[rid] for _, rid in sorted(self._order, reverse=True)]
            self._replace([*reversed(held), *newest[: self.window]])
            self.exhausted = False
        else:
            self._incoming.extend(held)
            self.flush()
        if self.table.row_count:
            self.table.move_cursor(row=0)
        self._show_count()

    def action_toggle_follow(self) -> None:
        if self.following:
            self.pause()
        else:
            self.follow()

    def _user_moved(self, before: int, after: int) -> None:
        """The user moved the cursor: off the top pauses, back onto it follows, onto the last
        row pages older rows in from the store."""
        if after > 0:
            self.pause()
            if after >= self.table.row_count - 1:
                self.page_older()
        elif before > 0:
            self.follow()

    def _user_scrolled(self) -> None:
        if self.table.scroll_y > 0:  # the wheel moved the rows: keep them where they are
            self.pause()

    # ----------------------------------------------------------------- sorting

    def set_sort(self, order: SortOrder) -> None:
        """Sort the rows shown by ``order``; the headers show it."""
        table = self.table
        if order.column not in self.columns:
            return
        self.sort = order
        for label, key, width in COLUMNS:
            if key in table.columns:
                table.columns[key].label = Text(header_label(label, key, width, order))  # type: ignore[index]
        follow = self.following and table.cursor_row <= 0
        self._sort(follow, None if follow else self._cursor_request_id())

    def action_cycle_sort(self) -> None:
        self.set_sort(self.sort.next_of(self.columns))

    def action_flip_sort(self) -> None:
        self.set_sort(self.sort.flipped())

    @on(DataTable.HeaderSelected, "#log-table")
    def _header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.set_sort(self.sort.by(str(event.column_key.value)))

    # ----------------------------------------------------------------- filters

    def _sync_functions(self) -> None:
        if self.engine is None:
            return
        names = tuple(sorted(self.engine.functions))
        if names == self._functions:
            return
        self._functions = names
        select = self.query_one("#log-function", Select)
        current = self.filter.function
        options = [("all functions", ALL), *((n, n) for n in names)]
        if current is not None and current not in names:
            options.append((current, current))  # keep a filter on a function now gone
        with select.prevent(Select.Changed):
            select.set_options(options)
            select.value = current or ALL

    def _read_filter(self) -> LogFilter:
        function = self.query_one("#log-function", Select).value
        status = self.query_one("#log-status", Select).value
        span = self.query_one("#log-range", Select).value
        span = "all" if span == Select.NULL else span
        # a span starts when it is picked ("last 5 min" from now); other changes keep it
        since = self.filter.since if span == self.span else span_start(span)  # type: ignore[arg-type]
        self.span = span  # type: ignore[assignment]
        return LogFilter(
            function=None if function in (ALL, Select.NULL) else str(function),
            status=None if status in (ALL, Select.NULL) else str(status),
            text=self.query_one("#log-text", Input).value.strip(),
            since=since,
        )

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self._apply_filter()

    @on(Input.Changed, "#log-text")
    def _text_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(TEXT_DEBOUNCE_S, self._apply_filter)

    @on(Input.Submitted, "#log-text")
    def _text_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._debounce is not None:
            self._debounce.stop()
        self._apply_filter()
        self.table.focus()

    def _apply_filter(self) -> None:
        flt = self._read_filter()
        if flt != self.filter:
            self.filter = flt
            self.requery()

    def set_filter(self, flt: LogFilter) -> None:
        """Show ``flt`` in the filter bar and apply it."""
        self.filter = flt
        if flt.function is not None:
            self._functions = ()  # make sure the option exists
            self._sync_functions()
        for selector, value in (("#log-function", flt.function), ("#log-status", flt.status)):
            select = self.query_one(selector, Select)
            with select.prevent(Select.Changed):
                select.value = value or ALL
        if flt.since is None:
            self.span = "all"
            span = self.query_one("#log-range", Select)
            with span.prevent(Select.Changed):
                span.value = "all"
        text = self.query_one("#log-text", Input)
        with text.prevent(Input.Changed):
            text.value = flt.text
        self.requery()

    def action_focus_text(self) -> None:
        self.query_one("#log-text", Input).focus()

    def action_cycle_span(self) -> None:
        """``t``: the next time range (the picker shows it, and the store is asked again)."""
        values = [value for _, value in SPANS]
        at = values.index(self.span) if self.span in values else -1
        self.query_one("#log-range", Select).value = values[(at + 1) % len(values)]

    # ----------------------------------------------------------------- the store

    def requery(self) -> None:
        """Fill the window from the store for the current filter (in a thread), following."""
        if self.engine is None or self.engine.store is None:
            return
        self._generation += 1
        self._pending = []
        self._incoming.clear()  # they are in the store: the query finds them
        self._held.clear()
        self.held_count = 0
        self.following = True
        self.loading = False
        if self._merge_timer is not None:
            self._merge_timer.stop()
            self._merge_timer = None
        self.searching = True
        self._show_count()
        self.run_worker(
            self._query(self._generation, self.filter),
            group="log-query",
            exclusive=True,
            exit_on_error=False,
        )

    async def _query(self, generation: int, flt: LogFilter) -> None:
        store = self.engine.store if self.engine is not None else None
        if store is None:
            return
        try:
            found = await asyncio.to_thread(search, store, flt, self.window)
        except Exception as e:  # noqa: BLE001 - the store closed under us (quitting)
            if generation == self._generation:
                self._pending = None
                self.searching = False
                self.notify(f"Could not read the history: {e}", severity="error")
            return
        if generation != self._generation:
            return  # a newer filter was asked for meanwhile
        pending = [r for r in self._pending or () if flt.matches(r)]
        self._pending = None
        self.searching = False
        self.exhausted = len(found) < self.window
        self._replace([*reversed(pending), *found])

    def page_older(self) -> None:
        """The next ``PAGE`` older rows from the store, below the last one (in a thread)."""
        store = self.engine.store if self.engine is not None else None
        if store is None or self.loading or self.searching or self.exhausted:
            return
        if len(self.records) >= MAX_ROWS:
            return
        self.loading = True
        self._show_count()
        shown = list(self.records.values())
        self.run_worker(
            self._page(self._generation, self.filter, shown),
            group="log-page",
            exclusive=True,
            exit_on_error=False,
        )

    async def _page(self, generation: int, flt: LogFilter, shown: list[InvocationRecord]) -> None:
        store = self.engine.store if self.engine is not None else None
        want = min(PAGE, MAX_ROWS - len(shown))
        try:
            found = await asyncio.to_thread(older, store, flt, shown, want)
        except Exception as e:  # noqa: BLE001 - the store closed under us (quitting)
            if generation == self._generation:
                self.loading = False
                self.notify(f"Could not read older history: {e}", severity="error")
            return
        if generation != self._generation:
            return  # a new filter was asked for meanwhile
        self.loading = False
        if self.following:  # following again meanwhile: these rows would be dropped at once
            self._show_count()
            return
        self.exhausted = len(found) < want
        fresh = [r for r in found if r.request_id not in self.records]
        if fresh:
            self._extra += len(fresh)
            self._merge(fresh, older=True)
        self._show_count()

    # ----------------------------------------------------------------- the status line

    def _status_fields(self) -> list[tuple[str, str]]:
        """The status line's fields, most important first, as (markup, plain text)."""
        fields: list[tuple[str, str]] = []
        if not self.following:
            new = f", {self.held_count} new" if self.held_count else ""
            fields.append((f"[b $warning]paused{new}[/]", f"paused{new}"))
            fields.append(("f follows", "f follows"))
        if self.searching:
            fields.append(("searching…", "searching…"))
            return fields
        n = len(self.records)
        rows = f"{n} row{'s' if n != 1 else ''}"
        if not self.exhausted and n:
            rows += f" (newest {n})"
        fields.append((rows, rows))
        d = self.durations
        if d.p50 is not None and d.p99 is not None:
            for name, value in (("p50", d.p50), ("p99", d.p99)):
                text = f"{name} {time_text(value)}"
                fields.append((text, text))
        if self.loading:
            fields.append(("loading older…", "loading older…"))
        elif not self.exhausted and not self.following and n >= MAX_ROWS:
            text = f"{MAX_ROWS} rows at most: narrow the filters"
            fields.append((text, text))
        return fields

    def _show_count(self) -> None:
        self.query_one(StatusLine).show(self._status_fields())

    # ----------------------------------------------------------------- selection

    def action_replay(self) -> None:
        request_id = self._cursor_request_id() if self.table.row_count else None
        if request_id is None:
            self.notify("No invocation to replay: the log is empty.", severity="warning")
            return
        self.post_message(self.ReplayRequested(request_id, self.records.get(request_id)))

    def action_open_record(self) -> None:
        """The selected row's full record (as enter or a click on it opens it)."""
        request_id = self._cursor_request_id() if self.table.row_count else None
        if request_id is None:
            self.notify("No invocation to open: the log is empty.", severity="warning")
            return
        self.post_message(self.RecordSelected(request_id, self.records.get(request_id)))

    @on(DataTable.RowSelected, "#log-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        request_id = self._in_slot.get(str(event.row_key.value))
        if request_id is not None:
            self.post_message(self.RecordSelected(request_id, self.records.get(request_id)))
