"""The Sources tab: what can invoke a function besides a person — queues (depth, in flight, the
dead-letter queue's depth), schedules (next fire times), bucket activity, HTTP routes, topics.

Queue counts live in SQLite and change without an engine event (another process may send), so
they are read on a timer, in a thread, and only while the tab is shown. Bucket activity comes in
the bridge's batches (``take``): it is kept in a bounded deque and drawn on the next tick, so a
flood of file events costs one redraw a second. A table is only touched when its rows changed.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Label

from ...engine import Engine
from ...engine.config import HttpTrigger, triggers_of
from ...engine.model import BucketActivity, ScheduleFired
from ...engine.sources import topic_subscribers

REFRESH_S = 1.0
ACTIVITY = 20  # bucket events kept on screen
NEXT_TIMES = 2  # fire times shown per schedule

Row = tuple[object, ...]


def clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t))


def when(t: float) -> str:
    """A fire time: the clock, with the date when it is not today."""
    if time.strftime("%Y%m%d", time.localtime(t)) == time.strftime("%Y%m%d"):
        return clock(t)
    return time.strftime("%m-%d %H:%M", time.localtime(t))


def size_text(size: int | None) -> str:
    if size is None:
        return "—"
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)


def queue_rows(infos: Iterable[object]) -> list[Row]:
    """One row per queue: visible, in flight, delayed, its dead-letter queue and that depth."""
    rows: list[Row] = []
    for q in infos:
        dlq = q.dead_letter_queue  # type: ignore[attr-defined]
        dlq_depth = q.dead_letter_depth  # type: ignore[attr-defined]
        rows.append(
            (
                q.name,  # type: ignore[attr-defined]
                str(q.depth),  # type: ignore[attr-defined]
                str(q.in_flight),  # type: ignore[attr-defined]
                str(q.delayed),  # type: ignore[attr-defined]
                dlq or "—",
                Text(str(dlq_depth), style="bold red" if dlq_depth else "")
                if dlq_depth is not None
                else "—",
            )
        )
    return rows


def schedule_rows(infos: Iterable[object]) -> list[Row]:
    rows: list[Row] = []
    for s in infos:
        times = s.next_times  # type: ignore[attr-defined]
        if not s.enabled:  # type: ignore[attr-defined]
            upcoming = Text("disabled", style="dim")
        elif not times:
            upcoming = Text("never again", style="dim")
        else:
            upcoming = Text(", ".join(when(t) for t in times[:NEXT_TIMES]))
        last = s.last_fired_at  # type: ignore[attr-defined]
        rows.append(
            (
                s.function,  # type: ignore[attr-defined]
                s.rule,  # type: ignore[attr-defined]
                s.expression,  # type: ignore[attr-defined]
                upcoming,
                clock(last) if last else "—",
            )
        )
    return rows


def activity_rows(events: Sequence[BucketActivity]) -> list[Row]:
    """Newest first; an event no filter matched shows no function, dimmed."""
    rows: list[Row] = []
    for e in reversed(events):
        style = "" if e.functions else "dim"
        kind = e.event_name.split(":")[0].removeprefix("Object")
        rows.append(
            (
                Text(clock(e.at), style=style),
                Text(e.bucket, style=style),
                Text(kind, style="green" if kind == "Created" and style == "" else style or "red"),
                Text(e.key, style=style),
                Text(size_text(e.size), style=style),
                Text(", ".join(e.functions) or "no trigger matched", style=style),
            )
        )
    return rows


def route_rows(engine: Engine) -> list[Row]:
    """HTTP routes and topic subscriptions, from the functions' triggers."""
    rows: list[Row] = []
    for name, fn in sorted(engine.functions.items()):
        for t in triggers_of(fn):
            if t.enabled and isinstance(t, HttpTrigger):
                rows.append(("route", t.route_key, name))
    for topic, subscribers in sorted(topic_subscribers(engine).items()):
        names = [f if on else f"{f} (disabled)" for f, on in sorted(subscribers.items())]
        rows.append(("topic", topic, ", ".join(names)))
    return rows


TABLES: dict[str, tuple[tuple[str, int | None], ...]] = {
    "queues": (
        ("Queue", 24),
        ("Visible", 7),
        ("In flight", 9),
        ("Delayed", 7),
        ("Dead-letter queue", 24),
        ("DLQ depth", 9),
    ),
    "activity": (
        ("Time", 8),
        ("Bucket", 16),
        ("Event", 7),
        ("Key", 36),
        ("Size", 9),
        ("Functions", 24),
    ),
    "schedules": (
        ("Function", 20),
        ("Rule", 20),
        ("Expression", 24),
        ("Next", 26),
        ("Last fired", 10),
    ),
    "routes": (("Kind", 5), ("Route / topic", 36), ("Function(s)", 40)),
}
TITLES = {
    "queues": "Queues",
    "schedules": "Schedules",
    "activity": "Bucket activity",
    "routes": "HTTP routes and topics",
}
EMPTY = {
    "queues": "no queues yet: ctrl+n sends to one; a queue trigger creates its queue",
    "schedules": "no schedule triggers",
    "activity": "no bucket activity yet: write a file under <root>/buckets/<name>/",
    "routes": "no http or sns triggers",
}


