"""The invocation log: a live, filterable table of invocation records, newest on top.

Only a window of rows is ever on screen: live records are merged in per batch (a few rows
added, the oldest removed, one re-sort), never by rebuilding the table. Changing a filter asks
the engine's store again, in a thread, so older history comes from the store, not the widget.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Input, Select, Static

from ...engine import Engine, InvocationRecord

WINDOW = 300  # rows on screen at most; older history stays in the store
SEARCH_DEPTH = 50_000  # how far back a text filter looks in the store
TEXT_DEBOUNCE_S = 0.25
MERGE_INTERVAL_S = 0.3  # under a flood, new rows are merged at most this often
ALL = "all"
STATUSES = ("success", "error", "timeout", "crash", "cancelled")
STATUS_STYLES = {
    "success": "green",
    "error": "red",
    "timeout": "yellow",
    "crash": "bold red",
    "cancelled": "magenta",
}
# failed rows: all cells
ROW_STYLES = {"error": "red", "timeout": "yellow", "crash": "red", "cancelled": "magenta"}
TRIGGER_WIDTH = 14
# Fixed widths, which fit a 160-column terminal beside the gauge: measuring every cell of a
# column each batch would cost more than the rows.
COLUMNS = (
    ("Time", "time", 12),
    ("Function", "function", 18),
    ("Trigger", "trigger", TRIGGER_WIDTH),
    ("Request", "request", 8),
    ("Status", "status", 9),  # cancelled
    ("Duration", "duration", 10),  # 9999.99 ms, then seconds (time_text)
    ("Billed", "billed", 7),
    ("Max mem", "memory", 7),
    ("Start", "start", 5),
    ("Cost", "cost", 12),
)
# When the log is too narrow for every column, these give way first (last in this order goes
# first): the Function column is the last to go, after the time, before the status.
KEEP_ORDER = (
    "time",
    "function",
    "status",
    "duration",
    "trigger",
    "request",
    "billed",
    "memory",
    "start",
    "cost",
)


def fit_columns(width: int, padding: int = 1) -> tuple[str, ...]:
    """The columns (keys, in table order) that fit ``width`` cells, by ``KEEP_ORDER``.

    A column cut at the edge reads as another word ("Durati"); one left out does not, and
    the record (enter) has every field. Zoomed (ctrl+g), the log is wide enough for all.
    """
    widths = {key: w + 2 * padding for _, key, w in COLUMNS}
    kept: set[str] = set()
    used = 0
    for key in KEEP_ORDER:
        if used + widths[key] > width and kept:
            break
        kept.add(key)
        used += widths[key]
    return tuple(key for _, key, _ in COLUMNS if key in kept)


@dataclass(frozen=True)
class LogFilter:
    """Which records the log shows: one function, one status, and text to find."""

    function: str | None = None
    status: str | None = None
    text: str = ""

    def matches(self, r: InvocationRecord) -> bool:
        if self.function is not None and r.function != self.function:
            return False
        if self.status is not None and r.status != self.status:
            return False
        if not self.text:
            return True
        needle = self.text.lower()
        return any(needle in hay.lower() for hay in searchable(r))


def searchable(r: InvocationRecord) -> Iterator[str]:
    """What the text filter looks at: request id, function, trigger, error type, the log text."""
    yield r.request_id
    yield f"{r.function}:{r.version}"
    if r.trigger:
        yield r.trigger
    if r.error_type:
        yield r.error_type
    yield from r.log_lines


def search(store: object, flt: LogFilter, want: int, depth: int = SEARCH_DEPTH) -> list:
    """The newest ``want`` stored records that pass ``flt`` (newest first). Blocking: SQLite.

    The store filters function and status itself; text is matched here, over a window of the
    newest records that grows until enough match or ``depth`` records were looked at.
    """
    recent = store.recent  # type: ignore[attr-defined]
    if not flt.text:
        return recent(flt.function, want, status=flt.status)
    limit = min(max(want * 4, 1000), depth)
    while True:
        rows = recent(flt.function, limit, status=flt.status)
        hits = [r for r in rows if flt.matches(r)]
        if len(hits) >= want or len(rows) < limit or limit >= depth:
            return hits[:want]
        limit = min(limit * 8, depth)


class TimeCell(Text):
    """The time column's cell; it carries the row's place in the order (newest = largest)."""

    __slots__ = ("order",)

    def __init__(self, started_at: float, order: tuple[float, int], style: str = "") -> None:
        clock = time.strftime("%H:%M:%S", time.localtime(started_at))
        super().__init__(f"{clock}.{int(started_at * 1000) % 1000:03d}", style=style, end="")
        self.order = order


def trigger_text(r: InvocationRecord, width: int = TRIGGER_WIDTH) -> str:
    """Who invoked it ("s3:uploads"); an Event invocation's retry adds its attempt ("↻2").

    A long source is cut in the middle of the name, so the attempt stays in view.
    """
    source = r.trigger or "—"
    retry = f" ↻{r.attempt}" if r.invocation_type == "Event" and r.attempt > 1 else ""
    if len(source) + len(retry) > width:
        source = source[: max(1, width - len(retry) - 1)] + "…"
    return source + retry


def time_text(ms: float, *, whole: bool = False) -> str:
    """A duration for its narrow column: ``137.42 ms`` (``1061 ms`` ``whole``); from 10 s on in
    seconds (``12.35 s``; ``12.3 s`` ``whole``; ``900.0 s``), which the record screen shows to
    the ms."""
    shown = round(ms) if whole else round(ms, 2)
    if shown < 10_000:
        return f"{shown:.0f} ms" if whole else f"{shown:.2f} ms"
    seconds = ms / 1000
    return f"{seconds:.1f} s" if whole or shown >= 100_000 else f"{seconds:.2f} s"


def cells(r: InvocationRecord, order: tuple[float, int]) -> tuple[object, ...]:
    row = ROW_STYLES.get(r.status, "")

    def cell(value: str, style: str = "") -> Text:
        # cut at the column's edge with an ellipsis, never mid-word without one
        return Text(value, style=style or row, end="", no_wrap=True, overflow="ellipsis")

    return (
        TimeCell(r.started_at, order, row),
        cell(f"{r.function}:{r.version}"),
        cell(trigger_text(r), row or ("dim" if r.trigger is None else "")),
        cell(r.request_id[:8]),
        cell(r.status, "bold " + STATUS_STYLES.get(r.status, "")),
        cell(time_text(r.duration_ms)),
        cell(time_text(r.billed_ms, whole=True)),
        cell(f"{r.max_memory_mb} MB"),
        cell("cold", row or "cyan") if r.cold else cell("warm"),
        cell(f"${r.cost:.9f}"),
    )


def same(a: object, b: object) -> bool:
    """Two cells that draw the same (Rich's ``Text ==`` ignores the base style)."""
    if isinstance(a, Text) and isinstance(b, Text):
        return a.plain == b.plain and a.style == b.style and a.spans == b.spans
    return a == b


class LogTable(DataTable[object]):
    """A DataTable where one click on a row opens it (DataTable's own needs two)."""

    def on_click(self, event: events.Click) -> None:
        # runs before DataTable's own click handler moves the cursor: look once it has
        before = self.cursor_coordinate
        row = event.style.meta.get("row", -1)

        def opened_by_click() -> None:
            moved = self.cursor_coordinate != before and self.cursor_row == row
            if row >= 0 and moved and self.row_count:
                row_key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
                self.post_message(DataTable.RowSelected(self, self.cursor_row, row_key))

        self.call_next(opened_by_click)


class InvocationLog(Vertical):
    """Newest invocations first; enter (or a click) on a row opens its record."""

    DEFAULT_CSS = """
    InvocationLog { height: 1fr; }
    InvocationLog #log-filters { height: 1; margin-bottom: 1; }
    InvocationLog #log-function { width: 26; margin-right: 1; }
    InvocationLog #log-status { width: 16; margin-right: 1; }
    InvocationLog #log-text { width: 1fr; margin-right: 1; }
    InvocationLog #log-count { width: auto; color: $text-muted; }
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
        self.window = window
        self.filter = LogFilter()
        self.records: dict[str, InvocationRecord] = {}  # the rows on screen, by request id
        self._order: list[tuple[tuple[float, int], str]] = []  # (order, request id), oldest first
        self._seq = 0
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
        self._count_text = ""
        self.searching = False
        self.columns: tuple[str, ...] = tuple(key for _, key, _ in COLUMNS)  # those shown
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
            yield Input(
                placeholder="/ find: request id, function, trigger, error type, log text",
                compact=True,
                id="log-text",
            )
            yield Static(id="log-count")
        table = LogTable(id="log-table", cursor_type="row")
        self._add_columns(table)
        yield table

    def _add_columns(self, table: DataTable[object]) -> None:
        for label, key, width in COLUMNS:
            if key in self.columns:
                table.add_column(label, key=key, width=width)

    def on_resize(self, event: events.Resize) -> None:
        """Show the columns that fit (``fit_columns``); the rows are drawn again if that changed."""
        scrollbar = self.table.styles.scrollbar_size_vertical
        columns = fit_columns(event.size.width - scrollbar, self.table.cell_padding)
        if columns == self.columns:
            return
        self.columns = columns
        self._shown = [i for i, (_, key, _) in enumerate(COLUMNS) if key in columns]
        kept = self._cursor_request_id()
        shown = sorted(((o, rid) for o, rid in self._order), reverse=True)
        records = [self.records[rid] for _, rid in shown]
        self.table.clear(columns=True)
        self._add_columns(self.table)
        self._replace(records)
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
        for 50 new records as for 150, and the event loop also serves the keyboard.
        """
        self._sync_functions()
        if self._pending is not None:  # the store is being asked: merge them with its answer
            self._pending.extend(records)
            del self._pending[: -self.window * 4]
            return
        flt = self.filter
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

    def _next_order(self, r: InvocationRecord) -> tuple[float, int]:
        self._seq += 1
        return (r.started_at, self._seq)

    def _merge(self, records: Iterable[InvocationRecord]) -> None:
        """Show ``records`` too, keeping the newest ``window`` rows; one re-sort.

        Rows are slots: a record falling out of the window hands its row to a new one
        (``update_cell``), since ``remove_row`` costs a pass over every row each time.
        """
        table = self.table
        follow = table.cursor_row <= 0  # at the top: stay on the newest
        kept = None if follow or not table.row_count else self._cursor_request_id()
        incoming = {r.request_id: r for r in records}
        arriving = [(self._next_order(r), rid) for rid, r in incoming.items()]
        everything = sorted(self._order + arriving)
        cut = max(0, len(everything) - self.window)
        dropped, self._order = everything[:cut], everything[cut:]
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
        table.sort("time", key=lambda cell: cell.order, reverse=True)
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
        """The request ids on screen, top (newest) first."""
        return [self._in_slot[str(row.key.value)] for row in self.table.ordered_rows]

    def _replace(self, records: list[InvocationRecord]) -> None:
        """Show exactly ``records`` (newest first): after the store answered a new filter."""
        table = self.table
        table.clear()
        self.records.clear()
        self._order.clear()
        self._slot_of.clear()
        self._in_slot.clear()
        unique: dict[str, InvocationRecord] = {}
        for r in records:
            unique.setdefault(r.request_id, r)
        # the store gives newest first: number them oldest first, so ties keep its order
        self._merge(reversed(list(unique.values())))
        table.move_cursor(row=0)
        self._show_count()

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
        return LogFilter(
            function=None if function in (ALL, Select.NULL) else str(function),
            status=None if status in (ALL, Select.NULL) else str(status),
            text=self.query_one("#log-text", Input).value.strip(),
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
        text = self.query_one("#log-text", Input)
        with text.prevent(Input.Changed):
            text.value = flt.text
        self.requery()

    def action_focus_text(self) -> None:
        self.query_one("#log-text", Input).focus()

    # ----------------------------------------------------------------- the store

    def requery(self) -> None:
        """Fill the window from the store for the current filter (in a thread)."""
        if self.engine is None or self.engine.store is None:
            return
        self._generation += 1
        self._pending = []
        self._incoming.clear()  # they are in the store: the query finds them
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
        self._replace([*reversed(pending), *found])

    def _show_count(self) -> None:
        if self.searching:
            text = "searching…"
        else:
            n = len(self.records)
            text = f"{n} row{'s' if n != 1 else ''}"
            if n >= self.window:
                text += f" (newest {self.window})"
        if text != self._count_text:  # an unchanged label costs no layout
            self._count_text = text
            self.query_one("#log-count", Static).update(text)

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
