"""The invocation log's rows: its columns (and which give way when it is narrow), and each
record drawn as cells. No widget here: the log puts these in its table.
"""

from __future__ import annotations

import time

from rich.text import Text

from ..engine import InvocationRecord

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


# Where the columns shown leave room, the Function column takes up to this much more of it
# ("nightly-report:$LATEST" is 22 of its 18)
FUNCTION_ROOM = 14


def function_width(width: int, columns: tuple[str, ...], padding: int = 1) -> int:
    """The Function column's width in ``width`` cells with ``columns`` shown: its own, and the
    room they leave, up to ``FUNCTION_ROOM`` more."""
    used = sum(w + 2 * padding for _, key, w in COLUMNS if key in columns)
    own = next(w for _, key, w in COLUMNS if key == "function")
    return own + max(0, min(width - used, FUNCTION_ROOM))


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


class TimeCell(Text):
    """The time column's cell; it carries the row's place in the order (newest = largest)
    and its request id, which any other column's sort looks the record up by."""

    __slots__ = ("order", "request_id")

    def __init__(
        self, started_at: float, order: tuple[float, int], style: str = "", request_id: str = ""
    ) -> None:
        clock = time.strftime("%H:%M:%S", time.localtime(started_at))
        super().__init__(f"{clock}.{int(started_at * 1000) % 1000:03d}", style=style, end="")
        self.order = order
        self.request_id = request_id


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
        TimeCell(r.started_at, order, row, r.request_id),
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
