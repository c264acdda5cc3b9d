"""The Sources tab: what can invoke a function besides a person — queues (depth, in flight, the
dead-letter queue's depth), stream mappings (each shard's state and iterator age), schedules
(next fire times), bucket activity, HTTP routes, topics — and the actions on them: send a
message to a queue, purge one, publish to a topic (with a subject and attributes).

Queue counts live in SQLite and change without an engine event (another process may send), so
they are read on a timer, in a thread, and only while the tab is shown. Bucket activity comes in
the bridge's batches (``take``): it is kept in a bounded deque and drawn on the next tick, so a
flood of file events costs one redraw a second. A table is only touched when its rows changed.
The rows themselves are built in ``source_rows.py``; the dialogs in ``dialogs/message.py``
collect what the user wants and this pane asks the engine (SQLite work in a thread).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Label

from ...engine import Engine
from ...engine.model import BucketActivity, ScheduleFired
from ...engine.sources import TopicError, publish_message, topic_subscribers
from ..dialogs.message import ConfirmPurge, MessageDialog
from ..dialogs.topic_publish import Publication, TopicDialog
from .source_rows import (
    EMPTY,
    NEXT_TIMES,
    TABLES,
    TITLES,
    Row,
    activity_rows,
    queue_rows,
    route_rows,
    schedule_rows,
    stream_rows,
)

REFRESH_S = 1.0
ACTIVITY = 20  # bucket events kept on screen


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
            "queue_purge",
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
        for key in ("queues", "streams", "activity", "schedules", "routes"):
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
        self._show("streams", stream_rows(self.engine.sources.stream_statuses()))
        self._show("schedules", schedule_rows(scheduler.upcoming(NEXT_TIMES)) if scheduler else [])
        # replaced on every reload; forced: a URL made through the API shows too
        if force or self.engine.functions is not self._functions:
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

    # ----------------------------------------------------------------- actions

    def action_queue_send(self) -> None:
        """Put a message on a local queue (its name and body asked in a dialog).

        The app's ctrl+n, so it works from any pane; nothing while a dialog is open.
        """
        if not self.screen.is_active:
            return

        async def send(queue: str, body: str) -> str | None:
            store = self.engine.queues
            if store is None:
                return "The queues are not open (the engine is not running)."
            try:
                await asyncio.to_thread(store.send, queue, body)
            except ValueError as e:  # QueueError: unknown queue, empty or oversized body
                return str(e)
            return None

        def sent(queue: str | None) -> None:
            if queue is not None:
                self.notify(f"Sent a message to {queue}.", title="Message sent")
                self.refresh_now()

        # the names now, even if the Sources tab never showed them (one small SQLite read)
        store = self.engine.queues
        known = [q.name for q in store.list()] if store is not None else self.queue_names()
        dialog = MessageDialog("queue", send, known=known, target=self.selected_queue())
        self.app.push_screen(dialog, sent)

    def action_queue_purge(self) -> None:
        """Delete every message of the queue selected in the queues table (asks first)."""
        if not self.screen.is_active:
            return
        queue = self.selected_queue()
        store = self.engine.queues
        if queue is None or store is None:
            self.notify("No queue to purge: select one in the Sources tab.", severity="warning")
            return

        async def purge() -> None:
            try:
                gone = await asyncio.to_thread(store.purge, queue)
            except ValueError as e:
                self.notify(str(e), title="Not purged", severity="error")
                return
            self.notify(f"Purged {queue}: {gone} message{'s' * (gone != 1)} deleted.")
            self.refresh_now()

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(purge(), group="queue-purge", exit_on_error=False)

        self.app.push_screen(ConfirmPurge(queue), answered)

    def action_topic_publish(self) -> None:
        """Publish a message to a topic: every function subscribed to it gets an SNS event.

        The app's ctrl+b, so it works from any pane; nothing while a dialog is open.
        """
        if not self.screen.is_active:
            return

        async def publish(p: Publication) -> str | None:
            # on the loop: it commits each subscriber's event to the async queue, whose
            # connection lives here
            try:
                publish_message(
                    self.engine, p.topic, p.message, subject=p.subject, attributes=p.attributes
                )
            except TopicError as e:  # unknown topic, oversized message and attributes, ...
                return str(e)
            return None

        def published(topic: str | None) -> None:
            if topic is not None:
                self.notify(f"Published to {topic}.", title="Message published")

        # the topics now, even if the Sources tab never showed them (read from the triggers)
        dialog = TopicDialog(publish, known=list(topic_subscribers(self.engine)))
        self.app.push_screen(dialog, published)