class SourcesPane(VerticalScroll):
    """One section a source, full width (their columns fit 120 columns): queues first."""

    DEFAULT_CSS = """
    SourcesPane { height: 1fr; }
    SourcesPane .sources-title { text-style: bold; color: $primary; height: 1; margin-top: 1; }
    SourcesPane #sources-queues-title { margin-top: 0; }
    SourcesPane .sources-empty { color: $text-muted; height: 1; }
    SourcesPane DataTable { height: auto; max-height: 8; }
    SourcesPane .hidden { display: none; }
    """

    BINDINGS = [
        Binding(
            "x",
            "app.queue_purge",
            "Purge queue",
            id="sources-purge",
            tooltip="Delete every message of the selected queue (asks first)",
        ),
    ]

    @dataclass
    class QueuesRead(Message):
        rows: list[Row]

    def __init__(self, engine: Engine, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.engine = engine
        self.activity: deque[BucketActivity] = deque(maxlen=ACTIVITY)
        self._shown: dict[str, list[Row]] = {}
        self._dirty = True
        self._functions: object = None  # the engine's functions dict the routes came from
        self._reading = False

    def compose(self) -> ComposeResult:
        for key in ("queues", "activity", "schedules", "routes"):
            yield from self._section(key)

    def _section(self, key: str) -> ComposeResult:
        yield Label(TITLES[key], classes="sources-title", id=f"sources-{key}-title")
        yield Label(EMPTY[key], classes="sources-empty", id=f"sources-{key}-empty")
        table: DataTable[object] = DataTable(
            id=f"sources-{key}", cursor_type="row", classes="hidden", zebra_stripes=False
        )
        for label, width in TABLES[key]:
            table.add_column(label, key=label, width=width)
        yield table

    def on_mount(self) -> None:
        self.set_interval(REFRESH_S, self.tick)
        self.tick()

    # ----------------------------------------------------------------- engine events

    def take(self, events: Iterable[object]) -> None:
        """The bridge's batch: keep the bucket events; a fired schedule moves its next time."""
        for e in events:
            if isinstance(e, BucketActivity):
                self.activity.append(e)
                self._dirty = True
            elif isinstance(e, ScheduleFired):
                self._dirty = True

    # ----------------------------------------------------------------- refresh

    def tick(self, force: bool = False) -> None:
        """Redraw what changed; read the queue counts (in a thread) while the tab is shown."""
        if not force and not self.display_visible():
            return
        if self._dirty or force:
            self._dirty = False
            self._show("activity", activity_rows(self.activity))
        scheduler = self.engine.scheduler
        self._show("schedules", schedule_rows(scheduler.upcoming(NEXT_TIMES)) if scheduler else [])
        if self.engine.functions is not self._functions:  # replaced on every reload
            self._functions = self.engine.functions
            self._show("routes", route_rows(self.engine))
        if self.engine.queues is not None and not self._reading:
            self._reading = True
            self.run_worker(self._read_queues(), group="sources-queues", exit_on_error=False)

    def display_visible(self) -> bool:
        """Shown now (its tab is the active one and no other screen is on top)."""
        return self.is_mounted and self.screen.is_current and self.region.area > 0

    async def _read_queues(self) -> None:
        store = self.engine.queues
        try:
            infos = await asyncio.to_thread(store.list) if store is not None else []
        except Exception:  # noqa: BLE001 - the store closed under us (quitting)
            return
        finally:
            self._reading = False
        self.post_message(self.QueuesRead(queue_rows(infos)))

    def on_sources_pane_queues_read(self, message: SourcesPane.QueuesRead) -> None:
        message.stop()
        self._show("queues", message.rows)

    def refresh_now(self) -> None:
        """Read and draw everything at once (after an action changed a queue)."""
        self.tick(force=True)

    def _show(self, key: str, rows: list[Row]) -> None:
        if self._shown.get(key) == rows and key in self._shown:
            return
        self._shown[key] = rows
        table = self.query_one(f"#sources-{key}", DataTable)
        cursor = table.cursor_row
        table.clear()
        for row in rows:
            table.add_row(*row)
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1), scroll=False)
        table.set_class(not rows, "hidden")
        self.query_one(f"#sources-{key}-empty").set_class(bool(rows), "hidden")

    # ----------------------------------------------------------------- for actions

    def selected_queue(self) -> str | None:
        """The queue under the cursor of the queues table, if it has rows."""
        rows = self._shown.get("queues") or []
        if not rows:
            return None
        row = self.query_one("#sources-queues", DataTable).cursor_row
        return str(rows[min(max(row, 0), len(rows) - 1)][0])

    def queue_names(self) -> list[str]:
        return [str(r[0]) for r in self._shown.get("queues") or []]

    def topic_names(self) -> list[str]:
        return [str(r[1]) for r in self._shown.get("routes") or [] if r[0] == "topic"]
